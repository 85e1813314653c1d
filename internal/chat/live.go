package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/viewer"
)

// Live delivery: committed events go to the broker (room.<id> and user.<id>
// topics) with everything a subscriber shows; subscribers are fed from the
// broker, never from the database per message.

// Realtime limits.
const (
	defaultQueue   = 256 // events a subscriber may fall behind before it is dropped
	maxSubsPerUser = 200
	replayPage     = 200
	gapWait        = 250 * time.Millisecond // how long a missing seq may be in flight before it is read from the database
)

// ErrTooManySubscriptions refuses a subscription over the per-user cap.
var ErrTooManySubscriptions = apperr.New(apperr.RateLimited, "too many live subscriptions for this account (at most %d)", maxSubsPerUser)

// errSlow ends a subscription whose consumer fell behind.
var errSlow = errors.New("subscriber fell behind")

// errGone ends a messageAdded stream, cleanly, whose viewer is no longer a
// member of the room.
var errGone = errors.New("the viewer is no longer a member")

type overflowKey struct{}

// WithOverflow tells the subscriptions of ctx what to do when their
// consumer falls behind and is dropped (the WebSocket layer closes the
// connection with a code the client resumes from).
func WithOverflow(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, overflowKey{}, f)
}

func overflow(ctx context.Context) {
	if f, ok := ctx.Value(overflowKey{}).(func()); ok {
		f()
	}
}

// publishTimeout bounds the reads and the broker call of publishing one
// committed event.
const publishTimeout = 10 * time.Second

// livePublisher turns committed events into broker payloads.
type livePublisher struct{ s *Service }

// Publish implements Publisher.
func (p livePublisher) Publish(ctx context.Context, e Event) {
	// What committed is published even when its request has ended, but
	// not for ever: the reads it takes get a deadline of their own.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := p.publish(pctx, e); err != nil {
		p.s.log.ErrorContext(ctx, "publish event", "kind", e.Kind, "room_id", e.RoomID, "err", err)
	}
}

func (p livePublisher) publish(ctx context.Context, e Event) error {
	s := p.s
	switch e.Kind {
	case EventMessageCreated:
		s.typing.forget(e.ActorID, e.RoomID) // the streams took the sender as no longer typing
		return s.publishMessage(ctx, e)
	case EventMessageChanged:
		return s.publishChange(ctx, e)
	case EventMemberLeft:
		return s.publishRoom(ctx, e.RoomID, "left", e.ActorID)
	case EventReadMoved:
		return s.publishRead(ctx, e)
	case EventMemberJoined, EventRoomChanged, EventRoomRenamed:
		return s.publishRoom(ctx, e.RoomID, "room", 0)
	case EventRoomAdded:
		return s.notify(ctx, e.UserIDs, NotifyRoomAdded, e.ActorID, e.RoomID)
	case EventMemberRemoved:
		// Their streams of the room end (as on a leave), the others'
		// roomEvents get a RoomChangedEvent, and their rooms list hears of
		// it.
		for _, uid := range e.UserIDs {
			if err := s.publishRoom(ctx, e.RoomID, "left", uid); err != nil {
				return err
			}
		}
		return s.notify(ctx, e.UserIDs, NotifyRoomRemoved, e.ActorID, e.RoomID)
	case EventFriendRequest:
		return s.notify(ctx, e.UserIDs, NotifyFriendRequest, e.ActorID, 0)
	case EventFriendAccepted:
		return s.notify(ctx, e.UserIDs, NotifyFriendAccepted, e.ActorID, 0)
	}
	return nil
}

func (s *Service) emitTo(ctx context.Context, topic string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.broker.Publish(ctx, topic, b)
}

