package chat

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/ratelimit"
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
		s.typing.forget(ctx, e.ActorID, e.RoomID) // the streams took the sender as no longer typing
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
		return s.notify(ctx, e, NotifyRoomAdded)
	case EventMemberRemoved:
		// Their streams of the room end (as on a leave), the others'
		// roomEvents get a RoomChangedEvent, and their rooms list hears of
		// it. A failed room publish does not stop the notifications:
		// they are held and published again (emitNote); the streams end
		// on the SYSTEM message of the removal, which is held too.
		var failed error
		for _, uid := range e.UserIDs {
			if err := s.publishRoom(ctx, e.RoomID, "left", uid); err != nil {
				failed = err
			}
		}
		return cmp.Or(s.notify(ctx, e, NotifyRoomRemoved), failed)
	case EventFriendRequest:
		return s.notify(ctx, e, NotifyFriendRequest)
	case EventFriendAccepted:
		return s.notify(ctx, e, NotifyFriendAccepted)
	}
	return nil
}

func (s *Service) emitTo(ctx context.Context, topic string, v any) error {
	if !s.listened(topic) {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.broker.Publish(ctx, topic, b)
}

// publishMessage sends a stored message to its room's topic and its
// NEW_MESSAGE notifications (stored with it, see storeNotifications) to
// their recipients: a fixed number of queries per message, whatever the
// number of subscribers.
func (s *Service) publishMessage(ctx context.Context, e Event) error {
	m := e.Message
	wm, sender, r, err := s.wireOf(ctx, m, e.Sender, e.Room)
	if err != nil {
		return err
	}
	wm.Reactions = []wireReaction{} // a new message has none yet
	// A failed room publish does not stop the notifications: it and they
	// are held and published again (emitHeld, emitNote).
	failed := s.emitHeld(ctx, roomTopic(m.RoomID), roomEvent{Type: "message", Message: wm, Left: e.Left})
	if m.Kind == message.KindSYSTEM {
		return failed // nobody is notified of joins and leaves
	}
	// Whom it notified, their notifications and totals: known from the
	// send's transaction, else read in one query.
	recipients := e.recipients
	if !e.recipientsKnown {
		if recipients, err = s.recipientNotes(ctx, m.ID); err != nil {
			return err
		}
	}
	// The same for every recipient but its id and total: encoded once.
	var shared []byte
	for _, rn := range recipients {
		topic := userTopic(rn.userID)
		if !s.listened(topic) {
			continue
		}
		if shared == nil {
			if shared, err = json.Marshal(userEvent{
				Kind: NotifyNewMessage, Room: toWireRoom(r), Message: wm, Actor: toWireUser(sender), CreatedAt: m.CreatedAt,
			}); err != nil {
				return err
			}
		}
		if err := s.publishOrHold(ctx, topic, noteJSON(shared, rn.id, rn.total)); err != nil {
			failed = err // the others still get theirs (or are held too)
		}
	}
	return failed
}

// notify publishes the notifications of kind stored with e (those who
// blocked the actor have none).
func (s *Service) notify(ctx context.Context, e Event, kind NotificationKind) error {
	if len(e.notes) == 0 {
		return nil
	}
	users := slices.Sorted(maps.Keys(e.notes))
	actor, err := s.db.User.Get(ctx, e.ActorID)
	if err != nil {
		return fmt.Errorf("load actor %d: %w", e.ActorID, err)
	}
	var r *ent.Room
	if e.RoomID != 0 {
		if r, err = s.db.Room.Get(ctx, e.RoomID); err != nil {
			return fmt.Errorf("load room %d: %w", e.RoomID, err)
		}
	}
	totals, err := s.unreadTotals(ctx, users)
	if err != nil {
		return err
	}
	wr, wa := toWireRoom(r), toWireUser(actor) // the same for every recipient
	var failed error
	for _, uid := range users {
		err := s.emitNote(ctx, uid, userEvent{
			ID: e.notes[uid], Kind: kind, Room: wr, Actor: wa, TotalUnread: new(totals[uid]), CreatedAt: e.notedAt,
		})
		if err != nil {
			failed = err
		}
	}
	return failed
}

// activeSubs counts each user's live subscriptions on this instance and,
// with shared, in Redis, so that the cap holds across instances.
//
// Each user's count has a lock of its own, held across the Redis call
// that writes it: one user's check waiting on Redis holds back that
// user's subscribes only, and the writes of a user's count (acquire,
// release, the lease refresh) reach Redis in the order they were made, so
// none overwrites a newer count with an older one.
type activeSubs struct {
	mu    sync.Mutex // guards users and each userSubs' refs
	users map[int]*userSubs
	// shared holds each user's count of this instance in Redis, where
	// acquire checks the sum over instances (nil: this instance only).
	shared *ratelimit.Redis
	log    *slog.Logger
}

// userSubs is one user's count. It stays in activeSubs.users while the
// count is above 0 or someone is about to use it (refs).
type userSubs struct {
	mu   sync.Mutex // guards n, and orders the writes of n to Redis
	n    int
	refs int // guarded by activeSubs.mu
}

const subsLimit = "subs"

// pin returns userID's entry, kept in the map until unpin.
func (a *activeSubs) pin(userID int) *userSubs {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.users == nil {
		a.users = map[int]*userSubs{}
	}
	u := a.users[userID]
	if u == nil {
		u = &userSubs{}
		a.users[userID] = u
	}
	u.refs++
	return u
}

// unpin undoes pin; the caller holds u.mu.
func (a *activeSubs) unpin(userID int, u *userSubs) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if u.refs--; u.refs == 0 && u.n <= 0 {
		delete(a.users, userID)
	}
}

