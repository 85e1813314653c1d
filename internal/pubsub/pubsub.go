// Package pubsub carries small payloads from publishers to the subscribers
// of named topics ("room.123", "user.45"), within one chatty instance
// (Memory) or between instances sharing a Redis (Redis).
//
// Delivery is best effort and never slows a publisher: each subscriber has a
// bounded channel, and a subscriber whose channel is full is dropped at once
// (its channel closes, Err() reports ErrSlowConsumer). A subscriber that ends
// with an error resumes from the database, then subscribes again: the broker
// keeps no history.
package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Broker carries payloads from publishers to subscribers of a topic.
type Broker interface {
	// Publish hands payload to every current subscriber of topic (on every
	// instance). It never blocks on a slow subscriber. The payload must not
	// be modified afterwards; subscribers share it and must not modify it.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe returns a subscription to topic whose channel holds up to
	// buffer (at least 1) payloads. It is live when Subscribe returns:
	// anything published afterwards is delivered.
	Subscribe(ctx context.Context, topic string, buffer int) (*Subscription, error)
	// Close ends every subscription (their channels close, Err() =
	// ErrClosed) and releases resources.
	Close() error
}

// Why a subscription ended; compare with errors.Is.
var (
	// ErrSlowConsumer: the subscription's buffer was full when a payload
	// arrived, so it was dropped.
	ErrSlowConsumer = errors.New("pubsub: subscriber too slow, dropped")
	// ErrClosed: the broker was closed.
	ErrClosed = errors.New("pubsub: broker closed")
	// ErrDisconnected: the Redis broker lost its pub/sub connection; what was
	// published meanwhile is lost.
	ErrDisconnected = errors.New("pubsub: connection to Redis lost")
)

// Payload is one published payload as this instance's subscribers of its
// topic receive it: every one of them gets the same *Payload, so what one
// decodes (Decode) the others reuse.
type Payload struct {
	// Data is the payload as published. Shared: never modify it.
	Data []byte

	once sync.Once
	val  any
	err  error
}

// Decode returns decode(p.Data), computed once for all the subscribers
// that receive p: the first caller decodes, the others get the same value,
// which is therefore shared and must be treated as read-only. A caller
// asking for another type than the first decodes for itself.
func Decode[T any](p *Payload, decode func([]byte) (T, error)) (T, error) {
	p.once.Do(func() { p.val, p.err = decode(p.Data) })
	if p.err != nil {
		var zero T
		return zero, p.err
	}
	if v, ok := p.val.(T); ok {
		return v, nil
	}
	return decode(p.Data)
}

// Subscription receives the payloads published on one topic.
type Subscription struct {
	hub   *hub
	topic string
	c     chan *Payload
	onEnd func() // called once when the subscription ends, unless the whole hub ended

	// Guarded by hub.mu.
	ended  bool
	err    error
	notify func()
}

// Notify makes the subscription call f after each payload it receives and
// once when it ends (also if it has ended already), so that its reader
// need not wait on C in a goroutine of its own. f runs in the publisher's
// goroutine with the broker's lock held: it must be quick and must not
// call back into the broker.
func (s *Subscription) Notify(f func()) {
	s.hub.mu.Lock()
	s.notify = f
	ended := s.ended
	s.hub.mu.Unlock()
	if ended && f != nil {
		f()
	}
}

// C returns the channel the payloads arrive on, in publish order. It is
// closed when the subscription ends.
func (s *Subscription) C() <-chan *Payload { return s.c }

// Err tells why the subscription ended: nil while it is live or after the
// subscriber's own Close, else ErrSlowConsumer, ErrClosed or ErrDisconnected.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close unsubscribes. It is idempotent, safe concurrently with delivery,
// and does nothing on a nil subscription.
func (s *Subscription) Close() {
	if s != nil {
		s.hub.end(s, nil)
	}
}

// hub is the local fan-out: Memory is a hub, and Redis fans out to its
// instance's subscribers through one. Channel sends and closes all happen
// under mu, so a closed channel is never sent on; sends never block.
type hub struct {
	mu     sync.Mutex
	topics map[string]map[*Subscription]struct{}
	closed bool
}

func newHub() *hub {
	return &hub{topics: make(map[string]map[*Subscription]struct{})}
}

func checkBuffer(topic string, buffer int) error {
	if buffer < 1 {
		return fmt.Errorf("pubsub: subscribe %q: buffer must be at least 1, got %d", topic, buffer)
	}
	return nil
}

func (h *hub) subscribe(topic string, buffer int, onEnd func()) (*Subscription, error) {
	if err := checkBuffer(topic, buffer); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	s := &Subscription{hub: h, topic: topic, c: make(chan *Payload, buffer), onEnd: onEnd}
	subs := h.topics[topic]
	if subs == nil {
		subs = make(map[*Subscription]struct{})
		h.topics[topic] = subs
	}
	subs[s] = struct{}{}
	return s, nil
}

// publish hands payload to topic's subscribers, one *Payload shared by
// all, dropping those whose buffer is full.
func (h *hub) publish(topic string, payload []byte) error {
	var dropped []*Subscription
	p := &Payload{Data: payload}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	for s := range h.topics[topic] {
		select {
		case s.c <- p:
			if s.notify != nil {
				s.notify()
			}
		default:
			h.endLocked(s, ErrSlowConsumer)
			dropped = append(dropped, s)
		}
	}
	h.mu.Unlock()
	for _, s := range dropped {
		if s.onEnd != nil {
			s.onEnd()
		}
	}
	return nil
}

// end ends s, unless it has ended already, and then calls its onEnd.
func (h *hub) end(s *Subscription, err error) {
	h.mu.Lock()
	if s.ended {
		h.mu.Unlock()
		return
	}
	h.endLocked(s, err)
	h.mu.Unlock()
	if s.onEnd != nil {
		s.onEnd()
	}
}

func (h *hub) endLocked(s *Subscription, err error) {
	s.ended, s.err = true, err
	close(s.c)
	if s.notify != nil {
		s.notify()
	}
	subs := h.topics[s.topic]
	delete(subs, s)
	if len(subs) == 0 {
		delete(h.topics, s.topic)
	}
}

// endAll ends every subscription with err, without calling their onEnd:
// the caller drops whatever it kept for them. It reports how many ended.
func (h *hub) endAll(err error) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.endAllLocked(err)
}

func (h *hub) endAllLocked(err error) int {
	n := 0
	for _, subs := range h.topics {
		for s := range subs {
			s.ended, s.err = true, err
			close(s.c)
			if s.notify != nil {
				s.notify()
			}
			n++
		}
	}
	clear(h.topics)
	return n
}

// close ends every subscription with ErrClosed and refuses new ones.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	h.endAllLocked(ErrClosed)
}
