package chat

import (
	"context"
	"errors"
	"sync"

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

// SessionsEnded tells every instance that sessions of userID ended, so
// the user's open connections check theirs.
func (s *Service) SessionsEnded(ctx context.Context, userID int) {
	if err := s.broker.Publish(context.WithoutCancel(ctx), sessionsTopic(userID), []byte("{}")); err != nil {
		s.log.ErrorContext(ctx, "announce ended sessions", "user_id", userID, "err", err)
	}
}

// WatchSessions calls check whenever sessions of the viewer end, until
// ctx ends; check decides (from the database) whether its connection goes
// on. When the broker loses the subscription (an outage, or it fell
// behind), what was announced meanwhile is lost: the watcher subscribes
// again, retrying until the broker is back, and then calls check, so a
// session that ended during the outage is noticed.
func (s *Service) WatchSessions(ctx context.Context, v viewer.Viewer, check func()) error {
	const buffer = 8
	topic := sessionsTopic(v.UserID)
	sub, err := s.broker.Subscribe(ctx, topic, buffer)
	if err != nil {
		return err
	}
	go func() {
		defer func() { sub.Close() }()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-sub.C():
				if ok {
					check()
					continue
				}
				if err := sub.Err(); !errors.Is(err, pubsub.ErrDisconnected) && !errors.Is(err, pubsub.ErrSlowConsumer) {
					check() // the broker closed: look once more, then stop
					return
				}
				if sub, err = s.resubscribe(ctx, topic, buffer); err != nil {
					return // ctx ended or the broker closed
				}
				check()
			}
		}
	}()
	return nil
}