func (a *activeSubs) acquire(userID int) bool {
	u := a.pin(userID)
	u.mu.Lock()
	defer u.mu.Unlock()
	defer a.unpin(userID, u)
	if u.n >= maxSubsPerUser {
		return false
	}
	if a.shared != nil {
		ok, err := a.shared.Hold(context.Background(), ratelimit.UserKey(subsLimit, userID), u.n+1, maxSubsPerUser)
		if err != nil {
			a.log.Debug("subscription cap not counted in Redis: counting on this instance", "user_id", userID, "err", err)
		} else if !ok {
			return false
		}
	}
	u.n++
	return true
}

func (a *activeSubs) release(userID int) {
	u := a.pin(userID)
	u.mu.Lock()
	defer u.mu.Unlock()
	defer a.unpin(userID, u)
	if u.n > 0 {
		u.n--
	}
	if a.shared != nil {
		if _, err := a.shared.Hold(context.Background(), ratelimit.UserKey(subsLimit, userID), u.n, 0); err != nil {
			a.log.Debug("subscription cap: release not counted in Redis (it lapses)", "user_id", userID, "err", err)
		}
	}
}

// refresh calls write with each user's count of this instance, by its key
// under subsLimit + ":", holding the user's lock meanwhile (see
// ratelimit.Redis.Holding); it stops at write's first error.
func (a *activeSubs) refresh(write func(key string, n int) error) {
	a.mu.Lock()
	ids := make([]int, 0, len(a.users))
	for id := range a.users {
		ids = append(ids, id)
	}
	a.mu.Unlock()
	for _, id := range ids {
		u := a.pin(id)
		u.mu.Lock()
		var err error
		if u.n > 0 {
			err = write(strconv.Itoa(id), u.n)
		}
		a.unpin(id, u)
		u.mu.Unlock()
		if err != nil {
			return
		}
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
	p, err := s.MessageAddedStream(ctx, v, roomID, afterID)
	if err != nil {
		return nil, err
	}
	return p.C(), nil
}

// MessageAddedStream is MessageAdded as a Stream its reader pulls: no
// goroutine of its own.
func (s *Service) MessageAddedStream(ctx context.Context, v viewer.Viewer, roomID int, afterID *int) (*Stream[*ent.Message], error) {
	if !s.subs.acquire(v.UserID) {
		return nil, ErrTooManySubscriptions
	}
	p, err := s.messageAdded(ctx, v, roomID, afterID)
	if err != nil {
		s.subs.release(v.UserID)
	}
	return p, err
}

func (s *Service) messageAdded(ctx context.Context, v viewer.Viewer, roomID int, afterID *int) (*Stream[*ent.Message], error) {
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
	p := &Stream[*ent.Message]{ctx: ctx}
	st := &stream{s: s, ctx: ctx, v: v, roomID: roomID, order: bySeq, last: from, joinedSeq: mem.JoinedSeq,
		liveSub: liveSub{sub: sub}, filling: true, send: func(x any) error { p.push(x.(*ent.Message)); return nil }}
	st.wrap = func(m *ent.Message) any { return m }
	p.start(st)
	return p, nil
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
	st.sub, st.filling = sub, true
	go func() {
		defer s.subs.release(st.v.UserID)
		defer done()
		st.ended(st.run())
	}()
}

// ended logs why the stream ended and, when its consumer fell behind,
// drops the consumer.
func (st *stream) ended(err error) {
	ctx, s, v, roomID := st.ctx, st.s, st.v, st.roomID
	switch {
	case err == nil || errors.Is(err, errClosed):
	case errors.Is(err, errGone):
		s.log.InfoContext(ctx, "room stream ended: no longer a member", "user_id", v.UserID, "room_id", roomID)
	case errors.Is(err, errSlow):
		s.log.WarnContext(ctx, "subscriber dropped: too slow", "user_id", v.UserID, "room_id", roomID)
		overflow(ctx)
	case ctx.Err() == nil:
		s.log.ErrorContext(ctx, "room stream ended", "user_id", v.UserID, "room_id", roomID, "err", err)
	}
}

// errWouldBlock: a step that may not block had nothing to do.
var errWouldBlock = errors.New("stream: would block")

// errClosed ends a stream whose subscription was closed by its owner.
var errClosed = errors.New("stream closed")

// source is what a Stream pulls from: step waits for the next thing to
// happen and handles it, handing what it delivers to the Stream (push);
// an error ends the stream. close closes the broker subscription (from
// any goroutine, also while step runs); ended reports why it ended.
type source interface {
	step(block bool) error
	// setWake makes the source call f (from any goroutine) whenever a
	// step may have something to do.
	setWake(f func())
	close()
	ended(err error)
	userID() int
	service() *Service
}

// Stream is a live subscription that its reader pulls: Next runs the
// stream's work (broker events, replays, gap reads, timers) in the
// reader's goroutine, so a subscription that waits holds no goroutine of
// its own. When ctx ends the broker subscription is closed and the
// viewer's slot released, whether or not anyone is in Next.
type Stream[T any] struct {
	ctx   context.Context
	src   source
	svc   *Service
	queue []T // delivered, not yet taken by Next
	head  int
	err   error // why it ended; set by Next's goroutine
	once  sync.Once
	stop  func() bool
}

func (p *Stream[T]) push(v T) { p.queue = append(p.queue, v) }

func (p *Stream[T]) start(src source) {
	p.src = src
	p.svc = src.service()
	p.stop = context.AfterFunc(p.ctx, func() { p.finish(p.ctx.Err()) })
}

// finish ends the stream once: the subscription closes, the slot is
// released and the end reported.
func (p *Stream[T]) finish(err error) {
	p.once.Do(func() {
		p.src.close()
		p.svc.subs.release(p.src.userID())
		p.src.ended(err)
	})
}

// Next returns the next value, waiting for it; false once the stream has
// ended (or ctx has). One goroutine at a time (Ready included).
func (p *Stream[T]) Next() (T, bool) {
	var zero T
	p.fill(true)
	if p.head == len(p.queue) {
		return zero, false
	}
	v := p.queue[p.head]
	p.queue[p.head] = zero
	p.head++
	return v, true
}

// Peek returns the value Next would return now, without taking it; false
// when none is queued (Ready queues what is there).
func (p *Stream[T]) Peek() (T, bool) {
	if p.head < len(p.queue) {
		return p.queue[p.head], true
	}
	var zero T
	return zero, false
}

// Ready does the stream's work that is ready to be done without waiting
// and reports whether Next would now return at once (a value, or the
// end). With SetWake, a reader can call Next only when Ready says so and
// hold no goroutine while the stream waits.
func (p *Stream[T]) Ready() bool { return p.fill(false) }

// SetWake makes the stream call f, from any goroutine, whenever Ready may
// have become true: a broker event arrived, a timer fired, the stream
// ended (the end of ctx closes the broker subscription, which calls f).
// f must be quick (it may run under the broker's lock). Call it before
// the first Ready.
func (p *Stream[T]) SetWake(f func()) { p.src.setWake(f) }

// fill steps the source until a value is queued or the stream ends; when
// not block, it stops as soon as a step would wait (false).
func (p *Stream[T]) fill(block bool) bool {
	for p.head == len(p.queue) {
		if p.err != nil {
			return true
		}
		p.queue, p.head = p.queue[:0], 0
		if cap(p.queue) > 16 {
			p.queue = nil // what a replay page left
		}
		err := p.src.step(block)
		if err == errWouldBlock {
			return false
		}
		if err != nil {
			p.err = err
			p.stop()
			p.finish(err)
		}
	}
	return true
}

// C returns the stream as a channel, fed by a goroutine of its own, closed
// when the stream ends.
func (p *Stream[T]) C() <-chan T {
	out := make(chan T)
	go func() {
		defer close(out)
		for {
			v, ok := p.Next()
			if !ok || sendTo(p.ctx, out, v) != nil {
				return
			}
		}
	}()
	return out
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
	Again   bool
}

func decodeRoomEvent(b []byte) (*liveRoomEvent, error) {
	var e roomEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode room event: %w", err)
	}
	return &liveRoomEvent{Type: e.Type, Message: e.Message.ent(), UserID: e.UserID, Left: e.Left,
		Room: e.Room.ent(), User: e.User.ent(), Typing: e.Typing, ReadAt: e.ReadAt, Again: e.Again}, nil
}

