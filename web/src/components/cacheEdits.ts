// Small cache edits the screens share: put a room at the top of the rooms
// list, drop one, append a message to a room's history.
import type { ApolloCache, Reference } from "@apollo/client";
import { graphql } from "../gql";
import type { MessageItemFragment, RoomRowFragment } from "../gql/graphql";
import { MessageItemFragmentDoc } from "./MessageItem";
import { RoomRowFragmentDoc } from "./RoomRow";

type Edge = { __typename?: string; cursor?: string; node: Reference };
type Conn = { edges: Edge[]; pageInfo: unknown };

/** Adds a room to Query.rooms when it is not there (ordering is the list's). */
export function addRoom(cache: ApolloCache, room: RoomRowFragment) {
  const ref = cache.writeFragment({ fragment: RoomRowFragmentDoc, fragmentName: "RoomRow", data: room });
  cache.modify({
    fields: {
      rooms(value, { readField }) {
        const existing = value as Conn | undefined;
        if (!existing || !ref) return value;
        if (existing.edges.some((e) => readField("id", e.node) === room.id)) return value;
        return { ...existing, edges: [{ __typename: "RoomEdge", cursor: "", node: ref }, ...existing.edges] } as typeof value;
      },
    },
  });
}

export function dropRoom(cache: ApolloCache, roomId: string) {
  cache.modify({
    fields: {
      rooms(value, { readField }) {
        const existing = value as Conn | undefined;
        if (!existing) return value;
        return { ...existing, edges: existing.edges.filter((e) => readField("id", e.node) !== roomId) } as typeof value;
      },
    },
  });
}

const RoomLastMessage = graphql(`
  fragment RoomLastMessage on Room {
    id
    lastMessage { id kind body createdAt deletedAt sender { id nickname } attachment { id filename } }
  }
`);

/** Appends a message to its room's loaded history (once), and makes it the room's last. */
export function appendMessage(cache: ApolloCache, roomId: string, message: MessageItemFragment) {
  // One broadcast to the watching queries for the three writes.
  cache.batch({ update: (c) => appendMessageIn(c, roomId, message) });
}

function appendMessageIn(cache: ApolloCache, roomId: string, message: MessageItemFragment) {
  const ref = cache.writeFragment({ fragment: MessageItemFragmentDoc, fragmentName: "MessageItem", data: message });
  if (!ref) return;
  const roomRef = cache.identify({ __typename: "Room", id: roomId });
  cache.modify({
    id: roomRef,
    fields: {
      messages(value, { readField }) {
        const existing = value as Conn | undefined;
        if (!existing) return value;
        if (existing.edges.some((e) => readField("id", e.node) === message.id)) return value;
        return { ...existing, edges: [...existing.edges, { __typename: "MessageEdge", cursor: "", node: ref }] } as typeof value;
      },
    },
  });
  const prev = cache.readFragment({ fragment: RoomLastMessage, id: roomRef });
  if (!message.id.startsWith("optimistic:") && (!prev?.lastMessage || prev.lastMessage.id !== message.id)) {
    cache.writeFragment({
      fragment: RoomLastMessage,
      id: roomRef,
      data: {
        __typename: "Room",
        id: roomId,
        lastMessage: {
          __typename: "Message",
          id: message.id,
          kind: message.kind,
          body: message.body,
          createdAt: message.createdAt,
          deletedAt: message.deletedAt,
          sender: message.sender ? { __typename: "User", id: message.sender.id, nickname: message.sender.nickname } : null,
          attachment: message.attachment
            ? { __typename: "Attachment", id: message.attachment.id, filename: message.attachment.filename }
            : null,
        },
      },
    });
  }
}
