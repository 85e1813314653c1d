import { useEffect, useRef } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useMutation } from "@apollo/client/react";
import { graphql } from "../../gql";
import type { AuthProvider } from "../../gql/graphql";
import { session } from "../../apollo";
import { useT } from "../../i18n";
import { ErrorText } from "../../components/ErrorText";

const CompleteOAuth = graphql(`
  mutation CompleteOAuth($provider: AuthProvider!, $code: String!, $state: String!) {
    completeOAuth(provider: $provider, code: $code, state: $state) { ...AuthPayloadFields }
  }
`);

/** The provider sends the browser back here with code and state. */
export function OAuthCallback() {
  const t = useT();
  const { provider = "" } = useParams();
  const [params] = useSearchParams();
  const [complete, { error }] = useMutation(CompleteOAuth);
  const once = useRef(false);
  const code = params.get("code");
  const state = params.get("state");
  useEffect(() => {
    if (once.current || !code || !state) return;
    once.current = true; // a state is good once
    void complete({ variables: { provider: provider.toUpperCase() as AuthProvider, code, state } })
      .then((r) => {
        if (r.data) {
          session.set(r.data.completeOAuth);
        }
      })
      .catch(() => {});
  }, [complete, provider, code, state]);
  const failed = error || !code || !state || params.get("error");
  return (
    <main className="auth">
      {failed ? (
        <>
          <p role="alert">{t.oauthFailed}</p>
          <ErrorText error={error} />
          <Link to="/signin">{t.backToSignIn}</Link>
        </>
      ) : (
        <p role="status">{t.signingIn}</p>
      )}
    </main>
  );
}
