// Package pubsub carries small payloads from publishers to the subscribers
// of named topics ("room.123", "user.45"), within one chatty instance
// (Memory) or between instances sharing a Redis (Redis).
//
// Delivery is best effort and never slows a publisher: each subscriber has a
// bounded queue, and a subscriber whose queue is full is dropped at once
// (it ends, Err() reports ErrSlowConsumer). A subscriber that ends
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
	// Subscribe returns a subscription to topic whose queue holds up to
	// buffer (at least 1) payloads. It is live when Subscribe returns:
	// anything published afterwards is delivered.
	Subscribe(ctx context.Context, topic string, buffer int) (*Subscription, error)
	// Close ends every subscription (they end, Err() =
	// ErrClosed) and releases resources.
	Close() error
}

// Audience is implemented by a Broker that knows every subscriber of a
// topic (Memory; not Redis, whose subscribers may be on other instances):
// a publisher may skip encoding a payload that nobody would receive.
type Audience interface {
	// Listened reports whether topic has a subscriber now. A subscriber
	// that comes after it said false is one that came after the publish.
	Listened(topic string) bool
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
//
// Its queue grows as payloads arrive and shrinks as they are taken, up to
// the subscription's buffer: an idle subscription holds no buffer.
type Subscription struct {
	hub   *hub
	topic string
	onEnd func() // called once when the subscription ends, unless the whole hub ended
	max   int    // payloads the queue holds at most

	// mu guards the queue. ready holds a token while payloads wait and
	// is closed once the subscription has ended (made, sent on and
	// closed under mu only). It is made when first asked for (Ready): a
	// subscription read through Notify, as an idle socket's is, holds
	// none.
	mu    sync.Mutex
	queue []*Payload
	head  int
	done  bool
	ready chan struct{}

	// Guarded by hub.mu.
	ended  bool
	err    error
	notify func()
}

// Notify makes the subscription call f after each payload it receives and
// once when it ends (also if it has ended already), so that its reader
// need not wait on Ready in a goroutine of its own. f runs in the publisher's
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

// Ready returns a channel that receives when Next has something: a
// payload, or the end (it is closed then).
func (s *Subscription) Ready() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready == nil {
		s.ready = make(chan struct{}, 1)
		switch {
		case s.done:
			close(s.ready)
		case s.head < len(s.queue):
			s.ready <- struct{}{}
		}
	}
	return s.ready
}

// Pending reports whether Next has something: a payload, or the end.
// Unlike a receive from Ready it takes no token, and makes no channel.
func (s *Subscription) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done || s.head < len(s.queue)
}

// Next takes the next payload, in publish order, without waiting: nil
// when there is none, with ended true once the subscription has ended and
// every payload it received has been taken (Err tells why).
func (s *Subscription) Next() (p *Payload, ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head == len(s.queue) {
		return nil, s.done
	}
	p = s.queue[s.head]
	s.queue[s.head] = nil
	s.head++
	switch {
	case s.head == len(s.queue):
		s.head, s.queue = 0, s.queue[:0]
		if cap(s.queue) > 16 {
			s.queue = nil // what a burst left
		}
	case !s.done:
		s.signal() // more are waiting
	}
	return p, false
}

// Receive waits for the next payload; false once the subscription has
// ended and every payload it received has been taken, or ctx has ended.
func (s *Subscription) Receive(ctx context.Context) (*Payload, bool) {
	ready := s.Ready()
	for {
		if p, ended := s.Next(); p != nil || ended {
			return p, p != nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// offer queues p, false when the queue is full. Under mu.
func (s *Subscription) offer(p *Payload) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue)-s.head >= s.max {
		return false
	}
	if s.head > 0 && len(s.queue) == cap(s.queue) {
		n := copy(s.queue, s.queue[s.head:])
		clear(s.queue[n:])
		s.queue, s.head = s.queue[:n], 0
	}
	s.queue = append(s.queue, p)
	s.signal()
	return true
}

// signal leaves a token in ready (at most one), if it is made. Under
// mu, before done.
func (s *Subscription) signal() {
	if s.ready == nil {
		return // Ready puts the token in as it makes it
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// finish marks the queue ended: what it holds can still be taken.
func (s *Subscription) finish() {
	s.mu.Lock()
	s.done = true
	if s.ready != nil {
		close(s.ready)
	}
	s.mu.Unlock()
}

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
// instance's subscribers through one. Payloads are queued and
// subscriptions ended under mu; queuing never blocks.
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
	s := &Subscription{hub: h, topic: topic, max: buffer, onEnd: onEnd}
	subs := h.topics[topic]
	if subs == nil {
		subs = make(map[*Subscription]struct{})
		h.topics[topic] = subs
	}
	subs[s] = struct{}{}
	return s, nil
}

// listened reports whether topic has a subscriber.
func (h *hub) listened(topic string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.topics[topic]) > 0
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
		if !s.offer(p) {
			h.endLocked(s, ErrSlowConsumer)
			dropped = append(dropped, s)
			continue
		}
		if s.notify != nil {
			s.notify()
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
	s.finish()
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
			s.finish()
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
