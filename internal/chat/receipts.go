package chat

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/membership"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/viewer"
)

// ReadReceipt is how far one member of a room has read.
type ReadReceipt struct {
	User *ent.User
	// LastRead is the newest message the member has read; nil when they
	// have read nothing since they joined, or when it is from before the
	// viewer joined (not the viewer's to see).
	LastRead *ent.Message
	// ReadAt is when the member's read marker last moved forward (nil:
	// never, or before read times were recorded).
	ReadAt *time.Time
}

// ReadReceipts returns, for each room, a receipt per current member (live
// accounts, in the order they joined), as the viewer may see them: empty
// for a room the viewer is not in. Three queries whatever the number of
// rooms: the memberships, their users, the messages the markers point at.
func (s *Service) ReadReceipts(ctx context.Context, v viewer.Viewer, roomIDs []int) (map[int][]*ReadReceipt, error) {
	out := make(map[int][]*ReadReceipt, len(roomIDs))
	for _, id := range roomIDs {
		out[id] = []*ReadReceipt{}
	}
	ms, err := s.db.Membership.Query().
		Where(membership.RoomIDIn(roomIDs...), membership.LeftAtIsNil(), membership.HasUserWith(user.DeletedAtIsNil())).
		WithUser().
		Order(membership.ByJoinedAt(), membership.ByID()).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load read markers: %w", err)
	}
	viewerJoined := map[int]int64{} // room → the seq the viewer joined after
	for _, m := range ms {
		if m.UserID == v.UserID {
			viewerJoined[m.RoomID] = m.JoinedSeq
		}
	}
	msgs, err := s.db.Message.Query().
		Where(message.RoomIDIn(roomIDs...), markedRead(roomIDs)).
		Unique(true).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load read messages: %w", err)
	}
	type at struct {
		room int
		seq  int64
	}
	bySeq := make(map[at]*ent.Message, len(msgs))
	for _, m := range msgs {
		bySeq[at{m.RoomID, m.Seq}] = m
	}
	for _, m := range ms {
		joined, in := viewerJoined[m.RoomID]
		if !in {
			continue // not the viewer's room: nothing to tell
		}
		r := &ReadReceipt{User: m.Edges.User, ReadAt: m.LastReadAt}
		if m.LastReadSeq > m.JoinedSeq && m.LastReadSeq > joined {
			r.LastRead = bySeq[at{m.RoomID, m.LastReadSeq}]
		}
		out[m.RoomID] = append(out[m.RoomID], r)
	}
	return out, nil
}

// markedRead is the predicate "a current member of one of rooms has their
// read marker on the message": a join from the memberships of those rooms
// to the messages at their markers, one unique-index lookup per member.
func markedRead(rooms []int) func(*sql.Selector) {
	return func(s *sql.Selector) {
		t := sql.Table(membership.Table)
		s.Join(t).OnP(sql.And(
			sql.ColumnsEQ(t.C(membership.FieldRoomID), s.C(message.FieldRoomID)),
			sql.ColumnsEQ(t.C(membership.FieldLastReadSeq), s.C(message.FieldSeq)),
		))
		ids := make([]any, len(rooms))
		for i, id := range rooms {
			ids[i] = id
		}
		s.Where(sql.And(sql.In(t.C(membership.FieldRoomID), ids...), sql.IsNull(t.C(membership.FieldLeftAt))))
	}
}
