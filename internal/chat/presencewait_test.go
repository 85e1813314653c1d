package chat

import (
	"context"
	"slices"
	"testing"
	"time"
)

// stuckPresence is a presence whose Online does not answer until
// released, whatever its context says: what go-redis does when Redis
// stalls (its socket reads honour ReadTimeout, not the context, unless
// ContextTimeoutEnabled).
type stuckPresence struct{ release chan struct{} }

func (p stuckPresence) Connect(context.Context, int) (func(), error) { return func() {}, nil }

func (p stuckPresence) Online(context.Context, []int) (map[int]bool, error) {
	<-p.release
	return map[int]bool{}, nil
}

// A send asks presence which recipients are online while it holds its
// room's lock (and on SQLite the database's write lock): when presence
// does not answer, the send reads every recipient's total instead of
// waiting for it, however presence treats the context.
func TestOnlineOfDoesNotWaitForStuckPresence(t *testing.T) {
	p := stuckPresence{release: make(chan struct{})}
	defer close(p.release)
	s := NewService(nil, nil, WithPresence(p))
	users := []int{3, 1, 2}
	got := make(chan []int, 1)
	go func() { got <- s.onlineOf(context.Background(), users) }()
	select {
	case online := <-got:
		if !slices.Equal(online, users) {
			t.Fatalf("onlineOf = %v with presence unanswered, want every user %v", online, users)
		}
	case <-time.After(30 * time.Second): // a deadlock detector, not a speed goal
		t.Fatal("onlineOf waits for presence as long as presence does not answer")
	}
}
