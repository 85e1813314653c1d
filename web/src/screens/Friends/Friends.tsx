import { useEffect, useState } from "react";
import { useNavigate } from "react-router";
import { useMutation, useQuery } from "@apollo/client/react";
import { graphql } from "../../gql";
import type { FriendshipState, UserAvatarFragment } from "../../gql/graphql";
import { useT } from "../../i18n";
import { Avatar } from "../../components/Avatar";
import { ErrorText } from "../../components/ErrorText";
import { addRoom } from "../../components/cacheEdits";

const FriendsQuery = graphql(`
  query FriendsScreen {
    friendRequests(first: 50) { edges { node { ...UserAvatar friendship } } }
    friends(first: 100) { edges { node { ...UserAvatar friendship bio } } }
  }
`);
const SearchUsers = graphql(`
  query SearchUsers($query: String!) {
    searchUsers(query: $query, first: 20) { edges { node { ...UserAvatar friendship } } }
  }
`);
const AddFriend = graphql(`mutation AddFriend($id: ID!) { addFriend(userId: $id) { id friendship } }`);
const Decline = graphql(`mutation DeclineFriend($id: ID!) { declineFriendRequest(userId: $id) { id friendship } }`);
const RemoveFriend = graphql(`mutation RemoveFriend($id: ID!) { removeFriend(userId: $id) { id friendship } }`);
const StartDirect = graphql(`
  mutation StartDirect($id: ID!) {
    createRoom(input: { memberIds: [$id] }) { ...RoomRow }
  }
`);

type Person = UserAvatarFragment & { friendship: FriendshipState };

export function Friends() {
  const t = useT();
  const navigate = useNavigate();
  const { data, error } = useQuery(FriendsQuery, { fetchPolicy: "cache-and-network", pollInterval: 30_000 });
  const [query, setQuery] = useState("");
  const [debounced, setDebounced] = useState("");
  useEffect(() => {
    const h = window.setTimeout(() => setDebounced(query.trim()), 250);
    return () => window.clearTimeout(h);
  }, [query]);
  const search = useQuery(SearchUsers, { variables: { query: debounced }, skip: !debounced });
  const refetch = { refetchQueries: ["FriendsScreen"], awaitRefetchQueries: true };
  const [add] = useMutation(AddFriend, refetch);
  const [decline] = useMutation(Decline, refetch);
  const [remove] = useMutation(RemoveFriend, refetch);
  const [start, started] = useMutation(StartDirect);
  const [actionError, setActionError] = useState<unknown>(null);
  const act = (p: Promise<unknown>) => void p.then(() => setActionError(null), setActionError);

  const chat = (id: string) =>
    act(
      start({ variables: { id }, update: (cache, { data: r }) => r && addRoom(cache, r.createRoom) }).then((r) => {
        if (r.data) navigate(`/rooms/${r.data.createRoom.id}`);
      }),
    );

  const actions = (u: Person) => {
    switch (u.friendship) {
      case "FRIENDS":
        return (
          <>
            <button type="button" onClick={() => chat(u.id)} disabled={started.loading}>
              {t.chat}
            </button>
            <button type="button" onClick={() => act(remove({ variables: { id: u.id } }))}>
              {t.remove}
            </button>
          </>
        );
      case "REQUEST_RECEIVED":
        return (
          <>
            <button type="button" onClick={() => act(add({ variables: { id: u.id } }))}>
              {t.accept}
            </button>
            <button type="button" onClick={() => act(decline({ variables: { id: u.id } }))}>
              {t.decline}
            </button>
          </>
        );
      case "REQUEST_SENT":
        return (
          <button type="button" onClick={() => act(remove({ variables: { id: u.id } }))}>
            {t.cancelRequest}
          </button>
        );
      case "NONE":
        return (
          <button type="button" onClick={() => act(add({ variables: { id: u.id } }))}>
            {t.addFriend}
          </button>
        );
      default:
        return null;
    }
  };
  const row = (u: Person) => (
    <li key={u.id} className="person">
      <Avatar user={u} />
      <span className="person-name">{u.nickname}</span>
      <span className="row">{actions(u)}</span>
    </li>
  );
  const requests = (data?.friendRequests.edges ?? []).map((e) => e!.node!);
  const friends = (data?.friends.edges ?? []).map((e) => e!.node!);
  const results = debounced ? (search.data?.searchUsers.edges ?? []).map((e) => e!.node!) : [];

  return (
    <section aria-labelledby="friends-title">
      <header className="screen-head">
        <h1 id="friends-title">{t.friends}</h1>
      </header>
      <form role="search" className="search" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor="friend-search">{t.search}</label>
        <input
          id="friend-search"
          type="search"
          placeholder={t.searchPlaceholder}
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
      </form>
      <ErrorText error={actionError || search.error || (!data && error)} />
      {debounced && (
        <ul className="people" aria-label={t.results}>
          {search.data && results.length === 0 && <li className="empty">{t.noResults}</li>}
          {results.map(row)}
        </ul>
      )}
      {requests.length > 0 && (
        <>
          <h2>{t.requestsIn}</h2>
          <ul className="people" aria-label={t.requestsIn}>{requests.map(row)}</ul>
        </>
      )}
      <h2>{t.friends}</h2>
      {data && friends.length === 0 && <p className="empty">{t.noFriends}</p>}
      <ul className="people" aria-label={t.friends}>{friends.map(row)}</ul>
    </section>
  );
}
