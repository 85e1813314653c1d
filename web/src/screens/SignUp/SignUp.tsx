import { useState } from "react";
import { Link } from "react-router";
import { useMutation } from "@apollo/client/react";
import { graphql } from "../../gql";
import { session } from "../../apollo";
import { useT } from "../../i18n";
import { ErrorText } from "../../components/ErrorText";
import { LanguageSwitch } from "../../components/LanguageSwitch";

const SignUpMutation = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) { ...AuthPayloadFields }
  }
`);

export function SignUp() {
  const t = useT();
  const [form, setForm] = useState({ email: "", password: "", nickname: "" });
  const [signUp, { loading, error }] = useMutation(SignUpMutation);
  const field = (k: keyof typeof form) => ({
    value: form[k],
    onChange: (e: React.ChangeEvent<HTMLInputElement>) => setForm({ ...form, [k]: e.target.value }),
  });
  return (
    <main className="auth">
      <LanguageSwitch />
      <h1>{t.appName}</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void signUp({ variables: { input: form } })
            .then((r) => r.data && session.set(r.data.signUp))
            .catch(() => {});
        }}
      >
        <h2>{t.signUp}</h2>
        <label>
          {t.email}
          <input type="email" autoComplete="email" required {...field("email")} />
        </label>
        <label>
          {t.nickname}
          <input autoComplete="nickname" required {...field("nickname")} />
        </label>
        <label>
          {t.password}
          <input type="password" autoComplete="new-password" required {...field("password")} />
        </label>
        <ErrorText error={error} />
        <button type="submit" disabled={loading}>
          {t.signUp}
        </button>
      </form>
      <p>
        {t.haveAccount} <Link to="/signin">{t.signIn}</Link>
      </p>
    </main>
  );
}
