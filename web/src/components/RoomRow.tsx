import { Link } from "react-router";
import { graphql } from "../gql";
import type { RoomRowFragment } from "../gql/graphql";
import { useI18n } from "../i18n";
import { Avatar } from "./Avatar";

export const RoomRowFragmentDoc = graphql(`
  fragment RoomRow on Room {
    id
    kind
    name
    updatedAt
    unreadCount
    members { ...UserAvatar }
    lastMessage {
      id
      kind
      body
      createdAt
      deletedAt
      sender { id nickname }
      attachment { id filename }
    }
  }
`);

/** When a room last saw activity: its newest message, else its last change. */
export const activityOf = (r: Pick<RoomRowFragment, "updatedAt" | "lastMessage">) =>
  Date.parse(r.lastMessage?.createdAt ?? r.updatedAt);

export function RoomRow({ room, viewerId }: { room: RoomRowFragment; viewerId: string }) {
  const { t, lang } = useI18n();
  const other = room.kind === "DIRECT" ? room.members.find((m) => m.id !== viewerId) : undefined;
  const last = room.lastMessage;
  const preview = !last
    ? ""
    : last.deletedAt
      ? t.deleted
      : last.attachment && !last.body
        ? last.kind === "IMAGE"
          ? t.image
          : last.attachment.filename
        : last.body;
  const when = last ? new Date(last.createdAt) : null;
  return (
    <li>
      <Link to={`/rooms/${room.id}`} className="room-row">
        <Avatar user={other ?? null} />
        <span className="room-text">
          <span className="room-name">{room.name}</span>
          <span className="room-last">
            {last?.sender && last.kind !== "SYSTEM" && room.kind === "GROUP" ? `${last.sender.nickname}: ` : ""}
            {preview}
          </span>
        </span>
        <span className="room-meta">
          {when && (
            <time dateTime={when.toISOString()}>
              {when.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" })}
            </time>
          )}
          {room.unreadCount > 0 && (
            <span className="badge" aria-label={t.unread(room.unreadCount)}>
              {room.unreadCount}
            </span>
          )}
        </span>
      </Link>
    </li>
  );
}
