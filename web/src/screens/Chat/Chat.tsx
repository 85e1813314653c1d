import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useApolloClient, useMutation, useQuery, useSubscription } from "@apollo/client/react";
import type { Reference } from "@apollo/client";
import { graphql } from "../../gql";
import type { MessageItemFragment } from "../../gql/graphql";
import { session } from "../../apollo";
import { useT } from "../../i18n";
import { MessageItem } from "../../components/MessageItem";
import { ImageViewer } from "../../components/ImageViewer";
import { Avatar } from "../../components/Avatar";
import { appendMessage, dropRoom } from "../../components/cacheEdits";
import { MemberPicker } from "../../components/MemberPicker";
import { ErrorText } from "../../components/ErrorText";

const PAGE = 30;

const ChatQuery = graphql(`
  query ChatScreen($id: ID!, $last: Int!, $before: Cursor) {
    viewer { id nickname avatarURL online }
    room(id: $id) {
      id
      kind
      name
      viewerRole
      eventsCursor
      unreadCount
      members { ...UserAvatar }
      readReceipts { user { id } lastRead { id seq } }
      messages(last: $last, before: $before) {
        edges { cursor node { ...MessageItem } }
        pageInfo { hasPreviousPage startCursor }
      }
    }
  }
`);

const RoomEvents = graphql(`
  subscription RoomEvents($roomId: ID!, $after: Cursor) {
    roomEvents(roomId: $roomId, after: $after) {
      __typename
      ... on MessageEvent { kind cursor message { ...MessageItem } }
      ... on TypingEvent { typing user { id nickname } }
      ... on ReadEvent { receipt { user { id } lastRead { id seq } } }
      ... on RoomChangedEvent { room { id name viewerRole members { ...UserAvatar } } }
    }
  }
`);

const SendMessage = graphql(`
  mutation SendMessage($input: SendMessageInput!) {
    sendMessage(input: $input) { ...MessageItem }
  }
`);
const SendFile = graphql(`
  mutation SendFile($input: SendFileInput!) {
    sendFile(input: $input) { ...MessageItem }
  }
`);
const MarkRead = graphql(`
  mutation MarkRoomRead($roomId: ID!) {
    markRoomRead(roomId: $roomId) { id unreadCount }
  }
`);
const SetTyping = graphql(`
  mutation SetTyping($roomId: ID!, $typing: Boolean!) {
    setTyping(roomId: $roomId, typing: $typing)
  }
`);
const LeaveRoom = graphql(`
  mutation LeaveRoom($roomId: ID!) {
    leaveRoom(roomId: $roomId)
  }
`);
const AddMembers = graphql(`
  mutation AddRoomMembers($roomId: ID!, $userIds: [ID!]!) {
    addRoomMembers(roomId: $roomId, userIds: $userIds) { id name members { ...UserAvatar } }
  }
`);

export function Chat() {
  const { id = "" } = useParams();
  // One screen per room: a different room starts from scratch.
  return <ChatRoom key={id} roomId={id} />;
}

