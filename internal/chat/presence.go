package chat

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/viewer"
)

// Presence knows who has a live connection, on any instance.
type Presence interface {
	// Connect records one live connection of userID until release is called.
	Connect(ctx context.Context, userID int) (release func(), err error)
	// Online reports which of userIDs have a live connection.
	Online(ctx context.Context, userIDs []int) (map[int]bool, error)
}

// MemoryPresence is the presence of a single instance.
type MemoryPresence struct {
	mu sync.Mutex
	n  map[int]int
}

// NewMemoryPresence returns an empty single-instance presence.
func NewMemoryPresence() *MemoryPresence { return &MemoryPresence{n: map[int]int{}} }

// Connect implements Presence.
func (p *MemoryPresence) Connect(_ context.Context, userID int) (func(), error) {
	p.mu.Lock()
	p.n[userID]++
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			if p.n[userID]--; p.n[userID] <= 0 {
				delete(p.n, userID)
			}
			p.mu.Unlock()
		})
	}, nil
}

// Online implements Presence.
func (p *MemoryPresence) Online(_ context.Context, userIDs []int) (map[int]bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int]bool, len(userIDs))
	for _, id := range userIDs {
		out[id] = p.n[id] > 0
	}
	return out, nil
}

// Connected records a live connection of the viewer; the returned release
// ends it, and when it was the user's last one anywhere, stamps lastSeenAt.
func (s *Service) Connected(ctx context.Context, v viewer.Viewer) (release func()) {
	done, err := s.presence.Connect(ctx, v.UserID)
	if err != nil {
		s.log.ErrorContext(ctx, "record presence", "user_id", v.UserID, "err", err)
		return func() {}
	}
	return func() {
		done()
		ctx := context.WithoutCancel(ctx)
		online, err := s.presence.Online(ctx, []int{v.UserID})
		if err != nil || online[v.UserID] {
			return
		}
		if err := s.db.User.Update().Where(user.ID(v.UserID)).SetLastSeenAt(s.now()).Exec(ctx); err != nil {
			s.log.ErrorContext(ctx, "stamp last seen", "user_id", v.UserID, "err", err)
		}
	}
}

// Online reports which of userIDs have a live connection.
func (s *Service) Online(ctx context.Context, userIDs []int) (map[int]bool, error) {
	return s.presence.Online(ctx, userIDs)
}

func sessionsTopic(userID int) string { return "sessions." + itoa(userID) }

// allSessionsTopic carries every user's ended sessions, so that one
// subscription per instance watches the sessions of all its connections.
const allSessionsTopic = "sessions"

type sessionsEnded struct {
	UserID int `json:"userId"`
}

// SessionsEnded tells every instance that sessions of userID ended, so
// the user's open connections check theirs.
func (s *Service) SessionsEnded(ctx context.Context, userID int) {
	ctx = context.WithoutCancel(ctx)
	b, _ := json.Marshal(sessionsEnded{UserID: userID})
	if err := s.broker.Publish(ctx, allSessionsTopic, b); err != nil {
		s.log.ErrorContext(ctx, "announce ended sessions", "user_id", userID, "err", err)
	}
	// The previous release's instances listen on the user's own topic:
	// announced there too while a rolling upgrade may mix the two.
	if err := s.broker.Publish(ctx, sessionsTopic(userID), []byte("{}")); err != nil {
		s.log.ErrorContext(ctx, "announce ended sessions", "user_id", userID, "err", err)
	}
}

// WatchSessions calls check whenever sessions of the viewer end, until
// stop is called (ctx is only for the subscription it may make); check
// decides (from the database) whether its connection goes on. When the
// broker loses the subscription (an outage, or it fell behind), what was
// announced meanwhile is lost: the watcher subscribes again, retrying
// until the broker is back, and then calls check, so a session that ended
// during the outage is noticed.
//
// The connections of an instance share one subscription and one
// goroutine (sessionWatch), not one each; check runs in a goroutine of
// its own. The watch holds no context: a connection's would get a
// table of children and a channel (AfterFunc) for as long as it is open;
// the connection calls stop as it closes.
func (s *Service) WatchSessions(ctx context.Context, v viewer.Viewer, check func()) (stop func(), err error) {
	return s.sessions.watch(ctx, s, v.UserID, check)
}

