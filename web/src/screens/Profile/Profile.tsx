import { useEffect, useState } from "react";
import { useMutation, useQuery } from "@apollo/client/react";
import { graphql } from "../../gql";
import { session } from "../../apollo";
import { useT } from "../../i18n";
import { Avatar } from "../../components/Avatar";
import { ErrorText } from "../../components/ErrorText";
import { LanguageSwitch } from "../../components/LanguageSwitch";

const ProfileQuery = graphql(`
  query ProfileScreen {
    viewer { ...UserAvatar email bio }
  }
`);
const UpdateProfile = graphql(`
  mutation UpdateProfile($input: UpdateProfileInput!) {
    updateProfile(input: $input) { ...UserAvatar bio }
  }
`);
const UploadAvatar = graphql(`
  mutation UploadAvatar($file: Upload!) {
    uploadAvatar(file: $file) { id avatarURL }
  }
`);
const SignOut = graphql(`mutation SignOut($t: String!) { signOut(refreshToken: $t) }`);
const DeleteAccount = graphql(`mutation DeleteAccount($password: String) { deleteAccount(password: $password) }`);

export function Profile() {
  const t = useT();
  const { data, error } = useQuery(ProfileQuery);
  const me = data?.viewer;
  const [nickname, setNickname] = useState("");
  const [bio, setBio] = useState("");
  useEffect(() => {
    if (me) {
      setNickname(me.nickname);
      setBio(me.bio ?? "");
    }
  }, [me?.id]); // eslint-disable-line react-hooks/exhaustive-deps
  const [update, updated] = useMutation(UpdateProfile);
  const [pw, setPw] = useState({ current: "", next: "" });
  const [changePw, changed] = useMutation(UpdateProfile);
  const [uploadAvatar, avatar] = useMutation(UploadAvatar);
  const [signOut] = useMutation(SignOut);
  const [deleteAccount, deleted] = useMutation(DeleteAccount);
  const [delPw, setDelPw] = useState("");

  if (!me) return <ErrorText error={error} />;
  return (
    <section aria-labelledby="profile-title" className="profile">
      <header className="screen-head">
        <h1 id="profile-title">{t.profile}</h1>
      </header>
      <div className="avatar-edit">
        <Avatar user={me} size={80} />
        <label className="button">
          {t.changeAvatar}
          <input
            type="file"
            accept="image/*"
            className="sr-only"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void uploadAvatar({ variables: { file: f } }).catch(() => {});
              e.target.value = "";
            }}
          />
        </label>
        <ErrorText error={avatar.error} />
      </div>
      <p>{me.email}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void update({ variables: { input: { nickname, bio } } }).catch(() => {});
        }}
      >
        <label>
          {t.nickname}
          <input required value={nickname} onChange={(e) => setNickname(e.target.value)} />
        </label>
        <label>
          {t.bio}
          <textarea rows={3} value={bio} onChange={(e) => setBio(e.target.value)} />
        </label>
        <ErrorText error={updated.error} />
        {updated.called && !updated.loading && !updated.error && <p role="status">{t.saved}</p>}
        <button type="submit">{t.save}</button>
      </form>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void changePw({ variables: { input: { password: pw.next, currentPassword: pw.current } } })
            .then(() => setPw({ current: "", next: "" }))
            .catch(() => {});
        }}
      >
        <h2>{t.changePassword}</h2>
        <label>
          {t.currentPassword}
          <input
            type="password"
            autoComplete="current-password"
            value={pw.current}
            onChange={(e) => setPw({ ...pw, current: e.target.value })}
          />
        </label>
        <label>
          {t.newPassword}
          <input
            type="password"
            autoComplete="new-password"
            required
            value={pw.next}
            onChange={(e) => setPw({ ...pw, next: e.target.value })}
          />
        </label>
        <ErrorText error={changed.error} />
        {changed.called && !changed.loading && !changed.error && <p role="status">{t.saved}</p>}
        <button type="submit">{t.changePassword}</button>
      </form>
      <LanguageSwitch />
      <button
        type="button"
        onClick={() => {
          const s = session.get();
          void (s ? signOut({ variables: { t: s.refreshToken } }) : Promise.resolve())
            .catch(() => {})
            .finally(() => session.set(null));
        }}
      >
        {t.signOut}
      </button>
      <form
        className="danger"
        onSubmit={(e) => {
          e.preventDefault();
          if (!confirm(t.deleteAccountConfirm)) return;
          void deleteAccount({ variables: { password: delPw || null } })
            .then(() => session.set(null))
            .catch(() => {});
        }}
      >
        <h2>{t.deleteAccount}</h2>
        <label>
          {t.password}
          <input type="password" autoComplete="current-password" value={delPw} onChange={(e) => setDelPw(e.target.value)} />
        </label>
        <ErrorText error={deleted.error} />
        <button type="submit">{t.deleteAccount}</button>
      </form>
    </section>
  );
}