function ChatRoom({ roomId }: { roomId: string }) {
  const t = useT();
  const navigate = useNavigate();
  const client = useApolloClient();
  const { data, loading, error, fetchMore } = useQuery(ChatQuery, {
    variables: { id: roomId, last: PAGE },
    fetchPolicy: "network-only",
    nextFetchPolicy: "cache-first",
  });
  const room = data?.room;
  const viewerId = data?.viewer?.id ?? session.get()?.userId ?? "";

  // Subscribe from where the page we read stands (eventsCursor, read with it).
  const [after, setAfter] = useState<string | null>(null);
  useEffect(() => {
    if (room?.eventsCursor && after === null) setAfter(room.eventsCursor);
  }, [room?.eventsCursor, after]);

  const [typing, setTypingUsers] = useState<Record<string, { name: string; until: number }>>({});
  const [markRead] = useMutation(MarkRead);
  const markSoon = useRef<number | undefined>(undefined);
  const scheduleMarkRead = () => {
    if (document.visibilityState !== "visible") return;
    window.clearTimeout(markSoon.current);
    markSoon.current = window.setTimeout(() => void markRead({ variables: { roomId } }).catch(() => {}), 300);
  };

  useSubscription(RoomEvents, {
    variables: { roomId, after },
    skip: after === null,
    onData: ({ data: res }) => {
      const ev = res.data?.roomEvents;
      if (!ev) return;
      const cache = client.cache;
      switch (ev.__typename) {
        case "MessageEvent":
          if (ev.kind === "ADDED") {
            appendMessage(cache, roomId, ev.message);
            if (ev.message.sender?.id !== viewerId) scheduleMarkRead();
            if (ev.message.sender) {
              const sid = ev.message.sender.id;
              setTypingUsers(({ [sid]: _, ...rest }) => rest);
            }
          }
          break; // edits, deletions and reactions update the normalized Message
        case "TypingEvent":
          if (ev.user.id === viewerId) break;
          setTypingUsers((cur) => {
            const { [ev.user.id]: _, ...rest } = cur;
            return ev.typing ? { ...rest, [ev.user.id]: { name: ev.user.nickname, until: Date.now() + 7000 } } : rest;
          });
          break;
        case "ReadEvent":
          cache.modify({
            id: cache.identify({ __typename: "Room", id: roomId }),
            fields: {
              readReceipts(value, { readField, toReference }) {
                const existing = (value ?? []) as readonly { user: Reference }[];
                const uid = ev.receipt.user.id;
                const next = existing.filter((r) => readField("id", r.user) !== uid);
                return [
                  ...next,
                  {
                    __typename: "ReadReceipt",
                    user: toReference({ __typename: "User", id: uid }),
                    lastRead: ev.receipt.lastRead
                      ? cache.writeFragment({
                          id: cache.identify({ __typename: "Message", id: ev.receipt.lastRead.id }),
                          fragment: graphql(`fragment ReadSeq on Message { id seq }`),
                          data: ev.receipt.lastRead,
                        })
                      : null,
                  },
                ] as unknown as typeof value;
              },
            },
          });
          break;
      }
    },
  });

  // Typing marks expire by themselves (the server also sends typing: false).
  useEffect(() => {
    const names = Object.keys(typing);
    if (!names.length) return;
    const timer = window.setInterval(() => {
      setTypingUsers((cur) => Object.fromEntries(Object.entries(cur).filter(([, v]) => v.until > Date.now())));
    }, 1000);
    return () => window.clearInterval(timer);
  }, [typing]);

  // Read on open and whenever the tab comes back.
  useEffect(() => {
    if (!room) return;
    if (room.unreadCount > 0) scheduleMarkRead();
    const onVisible = () => scheduleMarkRead();
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [!!room]);

  // ---- scrolling: stick to the bottom for new messages, keep the place when older ones load above.
  const listRef = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const prevHeight = useRef<number | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const edges = room?.messages.edges ?? [];
  const firstId = edges[0]?.node?.id;
  const lastId = edges[edges.length - 1]?.node?.id;

  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    if (prevHeight.current !== null) {
      el.scrollTop += el.scrollHeight - prevHeight.current;
      prevHeight.current = null;
    }
  }, [firstId]);
  useLayoutEffect(() => {
    const el = listRef.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [lastId, Object.keys(typing).length]);

  const loadOlder = async () => {
    const info = room?.messages.pageInfo;
    if (!info?.hasPreviousPage || loadingOlder || !listRef.current) return;
    setLoadingOlder(true);
    prevHeight.current = listRef.current.scrollHeight;
    try {
      await fetchMore({ variables: { last: PAGE, before: info.startCursor } });
    } finally {
      setLoadingOlder(false);
    }
  };
  const onScroll = () => {
    const el = listRef.current!;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 120) void loadOlder();
  };
  // A first page shorter than the screen: load more until it scrolls.
  useEffect(() => {
    const el = listRef.current;
    if (el && room && el.scrollHeight <= el.clientHeight && room.messages.pageInfo.hasPreviousPage) void loadOlder();
  });

  // ---- sending
  const [text, setText] = useState("");
  const [replyTo, setReplyTo] = useState<MessageItemFragment | null>(null);
  const [viewing, setViewing] = useState<MessageItemFragment | null>(null);
  const [sendMessage] = useMutation(SendMessage);
  // Why the last send or room action was refused (a block, the network):
  // the text goes back to the composer and this says why.
  const [sendError, setSendError] = useState<unknown>(null);
  const [sendFile, { loading: uploading, error: uploadError }] = useMutation(SendFile);
  const [setTypingMut] = useMutation(SetTyping);
  const typingSent = useRef(0);
  const fileRef = useRef<HTMLInputElement>(null);

  const announceTyping = (value: string) => {
    const now = Date.now();
    if (value && now - typingSent.current > 4000) {
      typingSent.current = now;
      void setTypingMut({ variables: { roomId, typing: true } }).catch(() => {});
    } else if (!value && typingSent.current) {
      typingSent.current = 0;
      void setTypingMut({ variables: { roomId, typing: false } }).catch(() => {});
    }
  };

  const send = () => {
    const body = text.trim();
    if (!body || !data?.viewer) return;
    const clientId = crypto.randomUUID();
    const me = data.viewer;
    const reply = replyTo;
    setText("");
    setReplyTo(null);
    typingSent.current = 0;
    atBottom.current = true;
    void sendMessage({
      variables: { input: { roomId, body, clientId, replyToId: reply?.id } },
      optimisticResponse: {
        __typename: "Mutation",
        sendMessage: {
          __typename: "Message",
          id: `optimistic:${clientId}`,
          kind: "TEXT",
          body,
          seq: Number.MAX_SAFE_INTEGER,
          createdAt: new Date().toISOString(),
          editedAt: null,
          deletedAt: null,
          clientId,
          sender: { __typename: "User", id: me.id, nickname: me.nickname, avatarURL: me.avatarURL, online: true },
          attachment: null,
          replyTo: reply
            ? {
                __typename: "Message",
                id: reply.id,
                kind: reply.kind,
                body: reply.body,
                deletedAt: reply.deletedAt,
                sender: reply.sender ? { __typename: "User", id: reply.sender.id, nickname: reply.sender.nickname } : null,
                attachment: reply.attachment
                  ? { __typename: "Attachment", id: reply.attachment.id, filename: reply.attachment.filename }
                  : null,
              }
            : null,
          reactions: [],
        },
      },
      update: (cache, { data: res }) => {
        if (res?.sendMessage) appendMessage(cache, roomId, res.sendMessage);
      },
    }).then(
      () => setSendError(null),
      (err: unknown) => {
        setText((cur) => cur || body);
        setSendError(err);
      },
    );
  };

  const upload = (file: File) => {
    atBottom.current = true;
    const reply = replyTo;
    setReplyTo(null);
    void sendFile({
      variables: { input: { roomId, file, clientId: crypto.randomUUID(), replyToId: reply?.id } },
      update: (cache, { data: res }) => {
        if (res?.sendFile) appendMessage(cache, roomId, res.sendFile);
      },
    }).catch(() => {});
  };

  // ---- room actions
  const [leave] = useMutation(LeaveRoom);
  const [addMembers] = useMutation(AddMembers);
  const [picking, setPicking] = useState(false);

  if (error && !room) return <ErrorText error={error} />;
  if (!room) return <p className="loading">{loading ? "…" : t.error}</p>;

  // Optimistic sends show until the real message (same clientId) is in.
  const messages = edges
    .map((e) => e!.node!)
    .filter((m) => !m.id.startsWith("optimistic:") || !edges.some((e) => e?.node?.clientId === m.clientId && e.node.id !== m.id));

  // Read marks: under my newest message others have read.
  const others = room.readReceipts.filter((r) => r.user.id !== viewerId);
  const myLast = [...messages].reverse().find((m) => m.sender?.id === viewerId && !m.id.startsWith("optimistic:"));
  const readers = myLast ? others.filter((r) => (r.lastRead?.seq ?? 0) >= myLast.seq).length : 0;
  const other = room.kind === "DIRECT" ? room.members.find((m) => m.id !== viewerId) : undefined;
  const typingNames = Object.values(typing).map((v) => v.name);

  return (
    <section className="chat" aria-label={room.name}>
      <header className="chat-head">
        <Link to="/" className="back" aria-label={t.back}>
          ←
        </Link>
        {other && <Avatar user={other} size={32} />}
        <h1>{room.name}</h1>
        {room.kind === "GROUP" && (
          <button type="button" onClick={() => setPicking(true)}>
            {t.addMembers}
          </button>
        )}
        <button
          type="button"
          onClick={() => {
            if (!confirm(t.leaveConfirm)) return;
            void leave({ variables: { roomId } }).then(() => {
              dropRoom(client.cache, roomId);
              navigate("/");
            }, setSendError);
          }}
        >
          {t.leave}
        </button>
      </header>
      {room.kind === "GROUP" && (
        <p className="members" aria-label={t.members}>
          {room.members.map((m) => m.nickname).join(", ")}
        </p>
      )}
      <div className="messages" ref={listRef} onScroll={onScroll} tabIndex={0} aria-label={t.history} role="log">
        {loadingOlder && <p className="hint">{t.loadingOlder}</p>}
        {!room.messages.pageInfo.hasPreviousPage && <p className="hint">{t.beginning}</p>}
        <ol>
          {messages.map((m) => (
            <MessageItem
              key={m.clientId && m.id.startsWith("optimistic:") ? m.clientId : m.id}
              message={m}
              mine={m.sender?.id === viewerId}
              pending={m.id.startsWith("optimistic:")}
              readMark={m === myLast && readers > 0 ? t.readBy(readers) : undefined}
              onReply={setReplyTo}
              onOpenImage={setViewing}
            />
          ))}
        </ol>
        {typingNames.length > 0 && (
          <p className="typing" role="status">
            {t.typing(typingNames.join(", "))}
          </p>
        )}
      </div>
      <ErrorText error={uploadError} />
      <ErrorText error={sendError} />
      {replyTo && (
        <div className="replying">
          {t.replyingTo(replyTo.sender?.nickname ?? t.someone)}: {replyTo.body || replyTo.attachment?.filename}
          <button type="button" onClick={() => setReplyTo(null)} aria-label={t.cancel}>
            ×
          </button>
        </div>
      )}
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <label className="attach" title={t.attach}>
          <span aria-hidden="true">📎</span>
          <input
            ref={fileRef}
            type="file"
            aria-label={t.attach}
            disabled={uploading}
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) upload(f);
              e.target.value = "";
            }}
          />
        </label>
        <label className="sr-only" htmlFor="composer-text">
          {t.message}
        </label>
        <input
          id="composer-text"
          autoComplete="off"
          placeholder={t.message}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            announceTyping(e.target.value);
          }}
        />
        <button type="submit" disabled={!text.trim()}>
          {t.send}
        </button>
      </form>
      {viewing?.attachment && <ImageViewer attachment={viewing.attachment} onClose={() => setViewing(null)} />}
      {picking && (
        <MemberPicker
          exclude={room.members.map((m) => m.id)}
          title={t.addMembers}
          submitLabel={t.add}
          onCancel={() => setPicking(false)}
          onSubmit={(ids) =>
            addMembers({ variables: { roomId, userIds: ids } }).then(() => {
              setPicking(false);
            })
          }
        />
      )}
    </section>
  );
}
