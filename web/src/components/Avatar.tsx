import { graphql } from "../gql";
import type { UserAvatarFragment } from "../gql/graphql";
import { useT } from "../i18n";

export const UserAvatarFragmentDoc = graphql(`
  fragment UserAvatar on User {
    id
    nickname
    avatarURL
    online
  }
`);

/** A user's picture (or initial) with a presence dot. */
export function Avatar({ user, size = 40 }: { user: UserAvatarFragment | null | undefined; size?: number }) {
  const t = useT();
  const name = user?.nickname ?? t.someone;
  return (
    <span className="avatar" style={{ width: size, height: size }}>
      {user?.avatarURL ? (
        <img src={user.avatarURL} alt="" width={size} height={size} />
      ) : (
        <span className="initial" aria-hidden="true">
          {Array.from(name)[0]}
        </span>
      )}
      {user && (
        <span
          className={user.online ? "dot on" : "dot"}
          role="img"
          aria-label={`${name}: ${user.online ? t.online : t.offline}`}
        />
      )}
    </span>
  );
}
