package chat

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/chatty/chatty/internal/pubsub"
)

// Notifications that could not be published (the broker was unreachable)
// are published again once it answers: they are stored, so the subscribers
// of this instance catch up from the database after the outage, but those
// on instances that kept their broker connection hear of them only from
// here. A subscriber drops a notification it delivered already (by id),
// so one that reached the broker despite the error is not shown twice.

// maxRepublish bounds the notifications held for publishing again; past
// it the oldest are dropped (their subscribers see them in the history).
const maxRepublish = 10000

type republish struct {
	mu      sync.Mutex
	queue   []outgoing
	running bool
}

type outgoing struct {
	topic   string
	payload []byte
}

// emitNote publishes one notification to user uid's topic; when the
// broker fails, the notification is kept and published again later.
func (s *Service) emitNote(ctx context.Context, uid int, e userEvent) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	topic := userTopic(uid)
	err = s.broker.Publish(ctx, topic, b)
	if err == nil || errors.Is(err, pubsub.ErrClosed) {
		return err
	}
	s.later(ctx, outgoing{topic, b})
	return err
}

func (s *Service) later(ctx context.Context, o outgoing) {
	r := &s.republish
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) >= maxRepublish {
		r.queue = r.queue[1:]
		s.log.WarnContext(ctx, "notification dropped from the republish queue", "topic", o.topic)
	}
	r.queue = append(r.queue, o)
	if !r.running {
		r.running = true
		go s.republishLoop()
	}
}

// republishLoop publishes the held notifications again, in order, backing
// off while the broker still fails, until none is left.
func (s *Service) republishLoop() {
	r := &s.republish
	wait := 100 * time.Millisecond
	for {
		time.Sleep(wait)
		r.mu.Lock()
		batch := r.queue
		r.queue = nil
		r.mu.Unlock()
		sent := 0
		for _, o := range batch {
			ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
			err := s.broker.Publish(ctx, o.topic, o.payload)
			cancel()
			if errors.Is(err, pubsub.ErrClosed) {
				sent = len(batch) // the broker is gone for good
				break
			}
			if err != nil {
				break
			}
			sent++
		}
		r.mu.Lock()
		r.queue = append(batch[sent:len(batch):len(batch)], r.queue...)
		if len(r.queue) == 0 {
			r.running = false
			r.mu.Unlock()
			if sent > 0 {
				s.log.Info("notifications published again after a broker outage", "count", sent)
			}
			return
		}
		r.mu.Unlock()
		if sent < len(batch) {
			wait = min(2*wait, 5*time.Second)
		} else {
			wait = 100 * time.Millisecond
		}
	}
}
