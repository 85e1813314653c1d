package chat

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/ratelimit"
	"github.com/chatty/chatty/internal/viewer"
)

// Typing: setTyping relays "typing" events through the room's topic (so
// every instance's streams see them); nothing is stored. Each roomEvents
// stream keeps who is typing as it saw them and says "stopped" itself when
// a typer stops, sends a message, leaves, or does not renew in time: no
// instance has to be alive for the "stopped" to come.

const (
	// TypingTimeout is how long "typing" holds without a renewal (see
	// WithTypingTimeout).
	TypingTimeout = 6 * time.Second
	// typingRenewal is how often, at most, a renewal of one user in one
	// room is relayed.
	typingRenewal = time.Second
)

// WithTypingTimeout sets how long "typing" holds without a renewal
// (TypingTimeout; tests shorten it).
func WithTypingTimeout(d time.Duration) Option { return func(s *Service) { s.typingTimeout = d } }

func (s *Service) typingFor() time.Duration {
	if s.typingTimeout > 0 {
		return s.typingTimeout
	}
	return TypingTimeout
}

// typingGate rate-limits the typing events of each user in each room on
// this instance, or across instances with shared.
type typingGate struct {
	mu   sync.Mutex
	last map[[2]int]typingState
	// shared decides in Redis (nil: here); on a Redis error, here.
	shared *ratelimit.Redis
	log    *slog.Logger
}

// allowShared is allow across instances when the gate has Redis; ok is
// false when it has none or Redis failed (then allow decides).
func (g *typingGate) allowShared(ctx context.Context, userID, roomID int, typing bool) (allowed, ok bool) {
	if g.shared == nil {
		return false, false
	}
	allowed, err := g.shared.Relay(ctx, typingKey(userID, roomID), typing, typingRenewal, TypingTimeout)
	if err != nil {
		g.log.DebugContext(ctx, "typing limit not counted in Redis: counting on this instance", "err", err)
		return false, false
	}
	return allowed, true
}

func typingKey(userID, roomID int) string {
	return "typing:" + strconv.Itoa(userID) + ":" + strconv.Itoa(roomID)
}

type typingState struct {
	typing bool
	at     time.Time
}

// allow reports whether userID's typing (or not) in roomID is relayed: a
// start or a stop, and a renewal a second after the last one relayed.
func (g *typingGate) allow(userID, roomID int, typing bool, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil {
		g.last = map[[2]int]typingState{}
	}
	if len(g.last) > 4096 { // forget what has long expired
		for k, st := range g.last {
			if now.Sub(st.at) > TypingTimeout {
				delete(g.last, k)
			}
		}
	}
	k := [2]int{userID, roomID}
	prev, seen := g.last[k]
	if seen && prev.typing == typing && (!typing || now.Sub(prev.at) < typingRenewal) {
		return false
	}
	g.last[k] = typingState{typing: typing, at: now}
	return true
}

// forget drops what the gate knows of userID in roomID: their next typing
// is relayed (after a message, streams take them as no longer typing).
func (g *typingGate) forget(ctx context.Context, userID, roomID int) {
	if g.shared != nil {
		if err := g.shared.Forget(ctx, typingKey(userID, roomID)); err != nil {
			g.log.DebugContext(ctx, "typing limit: forgetting in Redis failed (it lapses)", "err", err)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.last, [2]int{userID, roomID})
}

// SetTyping tells the room's other members that the viewer is typing, or
// stopped. A renewal more often than once a second is not relayed.
func (s *Service) SetTyping(ctx context.Context, v viewer.Viewer, roomID int, typing bool) (bool, error) {
	if _, err := postingMember(ctx, s.db, roomID, v.UserID); err != nil { // nobody types past a block
		return false, err
	}
	allowed, decided := s.typing.allowShared(ctx, v.UserID, roomID, typing)
	if !decided {
		allowed = s.typing.allow(v.UserID, roomID, typing, time.Now())
	}
	if !allowed {
		return true, nil
	}
	u, err := s.db.User.Get(ctx, v.UserID)
	if err != nil {
		return false, fmt.Errorf("load user %d: %w", v.UserID, err)
	}
	err = s.emitTo(ctx, roomTopic(roomID), roomEvent{Type: "typing", UserID: v.UserID, User: toWireUser(u), Typing: typing})
	if err != nil {
		return false, fmt.Errorf("relay typing in room %d: %w", roomID, err)
	}
	return true, nil
}

// typers are the members typing as one stream saw them, each until a
// deadline; one timer, for the nearest deadline, while anyone types.
type typers struct {
	until map[int]time.Time
	users map[int]*ent.User
	timer *time.Timer
	c     <-chan time.Time
}

// expired is the channel of the nearest deadline (nil: nobody types).
func (t *typers) expired() <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.c
}

func (t *typers) stop() {
	if t != nil && t.timer != nil {
		t.timer.Stop()
	}
}

// start marks u typing until TypingTimeout from now, telling the stream's
// viewer when u was not typing before.
func (t *typers) start(st *stream, u *ent.User, now time.Time) error {
	if t.until == nil {
		t.until, t.users = map[int]time.Time{}, map[int]*ent.User{}
	}
	_, was := t.until[u.ID]
	t.until[u.ID], t.users[u.ID] = now.Add(st.s.typingFor()), u
	t.arm(now)
	if was {
		return nil
	}
	return st.send(&TypingEvent{User: u, Typing: true})
}

// stop1 ends userID's typing, telling the viewer when they were typing.
func (t *typers) stop1(st *stream, userID int) error {
	u, was := t.users[userID]
	if !was {
		return nil
	}
	delete(t.until, userID)
	delete(t.users, userID)
	t.arm(time.Now())
	return st.send(&TypingEvent{User: u, Typing: false})
}

// expire ends the typing of those who did not renew in time.
func (t *typers) expire(st *stream) error {
	t.c = nil
	now := time.Now()
	for id, until := range t.until {
		if !until.After(now) {
			if err := t.stop1(st, id); err != nil {
				return err
			}
		}
	}
	t.arm(now)
	return nil
}

// arm sets the timer to the nearest deadline, or stops it.
func (t *typers) arm(now time.Time) {
	var next time.Time
	for _, until := range t.until {
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	if next.IsZero() {
		t.stop()
		t.c = nil
		return
	}
	if t.timer == nil {
		t.timer = time.NewTimer(next.Sub(now))
	} else {
		t.timer.Stop()
		t.timer.Reset(next.Sub(now))
	}
	t.c = t.timer.C
}