// decodeNotification decodes a user event into the notification every
// subscription of the user on this instance shares (read-only).
func decodeNotification(b []byte) (*Notification, error) {
	var e userEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	n := &Notification{ID: e.ID, Kind: e.Kind, Room: e.Room.ent(), Message: e.Message.ent(), Actor: e.Actor.ent(),
		CreatedAt: e.CreatedAt, ReadAt: e.ReadAt}
	if e.TotalUnread != nil {
		n.TotalUnread = *e.TotalUnread
	} else {
		n.totalUnknown = true
	}
	return n, nil
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

	liveSub
	// filling: a read from the database is under way, up to fillUntil
	// (0: all), one page per step.
	filling   bool
	fillUntil int64
	gap       *time.Timer // an AfterFunc timer that signals gapCh
	gapCh     chan struct{}
	gapC      <-chan struct{} // gapCh while the gap timer is armed, else nil
	// done is ctx.Done(), taken once: ctx is the subscription's, under
	// a long chain of values that Done would walk at every step.
	done <-chan struct{}
}

func (st *stream) userID() int       { return st.v.UserID }
func (st *stream) service() *Service { return st.s }

// liveSub is a stream's broker subscription, taken again after an
// outage (setSub) while another goroutine (the end of ctx) may close it.
type liveSub struct {
	mu     sync.Mutex // guards sub and closed
	sub    *pubsub.Subscription
	closed bool
	wake   atomic.Pointer[func()] // what setWake gave, for the next sub
}