// sessionWatch is the instance's watch over ended sessions: one broker
// subscription, held while some connection watches.
type sessionWatch struct {
	mu       sync.Mutex
	watchers map[int]map[*func()]struct{} // by user
	n        int
	run      *watchRun     // the watching goroutine; nil when none runs
	slots    chan struct{} // session checks running at once
}

type watchRun struct{ cancel context.CancelFunc }

func (w *sessionWatch) watch(ctx context.Context, s *Service, userID int, check func()) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.run == nil {
		// Subscribed before WatchSessions returns: what ends from now on is heard.
		// Not derived from ctx: the loop outlives the first connection.
		runCtx, cancel := context.WithCancel(context.Background())
		sub, err := s.broker.Subscribe(ctx, allSessionsTopic, 64)
		if err != nil {
			cancel()
			return nil, err
		}
		w.run = &watchRun{cancel: cancel}
		go w.loop(runCtx, s, sub, w.run)
	}
	if w.watchers == nil {
		w.watchers = map[int]map[*func()]struct{}{}
	}
	if w.watchers[userID] == nil {
		w.watchers[userID] = map[*func()]struct{}{}
	}
	if w.slots == nil {
		w.slots = make(chan struct{}, maxSessionChecks)
	}
	coalesced := w.coalesce(check)
	key := &coalesced
	w.watchers[userID][key] = struct{}{}
	w.n++
	return func() { w.forget(userID, key) }, nil
}

// forget drops one watcher, and the subscription with the last one.
func (w *sessionWatch) forget(userID int, key *func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.watchers[userID][key]; !ok {
		return
	}
	delete(w.watchers[userID], key)
	if len(w.watchers[userID]) == 0 {
		delete(w.watchers, userID)
	}
	if w.n--; w.n == 0 && w.run != nil {
		w.run.cancel()
		w.run = nil
	}
}

// checks returns the checks of userID's watchers, or of all when userID is 0.
func (w *sessionWatch) checks(userID int) []func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []func()
	add := func(ws map[*func()]struct{}) {
		for k := range ws {
			out = append(out, *k)
		}
	}
	if userID != 0 {
		add(w.watchers[userID])
		return out
	}
	for _, ws := range w.watchers {
		add(ws)
	}
	return out
}

func (w *sessionWatch) callChecks(userID int) {
	for _, check := range w.checks(userID) {
		check() // coalesced: starts at most one goroutine per connection
	}
}

// maxSessionChecks bounds the session checks (each a database read) one
// instance runs at once: after an outage every connection checks.
const maxSessionChecks = 8

// coalesce returns check as a function that runs it in the background,
// within the instance's slots, and folds calls made while it runs or
// waits into one more run: announcements never pile up checks.
func (w *sessionWatch) coalesce(check func()) func() {
	var running, again atomic.Bool
	slots := w.slots
	return func() {
		again.Store(true)
		if !running.CompareAndSwap(false, true) {
			return // the running one goes once more
		}
		go func() {
			for {
				for again.Swap(false) {
					slots <- struct{}{}
					check()
					<-slots
				}
				running.Store(false)
				// A call between the last Swap and Store found it running.
				if !again.Load() || !running.CompareAndSwap(false, true) {
					return
				}
			}
		}()
	}
}

// loop hands each announcement to the checks of its user until ctx ends
// (or the broker closes).
func (w *sessionWatch) loop(ctx context.Context, s *Service, sub *pubsub.Subscription, run *watchRun) {
	defer func() {
		sub.Close()
		w.mu.Lock()
		if w.run == run { // ended by itself: the next watch subscribes again
			w.run = nil
		}
		w.mu.Unlock()
		run.cancel()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Ready():
			p, ok := takeNext(sub)
			if p == nil && ok {
				continue // nothing after all
			}
			if ok {
				var e sessionsEnded
				if err := json.Unmarshal(p.Data, &e); err != nil || e.UserID == 0 {
					s.log.ErrorContext(ctx, "decode ended sessions", "err", err)
					continue
				}
				w.callChecks(e.UserID)
				continue
			}
			if err := sub.Err(); !errors.Is(err, pubsub.ErrDisconnected) && !errors.Is(err, pubsub.ErrSlowConsumer) {
				w.callChecks(0) // the broker closed: look once more, then stop
				return
			}
			var err error
			if sub, err = s.resubscribe(ctx, allSessionsTopic, 64); err != nil {
				return // ctx ended or the broker closed
			}
			w.callChecks(0)
		}
	}
}
