package chat

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect/sql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/membership"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/predicate"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/viewer"
)

// The batch reads below answer for many rooms or users in one query each:
// the GraphQL layer's data loaders call them, so a page of rooms costs the
// same number of statements whatever its size.

// UsersByID loads users, deleted ones included.
func (s *Service) UsersByID(ctx context.Context, ids []int) (map[int]*ent.User, error) {
	us, err := s.db.User.Query().Where(user.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	out := make(map[int]*ent.User, len(us))
	for _, u := range us {
		out[u.ID] = u
	}
	return out, nil
}

// RoomsByID loads rooms without checking membership: for rooms reached
// through something the viewer may already see (a message).
func (s *Service) RoomsByID(ctx context.Context, ids []int) (map[int]*ent.Room, error) {
	rs, err := s.db.Room.Query().Where(room.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load rooms: %w", err)
	}
	out := make(map[int]*ent.Room, len(rs))
	for _, r := range rs {
		out[r.ID] = r
	}
	return out, nil
}

// MembersOf returns the current members (live accounts) of each room, in
// the order they joined.
func (s *Service) MembersOf(ctx context.Context, roomIDs []int) (map[int][]*ent.User, error) {
	ms, err := s.db.Membership.Query().
		Where(membership.RoomIDIn(roomIDs...), membership.LeftAtIsNil(), membership.HasUserWith(user.DeletedAtIsNil())).
		WithUser().
		Order(membership.ByJoinedAt(), membership.ByID()).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load members: %w", err)
	}
	out := make(map[int][]*ent.User, len(roomIDs))
	for _, id := range roomIDs {
		out[id] = []*ent.User{}
	}
	for _, m := range ms {
		out[m.RoomID] = append(out[m.RoomID], m.Edges.User)
	}
	return out, nil
}

// LastMessages returns the newest message of each room that the viewer
// may read; rooms without one are absent.
func (s *Service) LastMessages(ctx context.Context, v viewer.Viewer, roomIDs []int) (map[int]*ent.Message, error) {
	ms, err := s.db.Message.Query().
		Where(message.RoomIDIn(roomIDs...), isNewest(), readableBy(v.UserID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load last messages: %w", err)
	}
	out := make(map[int]*ent.Message, len(ms))
	for _, m := range ms {
		out[m.RoomID] = m
	}
	return out, nil
}

// isNewest is the predicate "the message is its room's newest one not
// deleted" (a deleted message is no room's last message).
func isNewest() predicate.Message {
	return func(s *sql.Selector) {
		t := sql.Table(message.Table).As("newest")
		s.Where(sql.EQ(s.C(message.FieldSeq),
			sql.Select(sql.Max(t.C(message.FieldSeq))).From(t).Where(sql.And(
				sql.ColumnsEQ(t.C(message.FieldRoomID), s.C(message.FieldRoomID)),
				sql.IsNull(t.C(message.FieldDeletedAt)),
			))))
	}
}

// UnreadCounts and TotalUnread: unread.go.
