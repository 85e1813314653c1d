import { memo, useState } from "react";
import { useMutation } from "@apollo/client/react";
import { graphql } from "../gql";
import type { MessageItemFragment } from "../gql/graphql";
import { useI18n } from "../i18n";
import { Avatar } from "./Avatar";
import { ErrorText } from "./ErrorText";

export const MessageItemFragmentDoc = graphql(`
  fragment MessageItem on Message {
    id
    kind
    body
    seq
    createdAt
    editedAt
    deletedAt
    clientId
    sender { ...UserAvatar }
    attachment { id filename contentType size width height url thumbnailURL }
    replyTo { id kind body deletedAt sender { id nickname } attachment { id filename } }
    reactions { emoji count viewerReacted }
  }
`);

const EditMessage = graphql(`
  mutation EditMessage($id: ID!, $body: String!) {
    editMessage(messageId: $id, body: $body) { ...MessageItem }
  }
`);
const DeleteMessage = graphql(`
  mutation DeleteMessage($id: ID!) {
    deleteMessage(messageId: $id) { ...MessageItem }
  }
`);
const AddReaction = graphql(`
  mutation AddReaction($id: ID!, $emoji: String!) {
    addReaction(messageId: $id, emoji: $emoji) { id reactions { emoji count viewerReacted } }
  }
`);
const RemoveReaction = graphql(`
  mutation RemoveReaction($id: ID!, $emoji: String!) {
    removeReaction(messageId: $id, emoji: $emoji) { id reactions { emoji count viewerReacted } }
  }
`);

const quickEmoji = ["👍", "❤️", "😂", "😮"];

function formatSize(n: number) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** One message; memoized, as a live room re-renders its list on every message. */
export const MessageItem = memo(function MessageItem({
  message,
  mine,
  pending,
  readMark,
  onReply,
  onOpenImage,
}: {
  message: MessageItemFragment;
  mine: boolean;
  pending?: boolean;
  readMark?: string;
  onReply: (m: MessageItemFragment) => void;
  onOpenImage: (m: MessageItemFragment) => void;
}) {
  const { t, lang } = useI18n();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(message.body);
  const [edit] = useMutation(EditMessage);
  const [del] = useMutation(DeleteMessage);
  const [addReaction] = useMutation(AddReaction);
  const [removeReaction] = useMutation(RemoveReaction);
  // Why the last edit, deletion or reaction was refused (a block, a
  // message too long, the network), shown under the message.
  const [actionError, setActionError] = useState<unknown>(null);
  const done = () => setActionError(null);

  if (message.kind === "SYSTEM") {
    return (
      <li className="system" role="note">
        {message.body}
      </li>
    );
  }
  const deleted = !!message.deletedAt;
  const a = message.attachment;
  const time = new Date(message.createdAt);
  const toggle = (emoji: string, on: boolean) =>
    void (on ? removeReaction : addReaction)({ variables: { id: message.id, emoji } }).then(done, setActionError);

  return (
    <li className={mine ? "msg mine" : "msg"} aria-busy={pending || undefined}>
      {!mine && <Avatar user={message.sender} size={32} />}
      <div className="bubble-col">
        {!mine && <span className="sender">{message.sender?.nickname ?? t.someone}</span>}
        <div className="bubble">
          {message.replyTo && (
            <blockquote className="quote">
              <strong>{message.replyTo.sender?.nickname ?? t.someone}</strong>{" "}
              {message.replyTo.deletedAt ? t.deleted : message.replyTo.body || message.replyTo.attachment?.filename}
            </blockquote>
          )}
          {deleted ? (
            <em className="deleted">{t.deleted}</em>
          ) : editing ? (
            <form
              className="edit-form"
              onSubmit={(e) => {
                e.preventDefault();
                void edit({ variables: { id: message.id, body: draft } }).then(() => {
                  setEditing(false);
                  done();
                }, setActionError);
              }}
            >
              <label className="sr-only" htmlFor={`edit-${message.id}`}>
                {t.edit}
              </label>
              <input id={`edit-${message.id}`} value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus />
              <button type="submit">{t.save}</button>
              <button type="button" onClick={() => setEditing(false)}>
                {t.cancel}
              </button>
            </form>
          ) : (
            <>
              {a && message.kind === "IMAGE" && a.thumbnailURL && (
                <button type="button" className="thumb" onClick={() => onOpenImage(message)}>
                  <img
                    src={a.thumbnailURL}
                    alt={a.filename}
                    width={a.width && a.height ? Math.min(240, a.width) : undefined}
                    height={a.width && a.height ? Math.round((Math.min(240, a.width) * a.height) / a.width) : undefined}
                    loading="lazy"
                  />
                </button>
              )}
              {a && message.kind !== "IMAGE" && (
                <a className="file" href={a.url} download={a.filename}>
                  <span aria-hidden="true">📄</span> {a.filename} <small>({formatSize(a.size)})</small>
                </a>
              )}
              {message.body && <p className="body">{message.body}</p>}
            </>
          )}
        </div>
        {message.reactions.length > 0 && (
          <div className="reactions">
            {message.reactions.map((r) => (
              <button
                key={r.emoji}
                type="button"
                aria-pressed={r.viewerReacted}
                onClick={() => toggle(r.emoji, r.viewerReacted)}
              >
                {r.emoji} {r.count}
              </button>
            ))}
          </div>
        )}
        <div className="meta">
          <time dateTime={time.toISOString()}>{time.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" })}</time>
          {message.editedAt && !deleted && <span> · {t.edited}</span>}
          {readMark && <span className="read"> · {readMark}</span>}
        </div>
        <ErrorText error={actionError} />
        {!deleted && !pending && !editing && (
          <div className="actions">
            <button type="button" onClick={() => onReply(message)}>
              {t.reply}
            </button>
            {quickEmoji.map((e) => {
              const on = message.reactions.some((r) => r.emoji === e && r.viewerReacted);
              return (
                <button key={e} type="button" aria-label={`${t.react} ${e}`} aria-pressed={on} onClick={() => toggle(e, on)}>
                  {e}
                </button>
              );
            })}
            {mine && message.kind === "TEXT" && (
              <button
                type="button"
                onClick={() => {
                  setDraft(message.body);
                  setEditing(true);
                }}
              >
                {t.edit}
              </button>
            )}
            {mine && (
              <button
                type="button"
                onClick={() => {
                  if (confirm(t.deleteConfirm)) void del({ variables: { id: message.id } }).then(done, setActionError);
                }}
              >
                {t.delete}
              </button>
            )}
          </div>
        )}
      </div>
    </li>
  );
});
