import { useEffect, useRef, useState, type ReactNode } from "react";
import { useQuery } from "@apollo/client/react";
import { graphql } from "../gql";
import { useT } from "../i18n";
import { Avatar } from "./Avatar";
import { ErrorText } from "./ErrorText";

const FriendsToPick = graphql(`
  query FriendsToPick {
    friends(first: 100) { edges { node { ...UserAvatar } } }
  }
`);

/** A dialog to choose friends: for a new group or to add to one. */
export function MemberPicker({
  exclude = [],
  title,
  submitLabel,
  onSubmit,
  onCancel,
  children,
}: {
  exclude?: string[];
  title: string;
  submitLabel: string;
  onSubmit: (ids: string[]) => Promise<unknown>;
  onCancel: () => void;
  children?: ReactNode;
}) {
  const t = useT();
  const { data } = useQuery(FriendsToPick, { fetchPolicy: "cache-and-network" });
  const [chosen, setChosen] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    d?.showModal();
    return () => d?.close();
  }, []);
  const friends = (data?.friends.edges ?? []).map((e) => e!.node!).filter((u) => !exclude.includes(u.id));
  return (
    <dialog ref={ref} className="picker" aria-label={title} onClose={onCancel}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setError(null);
          onSubmit(chosen).catch(setError);
        }}
      >
        <h2>{title}</h2>
        {children}
        <fieldset>
          <legend>{t.chooseMembers}</legend>
          {friends.length === 0 && <p>{t.noFriends}</p>}
          {friends.map((u) => (
            <label key={u.id} className="pick">
              <input
                type="checkbox"
                checked={chosen.includes(u.id)}
                onChange={(e) => setChosen((c) => (e.target.checked ? [...c, u.id] : c.filter((x) => x !== u.id)))}
              />
              <Avatar user={u} size={28} /> {u.nickname}
            </label>
          ))}
        </fieldset>
        <ErrorText error={error} />
        <div className="row">
          <button type="button" onClick={onCancel}>
            {t.cancel}
          </button>
          <button type="submit" disabled={chosen.length === 0}>
            {submitLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
