package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package when any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every receive: a broken broker fails a test, never hangs it.
const wait = 5 * time.Second

// redisURL returns CHATTY_TEST_REDIS_URL, or skips the test when it is unset
// (fails it under CHATTY_CI=1, where Redis is required).
func redisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("CHATTY_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CHATTY_CI") == "1" {
			t.Fatal("CHATTY_CI=1 but CHATTY_TEST_REDIS_URL is unset")
		}
		t.Skip("CHATTY_TEST_REDIS_URL unset (e.g. redis://127.0.0.1:6379/0); CI runs these with CHATTY_CI=1")
	}
	return u
}

// runID tells this process's test namespaces from those of other runs
// sharing the test Redis.
var runID = func() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// testPrefix is the Redis namespace of test t in this run: brokers one test
// opens share it (instances of one deployment); no other test or run does.
func testPrefix(t testing.TB) string {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return fmt.Sprintf("chatty-test:%s:%x", runID, h.Sum64())
}

func openRedis(t testing.TB, url string, opts ...RedisOption) *Redis {
	t.Helper()
	r, err := NewRedis(context.Background(), url, append([]RedisOption{WithPrefix(testPrefix(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// eachBroker runs test on Memory and on Redis (skipped without a test Redis);
// open returns a new broker, closed when the test ends. Brokers opened by one
// run share their Redis, like instances of one deployment.
func eachBroker(t *testing.T, test func(t *testing.T, open func() Broker)) {
	t.Run("memory", func(t *testing.T) {
		test(t, func() Broker {
			m := NewMemory()
			t.Cleanup(func() { m.Close() })
			return m
		})
	})
	t.Run("redis", func(t *testing.T) {
		url := redisURL(t)
		test(t, func() Broker { return openRedis(t, url) })
	})
}

// topic returns a topic name of its own to this test run, as the test
// Redis may be shared with other tests.
func topic(t testing.TB, name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("test.%s.%s.%s", t.Name(), hex.EncodeToString(b), name)
}

func subscribe(t testing.TB, b Broker, topic string, buffer int) *Subscription {
	t.Helper()
	s, err := b.Subscribe(context.Background(), topic, buffer)
	if err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return s
}

func publish(t testing.TB, b Broker, topic string, payload string) {
	t.Helper()
	if err := b.Publish(context.Background(), topic, []byte(payload)); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// next waits up to wait for the next payload of s: ok is false when s
// ended, timedOut true when nothing came in time.
func next(s *Subscription) (p *Payload, ok, timedOut bool) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	p, ok = s.Receive(ctx)
	return p, ok, !ok && ctx.Err() != nil
}

// receive returns the next payload of s, failing when s ends or nothing
// arrives in time.
func receive(t testing.TB, s *Subscription) string {
	t.Helper()
	p, ok, timedOut := next(s)
	switch {
	case timedOut:
		t.Fatalf("nothing received within %v", wait)
	case !ok:
		t.Fatalf("subscription ended (%v), want a payload", s.Err())
	}
	return string(p.Data)
}

// ended checks that s has ended with nothing left in it, and that Err()
// is want.
func ended(t testing.TB, s *Subscription, want error) {
	t.Helper()
	p, ok, timedOut := next(s)
	switch {
	case timedOut:
		t.Fatalf("subscription still live after %v, want it ended", wait)
	case ok:
		t.Fatalf("received %q, want the subscription ended", p.Data)
	}
	if err := s.Err(); !errors.Is(err, want) || (want == nil && err != nil) {
		t.Fatalf("Err() = %v, want %v", err, want)
	}
}

func TestDeliveryInOrder(t *testing.T) {
	eachBroker(t, func(t *testing.T, open func() Broker) {
		b := open()
		room := topic(t, "room")
		s := subscribe(t, b, room, 200)
		for i := range 200 {
			publish(t, b, room, fmt.Sprint(i))
		}
		for i := range 200 {
			if got, want := receive(t, s), fmt.Sprint(i); got != want {
				t.Fatalf("payload %d = %q, want %q", i, got, want)
			}
		}
	})
}

func TestSeveralSubscribersAndTopics(t *testing.T) {
	eachBroker(t, func(t *testing.T, open func() Broker) {
		b := open()
		room, user := topic(t, "room"), topic(t, "user")
		room1, room2 := subscribe(t, b, room, 10), subscribe(t, b, room, 10)
		user1 := subscribe(t, b, user, 10)
		for i := range 3 {
			publish(t, b, room, fmt.Sprint("r", i))
			publish(t, b, user, fmt.Sprint("u", i))
		}
		for _, s := range []*Subscription{room1, room2} {
			for i := range 3 {
				if got, want := receive(t, s), fmt.Sprint("r", i); got != want {
					t.Fatalf("room subscriber got %q, want %q", got, want)
				}
			}
		}
		for i := range 3 {
			if got, want := receive(t, user1), fmt.Sprint("u", i); got != want {
				t.Fatalf("user subscriber got %q, want %q", got, want)
			}
		}
		// Nothing else: a marker published last is what each receives next.
		publish(t, b, room, "end")
		publish(t, b, user, "end")
		for _, s := range []*Subscription{room1, room2, user1} {
			if got := receive(t, s); got != "end" {
				t.Fatalf("got %q, want the end marker", got)
			}
		}
	})
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	eachBroker(t, func(t *testing.T, open func() Broker) {
		b := open()
		room := topic(t, "room")
		gone, stays := subscribe(t, b, room, 10), subscribe(t, b, room, 10)
		gone.Close()
		gone.Close() // idempotent
		publish(t, b, room, "after")
		if got := receive(t, stays); got != "after" {
			t.Fatalf("remaining subscriber got %q, want %q", got, "after")
		}
		ended(t, gone, nil)

		// The last subscriber leaving and a new one coming works too (for
		// Redis: UNSUBSCRIBE, then SUBSCRIBE again).
		stays.Close()
		again := subscribe(t, b, room, 10)
		publish(t, b, room, "again")
		if got := receive(t, again); got != "again" {
			t.Fatalf("new subscriber got %q, want %q", got, "again")
		}
		ended(t, stays, nil)
	})
}

func TestSlowConsumerDropped(t *testing.T) {
	eachBroker(t, func(t *testing.T, open func() Broker) {
		b := open()
		room := topic(t, "room")
		slow, fast := subscribe(t, b, room, 1), subscribe(t, b, room, 100)
		for i := range 100 {
			publish(t, b, room, fmt.Sprint(i))
		}
		for i := range 100 {
			if got, want := receive(t, fast), fmt.Sprint(i); got != want {
				t.Fatalf("fast subscriber got %q, want %q", got, want)
			}
		}
		// The slow one kept what fit before it was dropped, and nothing after.
		if got := receive(t, slow); got != "0" {
			t.Fatalf("slow subscriber got %q first, want %q", got, "0")
		}
		ended(t, slow, ErrSlowConsumer)
		slow.Close() // harmless after the drop
		if !errors.Is(slow.Err(), ErrSlowConsumer) {
			t.Fatalf("Err() after Close = %v, want ErrSlowConsumer kept", slow.Err())
		}
	})
}

// The buffer bounds what waits, not what went through: a subscriber that
// takes as it goes is never dropped, gets everything in order, and is
// dropped once more than its buffer waits. (Memory: delivery is done when
// Publish returns.)
func TestBufferBoundsWhatWaits(t *testing.T) {
	b := NewMemory()
	defer b.Close()
	s := subscribe(t, b, "room.1", 3)
	sent, got := 0, 0
	take := func() {
		t.Helper()
		if p := receive(t, s); p != fmt.Sprint(got) {
			t.Fatalf("got %q, want %d", p, got)
		}
		got++
	}
	for range 50 { // three waiting at most, the queue's start moving on
		for sent-got < 3 {
			publish(t, b, "room.1", fmt.Sprint(sent))
			sent++
		}
		take()
		take()
	}
	if s.Err() != nil {
		t.Fatalf("dropped after %d payloads, never more than 3 waiting: %v", sent, s.Err())
	}
	for sent-got < 3 {
		publish(t, b, "room.1", fmt.Sprint(sent))
		sent++
	}
	publish(t, b, "room.1", "one too many")
	for sent > got {
		take() // what it held is still delivered
	}
	ended(t, s, ErrSlowConsumer)
}

func TestCloseEndsSubscriptions(t *testing.T) {
	eachBroker(t, func(t *testing.T, open func() Broker) {
		b := open()
		room, user := topic(t, "room"), topic(t, "user")
		subs := []*Subscription{subscribe(t, b, room, 1), subscribe(t, b, room, 1), subscribe(t, b, user, 1)}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			ended(t, s, ErrClosed)
			s.Close()
		}
		if _, err := b.Subscribe(context.Background(), room, 1); !errors.Is(err, ErrClosed) {
			t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
		}
		if err := b.Publish(context.Background(), room, []byte("x")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Publish after Close: %v, want ErrClosed", err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

func TestSubscribeArguments(t *testing.T) {
	eachBroker(t, func(t *testing.T, open func() Broker) {
		b := open()
		if _, err := b.Subscribe(context.Background(), topic(t, "room"), 0); err == nil {
			t.Fatal("Subscribe with buffer 0 succeeded, want an error")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := b.Subscribe(ctx, topic(t, "room"), 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Subscribe with a cancelled context: %v, want context.Canceled", err)
		}
	})
}

// TestConcurrent publishes, subscribes, unsubscribes and closes the broker
// all at once; run it with -race. One subscriber checks that each
// publisher's payloads arrive in order.
func TestConcurrent(t *testing.T) {
	eachBroker(t, func(t *testing.T, open func() Broker) {
		b := open()
		ctx := context.Background()
		rooms := []string{topic(t, "a"), topic(t, "b"), topic(t, "c")}
		const publishers, perPublisher = 4, 200
		watcher := subscribe(t, b, rooms[0], publishers*perPublisher)

		var pubs, subs sync.WaitGroup
		for p := range publishers {
			pubs.Go(func() {
				for i := range perPublisher {
					err := b.Publish(ctx, rooms[i%len(rooms)], []byte(fmt.Sprintf("%d:%d", p, i)))
					if err != nil {
						t.Errorf("publish: %v", err)
						return
					}
				}
			})
		}
		for n := range 8 {
			subs.Go(func() {
				for {
					s, err := b.Subscribe(ctx, rooms[n%len(rooms)], 1+n%4)
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("subscribe: %v", err)
						return
					}
					for range n % 3 { // a few, or until dropped or closed
						if _, ok := s.Receive(ctx); !ok {
							break
						}
					}
					if n%2 == 0 {
						s.Close()
					} else {
						go s.Close() // racing with delivery and with the next subscribe
					}
					if errors.Is(s.Err(), ErrClosed) {
						return
					}
				}
			})
		}
		pubs.Wait()

		next := make([]int, publishers) // next payload expected from each publisher
		perRoom := (perPublisher + len(rooms) - 1) / len(rooms)
		for range publishers * perRoom {
			var p, i int
			if _, err := fmt.Sscanf(receive(t, watcher), "%d:%d", &p, &i); err != nil {
				t.Fatal(err)
			}
			if want := next[p] * len(rooms); i != want {
				t.Fatalf("from publisher %d got payload %d, want %d", p, i, want)
			}
			next[p]++
		}

		if err := b.Close(); err != nil { // while subscribers come and go
			t.Fatal(err)
		}
		subs.Wait()
		ended(t, watcher, ErrClosed)
	})
}

// TestNoLeak subscribes and unsubscribes 1000 times, then closes the
// broker: nothing of it may remain, goroutines included.
func TestNoLeak(t *testing.T) {
	eachBroker(t, func(t *testing.T, open func() Broker) {
		b := open()
		ctx := context.Background()
		rooms := []string{topic(t, "a"), topic(t, "b"), topic(t, "c")}
		keep := subscribe(t, b, rooms[0], 1000)
		for i := range 1000 {
			room := rooms[i%len(rooms)]
			s := subscribe(t, b, room, 1)
			if i%100 == 0 {
				if err := b.Publish(ctx, room, []byte("x")); err != nil {
					t.Fatal(err)
				}
				if room == rooms[0] {
					receive(t, keep)
				}
			}
			s.Close()
		}
		keep.Close()

		var h *hub
		switch b := b.(type) {
		case *Memory:
			h = b.hub
		case *Redis:
			h = b.local
			// Redis may still owe confirmations of SUBSCRIBEs made void.
			deadline := time.Now().Add(wait)
			for {
				b.mu.Lock()
				n := len(b.channels)
				b.mu.Unlock()
				if n == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d Redis channels still held after every subscriber left", n)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		h.mu.Lock()
		n := len(h.topics)
		h.mu.Unlock()
		if n != 0 {
			t.Fatalf("%d topics still held after every subscriber left", n)
		}

		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		goleak.VerifyNone(t)
	})
}

func BenchmarkMemoryFanout(b *testing.B) {
	m := NewMemory()
	defer m.Close()
	ctx := context.Background()
	const buffer = 64
	subs := make([]*Subscription, 1000)
	for i := range subs {
		subs[i] = subscribe(b, m, "room.1", buffer)
	}
	payload := []byte(`{"kind":"MESSAGE_CREATED","room_id":1}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%buffer == 0 && i > 0 {
			b.StopTimer()
			for _, s := range subs {
				for range buffer {
					s.Receive(ctx)
				}
			}
			b.StartTimer()
		}
		if err := m.Publish(ctx, "room.1", payload); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	for _, s := range subs {
		if s.Err() != nil {
			b.Fatalf("subscriber dropped: %v", s.Err())
		}
	}
}

// The subscribers of a topic on one instance decode each payload once
// between them and share the value; a payload is decoded again only for a
// subscriber asking for another type.
func TestDecodeOncePerInstance(t *testing.T) {
	eachBroker(t, func(t *testing.T, open func() Broker) {
		a := open()
		tp := topic(t, "decode")
		subs := []*Subscription{subscribe(t, a, tp, 4), subscribe(t, a, tp, 4), subscribe(t, a, tp, 4)}
		var mu sync.Mutex
		decoded := 0
		decode := func(p []byte) (*string, error) {
			mu.Lock()
			decoded++
			mu.Unlock()
			s := string(p)
			return &s, nil
		}
		publish(t, a, tp, "once")
		var got []*string
		for _, s := range subs {
			p, ok, _ := next(s)
			if !ok {
				t.Fatal("nothing received")
			}
			v, err := Decode(p, decode)
			if err != nil || *v != "once" {
				t.Fatalf("decoded %v, %v", v, err)
			}
			got = append(got, v)
		}
		if got[0] != got[1] || got[1] != got[2] {
			t.Fatal("the subscribers got values of their own, want one shared")
		}
		if decoded != 1 {
			t.Fatalf("decoded %d times for 3 subscribers, want once", decoded)
		}
		publish(t, a, tp, "other")
		p, _, _ := next(subs[0])
		if s, _ := Decode(p, decode); *s != "other" {
			t.Fatalf("got %q", *s)
		}
		if n, err := Decode(p, func(b []byte) (int, error) { return len(b), nil }); n != 5 || err != nil {
			t.Fatalf("another type: %d, %v", n, err)
		}
		if _, err := Decode(p, func([]byte) (*string, error) { return nil, errors.New("never run") }); err != nil {
			t.Fatalf("decoded again: %v", err)
		}
	})
}

// The in-memory broker knows every subscriber of a topic (Audience): a
// topic is listened from its first subscribe until its last subscriber
// ends, however it ends (closed, dropped as too slow).
func TestMemoryAudience(t *testing.T) {
	m := NewMemory()
	defer m.Close()
	var _ Audience = m
	room := topic(t, "room")
	if m.Listened(room) {
		t.Fatal("a topic nobody subscribed to is listened")
	}
	a, b := subscribe(t, m, room, 10), subscribe(t, m, room, 1)
	if !m.Listened(room) || m.Listened(topic(t, "other")) {
		t.Fatal("Listened does not tell the subscribed topic from another")
	}
	a.Close()
	if !m.Listened(room) {
		t.Fatal("a topic with one subscriber left is not listened")
	}
	publish(t, m, room, "one")
	publish(t, m, room, "two") // b's buffer holds one: b is dropped
	if m.Listened(room) {
		t.Fatal("a topic whose subscribers all ended is listened")
	}
	if got := receive(t, b); got != "one" {
		t.Fatalf("got %q before the drop, want %q", got, "one")
	}
	ended(t, b, ErrSlowConsumer)
}
