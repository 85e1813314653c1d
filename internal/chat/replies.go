package chat

import (
	"context"
	"fmt"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/internal/apperr"
)

// errBadReplyTo refuses a replyToId that is not a message of the room the
// viewer may read: one answer whether the id names nothing, a message of
// another room, or one from before the viewer joined, so an id tells
// nothing about rooms the viewer can't see.
var errBadReplyTo = apperr.Input("replyToId", "replyToId must be a message of this room that you can read")

// checkReplyTo makes sure a message being sent to roomID by userID may
// answer message replyTo. Messages are never moved between rooms, so a
// read before the sending transaction is as good as one inside it.
func checkReplyTo(ctx context.Context, c *ent.Client, roomID, userID, replyTo int) error {
	ok, err := c.Message.Query().
		Where(message.ID(replyTo), message.RoomID(roomID), readableBy(userID)).
		Exist(ctx)
	if err != nil {
		return fmt.Errorf("check reply target %d: %w", replyTo, err)
	}
	if !ok {
		return errBadReplyTo
	}
	return nil
}

// RepliedTo loads the messages that messages the viewer reads answer, in
// one query: the batch read behind Message.replyTo. A reply quotes what it
// answers: whoever may read the reply sees that message too (its sender
// could read it, and it is of the same room), also when it is from before
// they joined. It does no check of its own, so it must only be given the
// replyToId of messages the viewer may read.
func (s *Service) RepliedTo(ctx context.Context, ids []int) (map[int]*ent.Message, error) {
	ms, err := s.db.Message.Query().Where(message.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load replied-to messages: %w", err)
	}
	out := make(map[int]*ent.Message, len(ms))
	for _, m := range ms {
		out[m.ID] = m
	}
	return out, nil
}

// withQuoted loads what a subscriber shows of a replied-to message, so
// that replyTo costs no database read per subscriber.
func withQuoted(q *ent.MessageQuery) { q.WithSender().WithAttachment() }

// wireRepliedTo is the message m answers as it travels with m to the
// subscribers (read once per message, whatever their number); nil when m
// answers none.
func (s *Service) wireRepliedTo(ctx context.Context, m *ent.Message) (*wireMessage, error) {
	if m.ReplyToID == nil {
		return nil, nil
	}
	q := s.db.Message.Query().Where(message.ID(*m.ReplyToID))
	withQuoted(q)
	t, err := q.Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("load message %d answered by %d: %w", *m.ReplyToID, m.ID, err)
	}
	return toWireMessage(t, t.Edges.Sender, t.Edges.Attachment), nil
}
