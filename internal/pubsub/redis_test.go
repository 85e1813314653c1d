package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisTwoInstances: what one instance publishes, subscribers on the
// other receive, in both directions.
func TestRedisTwoInstances(t *testing.T) {
	u := redisURL(t)
	a, b := openRedis(t, u), openRedis(t, u)
	room := topic(t, "room")
	onA, onB := subscribe(t, a, room, 10), subscribe(t, b, room, 10)

	publish(t, b, room, "from b")
	publish(t, a, room, "from a")
	for _, s := range []*Subscription{onA, onB} {
		if got := receive(t, s); got != "from b" {
			t.Fatalf("got %q, want %q", got, "from b")
		}
		if got := receive(t, s); got != "from a" {
			t.Fatalf("got %q, want %q", got, "from a")
		}
	}
}

// TestRedisDisconnect kills the broker's pub/sub connection: its
// subscriptions end with ErrDisconnected, and the broker works again
// for new ones.
func TestRedisDisconnect(t *testing.T) {
	base := redisURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "chatty-test-" + hex.EncodeToString(b)
	q := u.Query()
	q.Set("client_name", name) // to find this broker's connection among others
	u.RawQuery = q.Encode()
	broker := openRedis(t, u.String())
	room, user := topic(t, "room"), topic(t, "user")
	subs := []*Subscription{subscribe(t, broker, room, 10), subscribe(t, broker, user, 10)}

	opts, err := redis.ParseURL(base)
	if err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(opts)
	defer admin.Close()
	ctx := context.Background()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for line := range strings.Lines(list) {
		f := map[string]string{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		if f["name"] == name && strings.Contains(f["flags"], "P") {
			id = f["id"]
		}
	}
	if id == "" {
		t.Fatalf("no pub/sub connection named %s in CLIENT LIST:\n%s", name, list)
	}
	if err := admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
		t.Fatal(err)
	}

	for _, s := range subs {
		ended(t, s, ErrDisconnected)
	}
	again := subscribe(t, broker, room, 10)
	publish(t, broker, room, "back")
	if got := receive(t, again); got != "back" {
		t.Fatalf("after reconnecting got %q, want %q", got, "back")
	}
}

// TestRedisSilentConnection: a pub/sub connection on which nothing
// arrives any more (no pong either), though it is not closed, counts as
// lost.
func TestRedisSilentConnection(t *testing.T) {
	base := redisURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr
	r := openRedis(t, u.String(), withPing(50*time.Millisecond))
	direct := openRedis(t, base)
	room := topic(t, "room")
	s := subscribe(t, r, room, 10)
	publish(t, direct, room, "before")
	if got := receive(t, s); got != "before" {
		t.Fatalf("got %q, want %q", got, "before")
	}

	p.freeze() // what was connected goes silent
	ended(t, s, ErrDisconnected)
	again := subscribe(t, r, room, 10) // on a new connection
	publish(t, direct, room, "after")
	if got := receive(t, again); got != "after" {
		t.Fatalf("got %q, want %q", got, "after")
	}
}

func withPing(d time.Duration) RedisOption { return func(r *Redis) { r.ping = d } }

// proxy forwards TCP connections to a Redis; freeze makes the current ones
// swallow everything from then on without closing, like a dead peer.
type proxy struct {
	addr string
	done chan struct{}

	mu     sync.Mutex
	frozen []*atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), done: make(chan struct{})}
	var wg sync.WaitGroup
	var conns []net.Conn
	var connsMu sync.Mutex
	t.Cleanup(func() {
		close(p.done)
		l.Close()
		connsMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connsMu.Unlock()
		wg.Wait()
	})
	forward := func(dst, src net.Conn, frozen *atomic.Bool) {
		defer wg.Done()
		defer dst.Close()
		defer src.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			if frozen.Load() {
				<-p.done
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			connsMu.Lock()
			conns = append(conns, c, up)
			connsMu.Unlock()
			frozen := new(atomic.Bool)
			p.mu.Lock()
			p.frozen = append(p.frozen, frozen)
			p.mu.Unlock()
			wg.Add(2)
			go forward(up, c, frozen)
			go forward(c, up, frozen)
		}
	})
	return p
}

