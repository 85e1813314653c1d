import { NavLink } from "react-router";
import { useQuery } from "@apollo/client/react";
import { graphql } from "../gql";
import { useT } from "../i18n";

const NavQuery = graphql(`
  query Nav {
    rooms(first: 50) {
      edges { node { id unreadCount } }
    }
  }
`);

/** The tabs: chats (with the unread total), friends, profile. */
export function Nav() {
  const t = useT();
  const { data } = useQuery(NavQuery, { fetchPolicy: "cache-first" });
  const unread = data?.rooms.edges?.reduce((n, e) => n + (e?.node?.unreadCount ?? 0), 0) ?? 0;
  return (
    <nav className="tabs" aria-label={t.appName}>
      <NavLink to="/" end>
        {t.rooms}
        {unread > 0 && (
          <span className="badge" aria-label={t.unread(unread)}>
            {unread}
          </span>
        )}
      </NavLink>
      <NavLink to="/friends">{t.friends}</NavLink>
      <NavLink to="/profile">{t.profile}</NavLink>
    </nav>
  );
}
