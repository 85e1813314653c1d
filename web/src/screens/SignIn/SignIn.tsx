import { useState } from "react";
import { Link } from "react-router";
import { useMutation, useQuery } from "@apollo/client/react";
import { graphql } from "../../gql";
import type { AuthProvider } from "../../gql/graphql";
import { session } from "../../apollo";
import { useT } from "../../i18n";
import { ErrorText } from "../../components/ErrorText";
import { LanguageSwitch } from "../../components/LanguageSwitch";

export const AuthPayloadFragmentDoc = graphql(`
  fragment AuthPayloadFields on AuthPayload {
    accessToken
    accessTokenExpiresAt
    refreshToken
    user { id }
  }
`);

const Providers = graphql(`
  query AuthProviders {
    authProviders
  }
`);
const SignInMutation = graphql(`
  mutation SignIn($input: SignInInput!) {
    signIn(input: $input) { ...AuthPayloadFields }
  }
`);
const StartOAuth = graphql(`
  mutation StartOAuth($provider: AuthProvider!, $redirectURI: String!) {
    startOAuth(provider: $provider, redirectURI: $redirectURI) { authorizationURL state }
  }
`);

/** Where a provider sends the browser back: the callback route of this app. */
export const oauthRedirect = (p: AuthProvider) => new URL(`/app/oauth/${p.toLowerCase()}`, location.href).href;

export function SignIn() {
  const t = useT();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const providers = useQuery(Providers);
  const [signIn, { loading, error }] = useMutation(SignInMutation);
  const [start, started] = useMutation(StartOAuth);
  return (
    <main className="auth">
      <LanguageSwitch />
      <h1>{t.appName}</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void signIn({ variables: { input: { email, password } } })
            .then((r) => r.data && session.set(r.data.signIn))
            .catch(() => {});
        }}
      >
        <h2>{t.signIn}</h2>
        <label>
          {t.email}
          <input type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          {t.password}
          <input
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <ErrorText error={error} />
        <button type="submit" disabled={loading}>
          {t.signIn}
        </button>
      </form>
      {(providers.data?.authProviders.length ?? 0) > 0 && (
        <div className="providers" role="group" aria-label={t.orWith}>
          <p>{t.orWith}</p>
          {providers.data!.authProviders.map((p) => (
            <button
              key={p}
              type="button"
              className={`provider ${p.toLowerCase()}`}
              disabled={started.loading}
              onClick={() =>
                void start({ variables: { provider: p, redirectURI: oauthRedirect(p) } })
                  .then((r) => r.data && location.assign(r.data.startOAuth.authorizationURL))
                  .catch(() => {})
              }
            >
              {t[p]}
            </button>
          ))}
          <ErrorText error={started.error} />
        </div>
      )}
      <p>
        {t.noAccount} <Link to="/signup">{t.signUp}</Link>
      </p>
    </main>
  );
}