func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.frozen {
		f.Store(true)
	}
}

// TestNewRedisErrors: errors say what is wrong without the password.
func TestNewRedisErrors(t *testing.T) {
	for _, u := range []string{
		"redis://chatty:s3cret@127.0.0.1:1/0",    // nothing listens
		"redis://chatty:s3cret@127.0.0.1:6379/x", // bad database
		"http://chatty:s3cret@127.0.0.1:6379/0",  // bad scheme
		"redis://chatty:s3cret@[::1/0",           // does not parse
	} {
		r, err := NewRedis(context.Background(), u)
		if err == nil {
			r.Close()
			t.Errorf("NewRedis(%s) succeeded, want an error", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("NewRedis error shows the password: %v", err)
		}
		t.Logf("%v", err)
	}
}

// BenchmarkRedisPublish: one payload from Publish to a subscriber of the
// same broker, through Redis.
func BenchmarkRedisPublish(b *testing.B) {
	r := openRedis(b, redisURL(b))
	room := topic(b, "room")
	s := subscribe(b, r, room, 1)
	ctx := context.Background()
	payload := []byte(`{"kind":"MESSAGE_CREATED","room_id":1}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.Publish(ctx, room, payload); err != nil {
			b.Fatal(err)
		}
		receive(b, s)
	}
}

// TestRedisNamespaces: brokers of two deployments sharing one Redis (two
// prefixes) never see each other's payloads or presence, though they use
// the same topics and user ids; brokers of one deployment do.
func TestRedisNamespaces(t *testing.T) {
	u := redisURL(t)
	a1 := openRedis(t, u, WithPrefix(testPrefix(t)+":a"))
	a2 := openRedis(t, u, WithPrefix(testPrefix(t)+":a"))
	b := openRedis(t, u, WithPrefix(testPrefix(t)+":b"))
	room := topic(t, "room")
	onA, onB := subscribe(t, a2, room, 10), subscribe(t, b, room, 10)

	publish(t, a1, room, "for a")
	publish(t, b, room, "for b")
	if got := receive(t, onA); got != "for a" {
		t.Fatalf("deployment a received %q, want %q", got, "for a")
	}
	if got := receive(t, onB); got != "for b" {
		t.Fatalf("deployment b received %q first, want %q (nothing of a's)", got, "for b")
	}
	publish(t, b, room, "b again") // b's channel is in order: a's payload would be before this
	if got := receive(t, onB); got != "b again" {
		t.Fatalf("deployment b received %q, want %q", got, "b again")
	}

	ctx := context.Background()
	user := 5_000_000 + int(time.Now().UnixNano()%1_000_000)
	release, err := a1.Presence().Connect(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for name, p := range map[string]*RedisPresence{"a": a2.Presence(), "b": b.Presence()} {
		m, err := p.Online(ctx, []int{user})
		if err != nil {
			t.Fatal(err)
		}
		if want := name == "a"; m[user] != want {
			t.Fatalf("deployment %s sees the user online = %v, want %v", name, m[user], want)
		}
	}
}

// TestRedisPrefixChecked: a prefix that is empty, too long or has spaces
// or control characters is refused by name.
func TestRedisPrefixChecked(t *testing.T) {
	for _, p := range []string{"", "has space", "tab\there", "\x00", strings.Repeat("x", MaxPrefixLen+1), "한글"} {
		if err := CheckPrefix(p); err == nil {
			t.Errorf("CheckPrefix(%q) = nil, want an error", p)
		}
	}
	for _, p := range []string{"chatty", "chatty:prod-1", "a", strings.Repeat("x", MaxPrefixLen)} {
		if err := CheckPrefix(p); err != nil {
			t.Errorf("CheckPrefix(%q) = %v, want nil", p, err)
		}
	}
	r, err := NewRedis(context.Background(), "redis://127.0.0.1:1/0", WithPrefix("bad prefix"))
	if err == nil {
		r.Close()
		t.Fatal("NewRedis with a bad prefix succeeded")
	}
	if !strings.Contains(err.Error(), "prefix") {
		t.Fatalf("NewRedis with a bad prefix: %v, want it named", err)
	}
}
