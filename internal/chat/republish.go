package chat

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/chatty/chatty/internal/pubsub"
)

// What could not be published (the broker was unreachable) is published
// again once it answers: notifications (emitNote) and the stored events of
// a room, new messages and changes (emitHeld). The subscribers of this
// instance, whose subscriptions the outage ended, catch up from the
// database when they subscribe again; but those on instances that kept
// their broker connection hear of it only from here. Nothing is shown
// twice: a room's stream ignores a seq or revision it is past, and reads
// the room from the database on one it is not (marked Again: the viewer
// may have left, or left and come back, since); a notification stream
// delivers an id once (see notifStream), so an event that reached the
// broker despite the error is harmless.
//
// Live-only room events (typing, read markers, leaves, room changes) are
// not held: they would arrive stale (a leave held over a return would end
// the stream of someone who came back); a lost leave still ends the
// leaver's streams through its SYSTEM message, which is held.

// maxRepublish and maxRepublishBytes bound the payloads held for
// publishing again, in number and in bytes (a payload carries its message,
// up to tens of KiB: ten thousand of them could hold half a GiB); past
// either the oldest are dropped (their subscribers see them in the
// history, and a room's streams read a message they miss from the
// database once a later one arrives).
const (
	maxRepublish      = 10000
	maxRepublishBytes = 32 << 20
)

type republish struct {
	mu      sync.Mutex
	queue   []outgoing
	bytes   int // of the payloads in queue
	running bool
}

// trim drops the oldest held payloads while the queue passes its bounds
// (or would with room for one more of extra bytes), and reports how many
// it dropped. Under mu.
func (r *republish) trim(extra int) int {
	n := 0
	for len(r.queue) > 0 && (len(r.queue)+min(extra, 1) > maxRepublish || r.bytes+extra > maxRepublishBytes) {
		r.bytes -= len(r.queue[0].payload)
		r.queue[0] = outgoing{}
		r.queue = r.queue[1:]
		n++
	}
	return n
}

type outgoing struct {
	topic   string
	payload []byte
}

// listened reports whether anyone may receive what is published on
// topic: false only when the broker knows that nobody subscribes to it
// (pubsub.Audience), and then nothing is encoded nor published: that is
// a publish nobody receives, and a subscriber that comes after it is one
// that came after the publish (a stream catches up from the database, as
// then).
func (s *Service) listened(topic string) bool {
	a, ok := s.broker.(pubsub.Audience)
	return !ok || a.Listened(topic)
}

// emitNote publishes one notification to user uid's topic; when the
// broker fails, the notification is kept and published again later.
func (s *Service) emitNote(ctx context.Context, uid int, e userEvent) error {
	if !s.listened(userTopic(uid)) {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.publishOrHold(ctx, userTopic(uid), b)
}

// emitHeld publishes a room's event e (a new message or a change); when
// the broker fails, e is kept and published again later, marked Again.
func (s *Service) emitHeld(ctx context.Context, topic string, e roomEvent) error {
	if !s.listened(topic) {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	err = s.broker.Publish(ctx, topic, b)
	if err == nil || errors.Is(err, pubsub.ErrClosed) {
		return err
	}
	e.Again = true
	if again, merr := json.Marshal(e); merr == nil {
		s.hold(ctx, outgoing{topic, again})
	}
	return err
}

// publishOrHold publishes payload to topic, or holds it when the broker
// fails.
func (s *Service) publishOrHold(ctx context.Context, topic string, payload []byte) error {
	err := s.broker.Publish(ctx, topic, payload)
	if err == nil || errors.Is(err, pubsub.ErrClosed) {
		return err
	}
	s.hold(ctx, outgoing{topic, payload})
	return err
}

// hold queues o for republishLoop, which it starts if need be.
func (s *Service) hold(ctx context.Context, o outgoing) {
	r := &s.republish
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.trim(max(len(o.payload), 1)); n > 0 {
		s.log.WarnContext(ctx, "events dropped from the republish queue", "count", n)
	}
	r.queue = append(r.queue, o)
	r.bytes += len(o.payload)
	if !r.running {
		r.running = true
		go s.republishLoop()
	}
}

// republishLoop publishes the held payloads again, in order, backing
// off while the broker still fails, until none is left.
func (s *Service) republishLoop() {
	r := &s.republish
	wait := 100 * time.Millisecond
	for {
		time.Sleep(wait)
		r.mu.Lock()
		batch := r.queue
		r.queue, r.bytes = nil, 0
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
		for _, o := range batch[sent:] {
			r.bytes += len(o.payload)
		}
		r.queue = append(batch[sent:len(batch):len(batch)], r.queue...)
		// hold kept to the bounds while this round had the batch out;
		// together they may pass them: the oldest go.
		if n := r.trim(0); n > 0 {
			s.log.Warn("events dropped from the republish queue", "count", n)
		}
		if len(r.queue) == 0 {
			r.running = false
			r.mu.Unlock()
			if sent > 0 {
				s.log.Info("events published again after a broker outage", "count", sent)
			}
			return
		}
		r.mu.Unlock()
		if sent < len(batch) {
			wait = min(2*wait, 2*time.Second)
		} else {
			wait = 100 * time.Millisecond
		}
	}
}