// publishMessage sends a stored message to its room's topic and a
// NEW_MESSAGE notification to each other member who has not blocked the
// sender: a fixed number of queries per message, whatever the number of
// subscribers.
func (s *Service) publishMessage(ctx context.Context, e Event) error {
	m := e.Message
	wm, sender, r, err := s.wireOf(ctx, m, e.Sender, e.Room)
	if err != nil {
		return err
	}
	wm.Reactions = []wireReaction{} // a new message has none yet
	if err := s.emitTo(ctx, roomTopic(m.RoomID), roomEvent{Type: "message", Message: wm, Left: e.Left}); err != nil {
		return err
	}
	if m.Kind == message.KindSYSTEM {
		return nil // nobody is notified of joins and leaves
	}
	// Whom to tell and their totals, in one query.
	totals, err := s.recipientTotals(ctx, m.RoomID, deref(m.SenderID))
	if err != nil {
		return err
	}
	recipients := slices.Sorted(maps.Keys(totals))
	for _, uid := range recipients {
		err := s.emitTo(ctx, userTopic(uid), userEvent{
			Kind: NotifyNewMessage, Room: toWireRoom(r), Message: wm, Actor: toWireUser(sender),
			TotalUnread: totals[uid], CreatedAt: m.CreatedAt,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// notify sends one notification to each of users, but those who blocked
// the actor.
func (s *Service) notify(ctx context.Context, users []int, kind NotificationKind, actorID, roomID int) error {
	users, err := s.withoutBlockers(ctx, users, actorID)
	if err != nil || len(users) == 0 {
		return err
	}
	actor, err := s.db.User.Get(ctx, actorID)
	if err != nil {
		return fmt.Errorf("load actor %d: %w", actorID, err)
	}
	var r *ent.Room
	if roomID != 0 {
		if r, err = s.db.Room.Get(ctx, roomID); err != nil {
			return fmt.Errorf("load room %d: %w", roomID, err)
		}
	}
	totals, err := s.unreadTotals(ctx, users)
	if err != nil {
		return err
	}
	for _, uid := range users {
		err := s.emitTo(ctx, userTopic(uid), userEvent{
			Kind: kind, Room: toWireRoom(r), Actor: toWireUser(actor), TotalUnread: totals[uid], CreatedAt: s.now(),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// activeSubs counts each user's live subscriptions on this instance.
type activeSubs struct {
	mu sync.Mutex
	n  map[int]int
}

func (a *activeSubs) acquire(userID int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n[userID] >= maxSubsPerUser {
		return false
	}
	a.n[userID]++
	return true
}

func (a *activeSubs) release(userID int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n[userID]--; a.n[userID] <= 0 {
		delete(a.n, userID)
	}
}

// MessageAdded streams the messages of a room the viewer is in, in seq
// order. With afterID (a message of the room), it first replays every
// message after it from the database, then goes on live: no gap, no
// repeat. The stream ends (the channel closes) when the viewer leaves the
// room or ctx ends.
//
// Membership is checked where the stream reads the database: at the
// replay, after a broker outage and when a missing seq is read (the gap
// timer); a viewer who is no longer a member gets nothing more. Live, the
// stream ends on the "left" event of the viewer or on the SYSTEM message
// that says so, without a query per message.
func (s *Service) MessageAdded(ctx context.Context, v viewer.Viewer, roomID int, afterID *int) (<-chan *ent.Message, error) {
	if !s.subs.acquire(v.UserID) {
		return nil, ErrTooManySubscriptions
	}
	ch, err := s.messageAdded(ctx, v, roomID, afterID)
	if err != nil {
		s.subs.release(v.UserID)
	}
	return ch, err
}

func (s *Service) messageAdded(ctx context.Context, v viewer.Viewer, roomID int, afterID *int) (<-chan *ent.Message, error) {
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
	var from int64
	if afterID != nil {
		m, err := s.db.Message.Query().Where(message.ID(*afterID), message.RoomID(roomID)).Only(ctx)
		if ent.IsNotFound(err) {
			sub.Close()
			return nil, apperr.Input("after", "the cursor is not of a message of this room")
		}
		if err != nil {
			sub.Close()
			return nil, fmt.Errorf("load message %d: %w", *afterID, err)
		}
		from = m.Seq
	} else {
		r, err := s.db.Room.Query().Where(room.ID(roomID)).Only(ctx)
		if err != nil {
			sub.Close()
			return nil, fmt.Errorf("load room %d: %w", roomID, err)
		}
		from = r.LastSeq
	}
	from = max(from, mem.JoinedSeq)
	out := make(chan *ent.Message)
	st := &stream{s: s, ctx: ctx, v: v, roomID: roomID, order: bySeq, last: from, joinedSeq: mem.JoinedSeq,
		pending: map[int64]*ent.Message{}, send: func(x any) error { return sendTo(ctx, out, x.(*ent.Message)) }}
	st.wrap = func(m *ent.Message) any { return m }
	s.runStream(st, sub, func() { close(out) })
	return out, nil
}

// sendTo hands x to out unless ctx ends first.
func sendTo[T any](ctx context.Context, out chan<- T, x T) error {
	select {
	case out <- x:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runStream runs st on sub in a goroutine of its own, which releases the
// viewer's subscription slot and calls done when it ends.
func (s *Service) runStream(st *stream, sub *pubsub.Subscription, done func()) {
	ctx, v, roomID := st.ctx, st.v, st.roomID
	go func() {
		defer s.subs.release(v.UserID)
		defer done()
		err := st.run(sub)
		switch {
		case errors.Is(err, errGone):
			s.log.InfoContext(ctx, "room stream ended: no longer a member", "user_id", v.UserID, "room_id", roomID)
		case errors.Is(err, errSlow):
			s.log.WarnContext(ctx, "subscriber dropped: too slow", "user_id", v.UserID, "room_id", roomID)
			overflow(ctx)
		case err != nil && ctx.Err() == nil:
			s.log.ErrorContext(ctx, "room stream ended", "user_id", v.UserID, "room_id", roomID, "err", err)
		}
	}()
}

// liveRoomEvent is a room event as the streams of this instance read it:
// decoded once (pubsub.Decode) and shared by every stream of the room, so
// nothing may modify it, its Message included.
type liveRoomEvent struct {
	Type    string
	Message *ent.Message // with its sender, attachment and room loaded
	UserID  int
	Left    []int
	Room    *ent.Room
	User    *ent.User
	Typing  bool
	ReadAt  *time.Time
}

func decodeRoomEvent(b []byte) (*liveRoomEvent, error) {
	var e roomEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode room event: %w", err)
	}
	return &liveRoomEvent{Type: e.Type, Message: e.Message.ent(), UserID: e.UserID, Left: e.Left,
		Room: e.Room.ent(), User: e.User.ent(), Typing: e.Typing, ReadAt: e.ReadAt}, nil
}

// decodeNotification decodes a user event into the notification every
// subscription of the user on this instance shares (read-only).
func decodeNotification(b []byte) (*Notification, error) {
	var e userEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	return &Notification{Kind: e.Kind, Room: e.Room.ent(), Message: e.Message.ent(), Actor: e.Actor.ent(), TotalUnread: e.TotalUnread, CreatedAt: e.CreatedAt}, nil
}

// order is how a stream numbers what it delivers.
type order int

const (
	// bySeq: messageAdded, each message once as it was added, seq by seq.
	bySeq order = iota
	// byRevision: roomEvents, every stored change, revision by revision. A
	// message changed again holds only its newest revision, so the older
	// ones are gone from the database: a gap read from it skips them.
	byRevision
)

func (o order) key(m *ent.Message) int64 {
	if o == byRevision {
		if m.Revision == nil {
			return 0
		}
		return *m.Revision
	}
	return m.Seq
}

// page is the query of the messages after key last, and before key until
// when until > 0, in key order.
func (o order) page(q *ent.MessageQuery, last, until int64) *ent.MessageQuery {
	if o == byRevision {
		q.Where(message.RevisionGT(last)).Order(message.ByRevision())
		if until > 0 {
			q.Where(message.RevisionLT(until))
		}
		return q
	}
	q.Where(message.SeqGT(last)).Order(message.BySeq())
	if until > 0 {
		q.Where(message.SeqLT(until))
	}
	return q
}

// stream is one subscription to a room (messageAdded, roomEvents): it
// delivers key last+1, last+2, … (see order) holding back messages that
// overtook a missing one.
type stream struct {
	s         *Service
	ctx       context.Context
	v         viewer.Viewer
	roomID    int
	order     order
	last      int64 // the key delivered last
	joinedSeq int64 // the viewer's membership began after this seq
	pending   map[int64]*ent.Message
	// send hands one value to the subscriber; wrap makes that value of a
	// message delivered in order.
	send func(any) error
	wrap func(*ent.Message) any
	// extra, when set, receives the room's other live events (typing,
	// read markers, room changes: roomEvents); typing expires its typers.
	extra  func(e *liveRoomEvent) error
	typing *typers
}

func (st *stream) run(sub *pubsub.Subscription) error {
	defer func() { sub.Close() }()
	if err := st.fill(0); err != nil { // replay
		return err
	}
	var gap *time.Timer
	var gapC <-chan time.Time
	defer func() {
		if gap != nil {
			gap.Stop()
		}
		st.typing.stop()
	}()
	for {
		select {
		case <-st.ctx.Done():
			return nil
		case <-st.typing.expired():
			if err := st.typing.expire(st); err != nil {
				return err
			}
		case <-gapC:
			gapC = nil
			if len(st.pending) == 0 {
				continue // the gap filled itself meanwhile
			}
			if err := st.fill(st.lowestPending()); err != nil {
				return err
			}
		case b, ok := <-sub.C():
			if !ok {
				switch err := sub.Err(); {
				case errors.Is(err, pubsub.ErrSlowConsumer):
					return errSlow
				case errors.Is(err, pubsub.ErrDisconnected):
					// The broker lost what was published meanwhile: subscribe
					// again, then catch up from the database.
					if sub, err = st.s.resubscribe(st.ctx, roomTopic(st.roomID), st.s.queue); err != nil {
						return err
					}
					if err := st.fill(0); err != nil {
						return err
					}
					continue
				default:
					return err
				}
			}
			e, err := pubsub.Decode(b, decodeRoomEvent)
			if err != nil {
				return err
			}
			if err := st.handle(e); err != nil {
				return err
			}
			switch {
			case len(st.pending) > 0 && gapC == nil:
				if gap == nil {
					gap = time.NewTimer(gapWait)
				} else {
					gap.Reset(gapWait)
				}
				gapC = gap.C
			case len(st.pending) == 0 && gapC != nil:
				// The missing message came: no database read for this gap.
				gap.Stop()
				gapC = nil
			}
		}
	}
}

// handle takes one live event of the room.
func (st *stream) handle(e *liveRoomEvent) error {
	switch e.Type {
	case "left":
		if e.UserID == st.v.UserID {
			return errGone // ends the subscription: the viewer left
		}
	case "message":
		if slices.Contains(e.Left, st.v.UserID) {
			return errGone // the SYSTEM message of the viewer's leaving
		}
		if st.extra != nil {
			if err := st.extra(e); err != nil { // the sender stopped typing
				return err
			}
		}
		return st.offer(e.Message)
	case "change":
		if st.order == byRevision {
			return st.offer(e.Message)
		}
		return nil
	}
	if st.extra != nil {
		return st.extra(e)
	}
	return nil
}

// offer delivers m if it is next, holds it if it overtook a missing one,
// and drops it if it was delivered already.
func (st *stream) offer(m *ent.Message) error {
	switch k := st.order.key(m); {
	case k <= st.last:
		return nil
	case k > st.last+1:
		st.pending[k] = m
		return nil
	}
	if err := st.deliver(m); err != nil {
		return err
	}
	return st.flush()
}

// flush delivers held messages that are now next in line.
func (st *stream) flush() error {
	for {
		m, ok := st.pending[st.last+1]
		if !ok {
			return nil
		}
		delete(st.pending, st.last+1)
		if err := st.deliver(m); err != nil {
			return err
		}
	}
}

func (st *stream) lowestPending() int64 {
	if len(st.pending) == 0 {
		return 0
	}
	return slices.Min(slices.Collect(maps.Keys(st.pending)))
}

// deliver sends m, or only counts it delivered when it is a change to a
// message from before the viewer joined.
func (st *stream) deliver(m *ent.Message) error {
	if m.Seq > st.joinedSeq {
		if err := st.send(st.wrap(m)); err != nil {
			return err
		}
	}
	st.last = st.order.key(m)
	return nil
}

// fill reads from the database what comes after the last delivered key,
// up to (not including) until, or all of it when until is 0. Each page is
// delivered only if the viewer is still a member once it has been read
// (errGone otherwise): a leave commits its SYSTEM message with it, so a
// page that holds messages from after the leave is always refused. A
// viewer who left and came back meanwhile skips what was sent before the
// return, as a new subscription would.
func (st *stream) fill(until int64) error {
	for {
		q := st.order.page(st.s.db.Message.Query().Where(message.RoomID(st.roomID)), st.last, until).
			Limit(replayPage).
			WithSender().
			WithAttachment().
			WithRoom().
			WithReplyTo(withQuoted)
		page, err := q.All(st.ctx)
		if err != nil {
			return fmt.Errorf("replay room %d: %w", st.roomID, err)
		}
		mem, err := currentMember(st.ctx, st.s.db, st.roomID, st.v.UserID)
		if errors.Is(err, ErrRoomNotFound) {
			return errGone
		}
		if err != nil {
			return err
		}
		st.joinedSeq = max(st.joinedSeq, mem.JoinedSeq)
		if st.order == bySeq && mem.JoinedSeq > st.last {
			st.skipTo(mem.JoinedSeq)
		}
		for _, m := range page {
			k := st.order.key(m)
			delete(st.pending, k)
			if k <= st.last {
				continue
			}
			if err := st.deliver(m); err != nil {
				return err
			}
		}
		if len(page) < replayPage {
			if st.order == byRevision && until > 0 && st.last < until-1 {
				// What is missing below until was changed again later:
				// its newest change comes at its own place.
				st.skipTo(until - 1)
			}
			// Held changes the database had newer ones of are done with.
			st.skipTo(st.last)
			return st.flush()
		}
	}
}

// skipTo takes key as delivered without delivering what is up to it.
func (st *stream) skipTo(key int64) {
	st.last = key
	for k := range st.pending {
		if k <= key {
			delete(st.pending, k)
		}
	}
}

// resubscribe subscribes to topic again after the broker lost its
// connection, retrying until it works or ctx ends.
func (s *Service) resubscribe(ctx context.Context, topic string, buffer int) (*pubsub.Subscription, error) {
	wait := 100 * time.Millisecond
	for {
		sub, err := s.broker.Subscribe(ctx, topic, buffer)
		if err == nil || errors.Is(err, pubsub.ErrClosed) {
			return sub, err
		}
		s.log.WarnContext(ctx, "resubscribe", "topic", topic, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Notifications streams the viewer's notifications until ctx ends. (A
// broker outage loses the notifications published during it; counts are
// right again with the next one.)
func (s *Service) Notifications(ctx context.Context, v viewer.Viewer) (<-chan *Notification, error) {
	if !s.subs.acquire(v.UserID) {
		return nil, ErrTooManySubscriptions
	}
	sub, err := s.broker.Subscribe(ctx, userTopic(v.UserID), s.queue)
	if err != nil {
		s.subs.release(v.UserID)
		return nil, fmt.Errorf("subscribe to notifications: %w", err)
	}
	out := make(chan *Notification)
	go func() {
		defer s.subs.release(v.UserID)
		defer close(out)
		defer func() { sub.Close() }()
		for {
			select {
			case <-ctx.Done():
				return
			case b, ok := <-sub.C():
				if !ok {
					switch err := sub.Err(); {
					case errors.Is(err, pubsub.ErrSlowConsumer):
						overflow(ctx)
						return
					case errors.Is(err, pubsub.ErrDisconnected):
						if sub, err = s.resubscribe(ctx, userTopic(v.UserID), s.queue); err != nil {
							return
						}
						continue
					}
					return
				}
				n, err := pubsub.Decode(b, decodeNotification)
				if err != nil {
					s.log.ErrorContext(ctx, "decode notification", "err", err)
					continue
				}
				select {
				case out <- n:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
