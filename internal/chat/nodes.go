package chat

import (
	"context"
	"fmt"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/attachment"
	"github.com/chatty/chatty/ent/membership"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/predicate"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"

	"entgo.io/ent/dialect/sql"
)

// MaxNodes caps how many ids one nodes(ids:) call may ask for.
const MaxNodes = 100

// Nodes resolves global ids for node(id:) and nodes(ids:) as the viewer may
// see them: the result has one entry per id, nil where the id names nothing
// the viewer may see. IDs are unique across types, so each type is asked
// for the whole list once: a bounded number of queries whatever the count.
//
// Visible: live users; rooms the viewer is in; messages of those rooms
// from when the viewer joined; attachments of such messages, and avatars.
func (s *Service) Nodes(ctx context.Context, v viewer.Viewer, ids []int) ([]ent.Noder, error) {
	if len(ids) > MaxNodes {
		return nil, apperr.Input("ids", "ask for at most %d ids at once", MaxNodes)
	}
	found := make(map[int]ent.Noder, len(ids))
	users, err := s.db.User.Query().Where(user.IDIn(ids...), user.DeletedAtIsNil()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load user nodes: %w", err)
	}
	for _, u := range users {
		found[u.ID] = u
	}
	rooms, err := s.Rooms(v).Where(room.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load room nodes: %w", err)
	}
	for _, r := range rooms {
		found[r.ID] = r
	}
	msgs, err := s.db.Message.Query().Where(message.IDIn(ids...), readableBy(v.UserID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load message nodes: %w", err)
	}
	for _, m := range msgs {
		found[m.ID] = m
	}
	atts, err := s.db.Attachment.Query().Where(attachment.IDIn(ids...), attachment.Or(
		attachment.HasMessageWith(readableBy(v.UserID)),
		isAvatar(),
	)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load attachment nodes: %w", err)
	}
	for _, a := range atts {
		found[a.ID] = a
	}
	out := make([]ent.Noder, len(ids))
	for i, id := range ids {
		out[i] = found[id] // nil when not found or not visible
	}
	return out, nil
}

// readableBy is the predicate "the message is in a room userID is in, and
// came after they joined".
func readableBy(userID int) predicate.Message {
	return func(s *sql.Selector) {
		t := sql.Table(membership.Table)
		s.Where(sql.Exists(sql.Select(t.C(membership.FieldID)).From(t).Where(sql.And(
			sql.ColumnsEQ(t.C(membership.FieldRoomID), s.C(message.FieldRoomID)),
			sql.EQ(t.C(membership.FieldUserID), userID),
			sql.IsNull(t.C(membership.FieldLeftAt)),
			sql.ColumnsGT(s.C(message.FieldSeq), t.C(membership.FieldJoinedSeq)),
		))))
	}
}

// isAvatar is the predicate "the attachment is the avatar of a live user".
func isAvatar() predicate.Attachment {
	return func(s *sql.Selector) {
		t := sql.Table(user.Table)
		s.Where(sql.In(s.C(attachment.FieldID),
			sql.Select(t.C(user.FieldAvatarID)).From(t).Where(sql.And(sql.NotNull(t.C(user.FieldAvatarID)), sql.IsNull(t.C(user.FieldDeletedAt))))))
	}
}