// close closes the broker subscription, now and after any resubscribe.
func (l *liveSub) close() {
	l.mu.Lock()
	l.closed = true
	sub := l.sub
	l.mu.Unlock()
	sub.Close()
}

// setSub takes sub as the subscription, unless the stream was closed
// meanwhile.
func (l *liveSub) setSub(sub *pubsub.Subscription) error {
	l.mu.Lock()
	closed := l.closed
	if !closed {
		l.sub = sub
	}
	l.mu.Unlock()
	if closed {
		sub.Close()
		return errClosed
	}
	if w := l.wake.Load(); w != nil {
		sub.Notify(*w)
	}
	return nil
}

// setWake implements source.
func (l *liveSub) setWake(f func()) {
	l.wake.Store(&f)
	l.mu.Lock()
	sub := l.sub
	l.mu.Unlock()
	sub.Notify(f)
}

// run runs the stream until it ends (runStream's goroutine).
func (st *stream) run() error {
	defer func() {
		st.close()
		st.stopTimers()
	}()
	for {
		if err := st.step(true); err != nil {
			return err
		}
	}
}

func (st *stream) stopTimers() {
	if st.gap != nil {
		st.gap.Stop()
	}
	st.typing.stop()
}

// step does the stream's next piece of work: a page of a database read
// under way, or else the next live event, timer or the end of ctx. Unless
// block, it returns errWouldBlock at once when there is nothing to do.
func (st *stream) step(block bool) error {
	if st.filling {
		done, err := st.fillPage(st.fillUntil)
		if err != nil {
			return err
		}
		st.filling = !done
		return nil
	}
	if st.done == nil {
		st.done = st.ctx.Done()
	}
	var (
		b  *pubsub.Payload
		ok bool
	)
	if block {
		select {
		case <-st.done:
			return st.ctx.Err()
		case <-st.typing.expired():
			return st.typing.expire(st)
		case <-st.gapC:
			return st.gapDue()
		case <-st.sub.Ready():
		}
	} else {
		select {
		case <-st.done:
			return st.ctx.Err()
		case <-st.typing.expired():
			return st.typing.expire(st)
		case <-st.gapC:
			return st.gapDue()
		default:
			if !st.sub.Pending() { // (no Ready: a pulled subscription makes no channel)
				return errWouldBlock
			}
		}
	}
	if b, ok = takeNext(st.sub); b == nil && ok {
		return nil // nothing after all: look again
	}
	if !ok {
		switch err := st.sub.Err(); {
		case err == nil:
			return errClosed
		case errors.Is(err, pubsub.ErrSlowConsumer):
			return errSlow
		case errors.Is(err, pubsub.ErrDisconnected):
			// The broker lost what was published meanwhile: subscribe
			// again, then catch up from the database.
			sub, err := st.s.resubscribe(st.ctx, roomTopic(st.roomID), st.s.queue)
			if err != nil {
				return err
			}
			if err := st.setSub(sub); err != nil {
				return err
			}
			st.filling, st.fillUntil = true, 0
			return nil
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
	case len(st.pending) > 0 && st.gapC == nil:
		st.armGap()
	case len(st.pending) == 0 && st.gapC != nil:
		// The missing message came: no database read for this gap.
		st.gap.Stop()
		st.gapC = nil
	}
	return nil
}

// armGap starts the wait for a missing seq: gapC receives after gapWait
// (and the wake hook, if any, is called).
func (st *stream) armGap() {
	if st.gapCh == nil {
		st.gapCh = make(chan struct{}, 1)
	}
	select {
	case <-st.gapCh: // a stale signal of a timer stopped too late
	default:
	}
	if st.gap == nil {
		st.gap = time.AfterFunc(gapWait, st.gapFired)
	} else {
		st.gap.Reset(gapWait)
	}
	st.gapC = st.gapCh
}

func (st *stream) gapFired() {
	select {
	case st.gapCh <- struct{}{}:
	default:
	}
	if w := st.wake.Load(); w != nil {
		(*w)()
	}
}

// gapDue starts reading a missing seq from the database, unless the gap
// filled itself meanwhile.
func (st *stream) gapDue() error {
	st.gapC = nil
	if len(st.pending) == 0 {
		return nil
	}
	st.filling, st.fillUntil = true, st.lowestPending()
	return nil
}

// catchUp reads the room from the database from the last key delivered:
// for an event published again after a broker outage, which may come long
// after the viewer left, or left and came back (the read checks the
// membership), and after others it overtook were delivered.
func (st *stream) catchUp() error {
	st.filling, st.fillUntil = true, 0
	return nil
}

// handle takes one live event of the room.
func (st *stream) handle(e *liveRoomEvent) error {
	switch e.Type {
	case "left":
		if e.UserID == st.v.UserID {
			return errGone // ends the subscription: the viewer left
		}
	case "message":
		if st.order.key(e.Message) <= st.last {
			return nil // delivered or skipped already
		}
		if e.Again {
			return st.catchUp()
		}
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
		if st.order != byRevision || st.order.key(e.Message) <= st.last {
			return nil
		}
		if e.Again {
			return st.catchUp()
		}
		return st.offer(e.Message)
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
		if st.pending == nil {
			st.pending = map[int64]*ent.Message{}
		}
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

// fillPage reads from the database the next page of what comes after the
// last delivered key, up to (not including) until, or all of it when until
// is 0, and delivers it; done reports that nothing is left to read. Each
// page is delivered only if the viewer is still a member once it has been
// read (errGone otherwise): a leave commits its SYSTEM message with it, so
// a page that holds messages from after the leave is always refused. A
// viewer who left and came back meanwhile skips what was sent before the
// return, as a new subscription would.
func (st *stream) fillPage(until int64) (done bool, err error) {
	q := st.order.page(st.s.db.Message.Query().Where(message.RoomID(st.roomID)), st.last, until).
		Limit(replayPage).
		WithSender().
		WithAttachment().
		WithRoom().
		WithReplyTo(withQuoted)
	page, err := q.All(st.ctx)
	if err != nil {
		return false, fmt.Errorf("replay room %d: %w", st.roomID, err)
	}
	mem, err := currentMember(st.ctx, st.s.db, st.roomID, st.v.UserID)
	if errors.Is(err, ErrRoomNotFound) {
		return false, errGone
	}
	if err != nil {
		return false, err
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
			return false, err
		}
	}
	if len(page) == replayPage {
		return false, nil
	}
	if st.order == byRevision && until > 0 && st.last < until-1 {
		// What is missing below until was changed again later: its
		// newest change comes at its own place.
		st.skipTo(until - 1)
	}
	// Held changes the database had newer ones of are done with.
	st.skipTo(st.last)
	return true, st.flush()
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

// takeNext takes sub's next payload once sub.Ready has received, as a
// receive from a channel would: ok is false once the subscription has
// ended; a nil payload with ok means there was nothing after all.
func takeNext(sub *pubsub.Subscription) (b *pubsub.Payload, ok bool) {
	b, ended := sub.Next()
	return b, !ended
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

// Notifications streams the viewer's notifications until ctx ends; see
// NotificationStream.
func (s *Service) Notifications(ctx context.Context, v viewer.Viewer, afterID *int) (<-chan *Notification, error) {
	p, err := s.NotificationStream(ctx, v, afterID)
	if err != nil {
		return nil, err
	}
	return p.C(), nil
}

// NotificationStream is Notifications as a Stream its reader pulls: no
// goroutine of its own. With afterID (a notification's id), it first
// replays the viewer's stored notifications after it from the database,
// then goes on live: no gap, no repeat. After a broker outage it catches
// up the same way from the last one it delivered, so what was published
// while the broker was unreachable still arrives.
func (s *Service) NotificationStream(ctx context.Context, v viewer.Viewer, afterID *int) (*Stream[*Notification], error) {
	if !s.subs.acquire(v.UserID) {
		return nil, ErrTooManySubscriptions
	}
	// Live first, then look at the database: whatever commits from here
	// on arrives through the subscription.
	sub, err := s.broker.Subscribe(ctx, userTopic(v.UserID), s.queue)
	if err != nil {
		s.subs.release(v.UserID)
		return nil, fmt.Errorf("subscribe to notifications: %w", err)
	}
	n := &notifStream{s: s, ctx: ctx, v: v, liveSub: liveSub{sub: sub}}
	if afterID != nil {
		n.floor, n.from, n.filling = *afterID, *afterID, true
	} else if n.floor, err = s.latestNotification(ctx, v.UserID); err != nil {
		sub.Close()
		s.subs.release(v.UserID)
		return nil, err
	}
	p := &Stream[*Notification]{ctx: ctx}
	n.send = p.push
	p.start(n)
	return p, nil
}

// maxSeen bounds the ids a notification stream remembers delivering
// (notifStream.seen).
const maxSeen = 128

// notifStream is the source of a user's notifications.
//
// Ids are given out in insert order but transactions commit in their own
// order, so a notification may arrive live after one with a higher id,
// and one may arrive twice: replayed from the database and live, or
// published again after a broker error though it had gone through. The
// stream therefore remembers which ids it delivered above floor (seen) and
// delivers each id once; it never drops a notification for its id being
// low. A replay (the resume from after, and the catch-up after a broker
// outage) reads what is after floor and skips what it delivered: one that
// committed late, under a lower id than some delivered already, and was
// lost in the outage is found too.
//
// seen holds the maxSeen highest ids delivered; when it overflows, floor
// moves up to its lower half. A repeat that comes from below floor is
// delivered again, and a replay misses what was lost below it: both need
// maxSeen/2 notifications delivered to the user between the id's insert
// and its last arrival.
type notifStream struct {
	s    *Service
	ctx  context.Context
	v    viewer.Viewer
	send func(*Notification)

	floor   int   // the ids up to it are settled: the stream is past them
	seen    []int // ids delivered above floor, ascending
	from    int   // where the replay under way reads next
	filling bool  // a replay from the database is under way, one page per step

	liveSub
	done <-chan struct{} // ctx.Done(), taken once (see stream.done)
}

func (n *notifStream) userID() int       { return n.v.UserID }
func (n *notifStream) service() *Service { return n.s }

func (n *notifStream) ended(err error) {
	if errors.Is(err, errSlow) {
		overflow(n.ctx)
	}
}

// delivered reports whether id was delivered already.
func (n *notifStream) delivered(id int) bool {
	_, ok := slices.BinarySearch(n.seen, id)
	return ok
}

// deliver sends nt and remembers its id.
func (n *notifStream) deliver(nt *Notification) {
	i, _ := slices.BinarySearch(n.seen, nt.ID)
	n.seen = slices.Insert(n.seen, i, nt.ID)
	if len(n.seen) > maxSeen {
		half := len(n.seen) / 2
		n.floor = max(n.floor, n.seen[half-1])
		n.seen = append(n.seen[:0], n.seen[half:]...)
	}
	n.send(nt)
}

// fillPage delivers the next page of stored notifications of the replay
// under way, but those delivered already.
func (n *notifStream) fillPage() error {
	page, next, more, err := n.s.notificationsAfter(n.ctx, n.v.UserID, n.from, n.delivered)
	if err != nil {
		return err
	}
	for _, nt := range page {
		n.deliver(nt)
	}
	n.from, n.filling = next, more
	return nil
}

// step does the stream's next piece of work: a page of a replay under way,
// or else the next live notification or the end of ctx. Unless block, it
// returns errWouldBlock at once when there is nothing to do.
func (n *notifStream) step(block bool) error {
	if n.filling {
		return n.fillPage()
	}
	if n.done == nil {
		n.done = n.ctx.Done()
	}
	var (
		b  *pubsub.Payload
		ok bool
	)
	if block {
		select {
		case <-n.done:
			return n.ctx.Err()
		case <-n.sub.Ready():
		}
	} else {
		select {
		case <-n.done:
			return n.ctx.Err()
		default:
			if !n.sub.Pending() { // (no Ready: a pulled subscription makes no channel)
				return errWouldBlock
			}
		}
	}
	if b, ok = takeNext(n.sub); b == nil && ok {
		return nil // nothing after all: look again
	}
	if !ok {
		switch err := n.sub.Err(); {
		case err == nil:
			return errClosed
		case errors.Is(err, pubsub.ErrSlowConsumer):
			return errSlow
		case errors.Is(err, pubsub.ErrDisconnected):
			// The broker lost what was published meanwhile: subscribe
			// again, then catch up from the database (the fill goes on
			// in this same Ready).
			sub, err := n.s.resubscribe(n.ctx, userTopic(n.v.UserID), n.s.queue)
			if err != nil {
				return err
			}
			if err := n.setSub(sub); err != nil {
				return err
			}
			n.from, n.filling = n.floor, true
			return nil
		default:
			return err
		}
	}
	nt, err := pubsub.Decode(b, decodeNotification)
	if err != nil {
		n.s.log.ErrorContext(n.ctx, "decode notification", "err", err)
		return nil
	}
	if n.delivered(nt.ID) {
		return nil // replayed, or published again though it had gone through
	}
	if nt, err = n.withTotal(nt); err != nil {
		return err
	}
	n.deliver(nt)
	return nil
}

// withTotal returns nt with the user's unread total: nt itself, unless
// nobody read the total when it was published (its user was offline
// then, see onlineTotals); then a copy with the total now. nt is shared
// by the user's streams on this instance, so it is not changed.
func (n *notifStream) withTotal(nt *Notification) (*Notification, error) {
	if !nt.totalUnknown {
		return nt, nil
	}
	total, err := n.s.TotalUnread(n.ctx, n.v)
	if err != nil {
		return nil, err
	}
	c := *nt
	c.TotalUnread, c.totalUnknown = total, false
	return &c, nil
}
