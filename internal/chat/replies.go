package chat

import (
	"context"
	"fmt"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
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

// MessagesByID loads the messages among ids that the viewer may read
// (rooms they are in, from when they joined), in one query: the batch read
// behind Message.replyTo. A message the viewer can't read is absent.
func (s *Service) MessagesByID(ctx context.Context, v viewer.Viewer, ids []int) (map[int]*ent.Message, error) {
	ms, err := s.db.Message.Query().Where(message.IDIn(ids...), readableBy(v.UserID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load messages: %w", err)
	}
	out := make(map[int]*ent.Message, len(ms))
	for _, m := range ms {
		out[m.ID] = m
	}
	return out, nil
}
