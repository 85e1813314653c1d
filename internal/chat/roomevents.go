package chat

import (
	"context"
	"fmt"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

// RoomEvent is one thing that happened in a room (roomEvents): a
// *MessageEvent, *TypingEvent, *ReadEvent or *RoomChangedEvent.
type RoomEvent interface{ isRoomEvent() }

// MessageEvent is a stored change to a message: Message as it is after the
// change (its Revision is the change's place in the room's feed).
type MessageEvent struct {
	Kind    ChangeKind
	Message *ent.Message
}

// TypingEvent says that User started or stopped typing (not stored).
type TypingEvent struct {
	User   *ent.User
	Typing bool
}

// ReadReceipt: receipts.go.

// ReadEvent says a member's read marker moved forward.
type ReadEvent struct{ Receipt *ReadReceipt }

// RoomChangedEvent says a member joined or left, or the room changed.
type RoomChangedEvent struct{ Room *ent.Room }

func (*MessageEvent) isRoomEvent()     {}
func (*TypingEvent) isRoomEvent()      {}
func (*ReadEvent) isRoomEvent()        {}
func (*RoomChangedEvent) isRoomEvent() {}

// RoomEvents streams everything that happens in a room the viewer is in.
// Stored changes to its messages come in the order of the room's change
// feed; with after (a revision of the room's feed, from a MessageEvent's
// cursor or Room.eventsCursor) the stream first replays from the database
// every change made after it (a message changed several times once, in
// its latest state, at the place of its latest change), then goes on
// live: no gap, no repeat, as messageAdded (the same stream, numbered by
// revision instead of seq). Typing, read markers and room changes are live
// only. The stream ends when the viewer leaves (or is removed from) the
// room, or ctx ends.
func (s *Service) RoomEvents(ctx context.Context, v viewer.Viewer, roomID int, after *int64) (<-chan RoomEvent, error) {
	if !s.subs.acquire(v.UserID) {
		return nil, ErrTooManySubscriptions
	}
	ch, err := s.roomEvents(ctx, v, roomID, after)
	if err != nil {
		s.subs.release(v.UserID)
	}
	return ch, err
}

// ErrBadFeedCursor refuses a roomEvents cursor the room never handed out.
var ErrBadFeedCursor = apperr.Input("after", "the cursor is not of this room's events: use a MessageEvent cursor or Room.eventsCursor of the room")

func (s *Service) roomEvents(ctx context.Context, v viewer.Viewer, roomID int, after *int64) (<-chan RoomEvent, error) {
	mem, err := currentMember(ctx, s.db, roomID, v.UserID)
	if err != nil {
		return nil, err
	}
	// Live first, then look at the database: whatever commits from here
	// on arrives through the subscription.
	sub, err := s.broker.Subscribe(ctx, roomTopic(roomID), s.queue)
	if err != nil {
		return nil, fmt.Errorf("subscribe to room %d: %w", roomID, err)
	}
	r, err := s.db.Room.Get(ctx, roomID)
	if err != nil {
		sub.Close()
		return nil, fmt.Errorf("load room %d: %w", roomID, err)
	}
	from := r.Revision
	if after != nil {
		if *after < 0 || *after > r.Revision {
			sub.Close()
			return nil, ErrBadFeedCursor
		}
		from = *after
	}
	out := make(chan RoomEvent)
	st := &stream{s: s, ctx: ctx, v: v, roomID: roomID, order: byRevision, last: from, joinedSeq: mem.JoinedSeq,
		pending: map[int64]*ent.Message{}, typing: &typers{},
		send: func(x any) error { return sendTo(ctx, out, x.(RoomEvent)) },
		wrap: func(m *ent.Message) any { return &MessageEvent{Kind: m.LastChange, Message: m} },
	}
	st.extra = st.roomExtra
	s.runStream(st, sub, func() { close(out) })
	return out, nil
}

// roomExtra turns the live events of the room that are not stored changes
// into RoomEvents (typing, read markers, room changes).
func (st *stream) roomExtra(e *liveRoomEvent) error {
	now := time.Now()
	switch e.Type {
	case "message": // its sender is no longer typing
		if e.Message.SenderID != nil {
			return st.typing.stop1(st, *e.Message.SenderID)
		}
	case "left":
		if err := st.typing.stop1(st, e.UserID); err != nil {
			return err
		}
		return st.send(&RoomChangedEvent{Room: e.Room})
	case "room":
		return st.send(&RoomChangedEvent{Room: e.Room})
	case "typing":
		if e.User == nil || e.User.ID == st.v.UserID {
			return nil
		}
		if e.Typing {
			return st.typing.start(st, e.User, now)
		}
		return st.typing.stop1(st, e.User.ID)
	case "read":
		rc := &ReadReceipt{User: e.User, ReadAt: e.ReadAt}
		if e.Message != nil && e.Message.Seq > st.joinedSeq {
			rc.LastRead = e.Message
		}
		return st.send(&ReadEvent{Receipt: rc})
	}
	return nil
}

// publishRoom tells a room's streams that it changed: kind "left" (userID
// left) or "room".
func (s *Service) publishRoom(ctx context.Context, roomID int, kind string, userID int) error {
	r, err := s.db.Room.Get(ctx, roomID)
	if err != nil {
		return fmt.Errorf("load room %d: %w", roomID, err)
	}
	return s.emitTo(ctx, roomTopic(roomID), roomEvent{Type: kind, UserID: userID, Room: toWireRoom(r)})
}

// publishRead tells a room's streams that a member's read marker moved to
// message m.
func (s *Service) publishRead(ctx context.Context, e Event) error {
	u, err := s.db.User.Get(ctx, e.ActorID)
	if err != nil {
		return fmt.Errorf("load user %d: %w", e.ActorID, err)
	}
	var wm *wireMessage
	if e.Message != nil {
		if wm, _, _, err = s.wireOf(ctx, e.Message, nil, nil); err != nil {
			return err
		}
	}
	at := e.At
	// A failed room publish does not stop the reader's ROOM_READ: that
	// one is held and published again (emitNote).
	failed := s.emitTo(ctx, roomTopic(e.RoomID), roomEvent{Type: "read", UserID: u.ID, User: toWireUser(u), Message: wm, ReadAt: &at})
	// The reader's own badges (other tabs, devices, the widget) learn the
	// new total: ROOM_READ, the reader as actor. Two reads: the room and
	// the total.
	r, err := s.db.Room.Get(ctx, e.RoomID)
	if err != nil {
		return fmt.Errorf("load room %d: %w", e.RoomID, err)
	}
	totals, err := s.unreadTotals(ctx, []int{u.ID})
	if err != nil {
		return err
	}
	if err := s.emitNote(ctx, u.ID, userEvent{
		ID: e.notes[u.ID], Kind: NotifyRoomRead, Room: toWireRoom(r), Actor: toWireUser(u), TotalUnread: new(totals[u.ID]),
		CreatedAt: at, ReadAt: &at, // stored read: the reader's own doing
	}); err != nil {
		return err
	}
	return failed
}
