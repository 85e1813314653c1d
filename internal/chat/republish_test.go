package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/pubsub"
)

// stuckBroker's first Publish waits for release and fails; the later ones
// succeed and are recorded.
type stuckBroker struct {
	pubsub.Broker
	mu        sync.Mutex
	calls     int
	published []string
	entered   chan struct{}
	release   chan struct{}
}

func (b *stuckBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	b.mu.Lock()
	b.calls++
	first := b.calls == 1
	if !first {
		b.published = append(b.published, string(payload))
	}
	b.mu.Unlock()
	if first {
		close(b.entered)
		<-b.release
		return errors.New("broker unreachable")
	}
	return nil
}

// waitRepublished waits for s's republish loop to have ended.
func waitRepublished(t *testing.T, s *Service) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.republish.mu.Lock()
		running := s.republish.running
		s.republish.mu.Unlock()
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the republish loop did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The republish queue keeps to its bound through an outage: what is held
// while a round of publishing has the queue out does not add up with what
// that round failed to publish (before, the two together could pass the
// bound, by up to maxRepublish more each failed round). The newest are
// the ones kept.
func TestRepublishQueueStaysBounded(t *testing.T) {
	b := &stuckBroker{entered: make(chan struct{}), release: make(chan struct{})}
	s := &Service{broker: b, log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	for range maxRepublish {
		s.hold(ctx, outgoing{topic: "t", payload: []byte("old")})
	}
	<-b.entered // the loop has the whole queue out, publishing its first
	for range maxRepublish {
		s.hold(ctx, outgoing{topic: "t", payload: []byte("new")})
	}
	close(b.release) // that publish fails: the round puts its batch back
	waitRepublished(t, s)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.published) != maxRepublish {
		t.Fatalf("published %d again after the outage, want the bound, %d", len(b.published), maxRepublish)
	}
	for i, p := range b.published {
		if p != "new" {
			t.Fatalf("published[%d] = %q: the oldest should have gone first", i, p)
		}
	}
}

// The republish queue keeps to its bound in bytes too: payloads of 64 KiB
// (a message and its quote can be that large) held through an outage add
// up to at most maxRepublishBytes, the newest kept (before, ten thousand
// of them could be held, 640 MiB).
func TestRepublishQueueStaysBoundedInBytes(t *testing.T) {
	b := &stuckBroker{entered: make(chan struct{}), release: make(chan struct{})}
	s := &Service{broker: b, log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	s.hold(ctx, outgoing{topic: "t", payload: []byte("first")})
	<-b.entered // the loop has the queue out, publishing the first
	const size, n = 64 << 10, 2 * maxRepublishBytes / (64 << 10)
	for i := range n {
		p := make([]byte, size)
		copy(p, fmt.Sprint(i, ":"))
		s.hold(ctx, outgoing{topic: "t", payload: p})
	}
	close(b.release) // that publish fails: the round puts its batch back
	waitRepublished(t, s)
	b.mu.Lock()
	defer b.mu.Unlock()
	total := 0
	for _, p := range b.published {
		total += len(p)
	}
	if total > maxRepublishBytes || len(b.published) < maxRepublishBytes/size-1 {
		t.Fatalf("published %d payloads, %d bytes, again after the outage; want at most %d bytes, about all of them", len(b.published), total, maxRepublishBytes)
	}
	for i, p := range b.published {
		if want := fmt.Sprint(n-len(b.published)+i, ":"); !strings.HasPrefix(p, want) {
			t.Fatalf("published[%d] = %.10q…, want %q…: the oldest should have gone first", i, p, want)
		}
	}
}
