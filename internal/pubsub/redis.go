package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the namespace of a broker given no WithPrefix. chatty
// itself always passes one (CHATTY_REDIS_PREFIX, or one derived from the
// database's identity), so that deployments sharing a Redis never meet.
const DefaultPrefix = "chatty"

// MaxPrefixLen bounds a namespace prefix.
const MaxPrefixLen = 100

// pingInterval is how often the pub/sub connection is pinged; when nothing
// at all (pong included) arrives for twice as long, it is taken as lost.
const pingInterval = 5 * time.Second

// Redis is a Broker over Redis Pub/Sub, for several chatty instances sharing
// one Redis: a subscriber on any instance receives what is published on any
// instance.
//
// Every Redis channel and key the broker uses is in its namespace,
// prefix + ":" (WithPrefix): Redis pub/sub ignores the database number, so
// the prefix is what keeps deployments that share one Redis apart.
//
// Each Redis broker holds one pub/sub connection for all topics: a topic's
// Redis channel (prefix + ":" + topic) is subscribed while this instance has a
// subscriber to it. One reader goroutine receives from that connection and
// fans out to the local subscribers; Publish goes through Redis even for
// local subscribers, so everyone sees one order per topic (Redis's order of
// arrival, which keeps each publishing connection's order). A second
// goroutine pings the connection so that a silently dead one is noticed.
//
// When the pub/sub connection breaks (Redis restarts, a network fault, or
// no pong for twice pingInterval), every subscription on this instance ends
// with ErrDisconnected: whatever was published during the outage is lost,
// and the subscriber resumes from the database and subscribes again.
// Subscribe fails while Redis is unreachable; the broker reconnects by
// itself and stays usable. Publish has go-redis's retries, so a payload may
// in rare cases arrive twice; while the pub/sub connection is lost, and
// until Redis answers on a new one, Publish fails at once with
// ErrDisconnected rather than wait for each of its retries to fail (a send
// during an outage would take seconds).
type Redis struct {
	client *redis.Client
	log    *slog.Logger
	ping   time.Duration // pingInterval but in tests
	ns     string        // prefix + ":", in front of every channel and key
	local  *hub          // this instance's subscribers
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup

	mu       sync.Mutex
	ps       *redis.PubSub       // the pub/sub connection; replaced when it breaks
	channels map[string]*channel // by Redis channel name
	down     atomic.Bool         // the connection is lost and not yet back (set under mu)
	closed   bool

	presenceOnce sync.Once
	presence     *RedisPresence
}

var _ Broker = (*Redis)(nil)

// channel is this instance's use of one Redis channel.
type channel struct {
	refs    int           // local subscriptions
	pending int           // SUBSCRIBE confirmations Redis still owes
	ready   chan struct{} // closed when the latest SUBSCRIBE is confirmed (or void); nil then
}

func (ch *channel) wake() {
	if ch.ready != nil {
		close(ch.ready)
		ch.ready = nil
	}
}

// RedisOption configures NewRedis.
type RedisOption func(*Redis)

// WithLogger sets where the broker logs connection loss and recovery
// (slog.Default() otherwise).
func WithLogger(l *slog.Logger) RedisOption {
	return func(r *Redis) {
		if l != nil {
			r.log = l
		}
	}
}

// WithPrefix puts every Redis channel and key of the broker under
// prefix + ":" (DefaultPrefix otherwise). Instances of one deployment
// must use the same prefix; deployments sharing a Redis, different ones.
func WithPrefix(prefix string) RedisOption {
	return func(r *Redis) { r.ns = prefix + ":" }
}

// CheckPrefix reports what is wrong with prefix as a namespace: it must be
// 1 to MaxPrefixLen printable ASCII characters without spaces.
func CheckPrefix(prefix string) error {
	if prefix == "" || len(prefix) > MaxPrefixLen {
		return fmt.Errorf("want 1 to %d characters, got %d", MaxPrefixLen, len(prefix))
	}
	for _, c := range prefix {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("want printable ASCII without spaces, got %q", prefix)
		}
	}
	return nil
}

// NewRedis connects to the Redis at rawURL (redis://[user:password@]host:port/db,
// or rediss:// for TLS) and pings it.
func NewRedis(ctx context.Context, rawURL string, opts ...RedisOption) (*Redis, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // it quotes the whole URL, password included
			err = ue.Err
		}
		return nil, fmt.Errorf("pubsub: Redis URL %s: %w", redact(rawURL), err)
	}
	r := &Redis{
		log:      slog.Default(),
		ping:     pingInterval,
		ns:       DefaultPrefix + ":",
		local:    newHub(),
		done:     make(chan struct{}),
		channels: make(map[string]*channel),
	}
	for _, opt := range opts {
		opt(r)
	}
	if err := CheckPrefix(strings.TrimSuffix(r.ns, ":")); err != nil {
		return nil, fmt.Errorf("pubsub: Redis prefix: %w", err)
	}
	client := redis.NewClient(o)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("pubsub: ping Redis at %s: %w", redact(rawURL), err)
	}
	r.client = client
	r.ps = client.Subscribe(ctx)
	r.wg.Add(2)
	go r.read()
	go r.keepAlive()
	return r, nil
}

// Client is the broker's Redis client, for other state the instances of
// a deployment share (persisted queries, rate limits): one connection
// pool per instance. Keys go under Key.
func (r *Redis) Client() *redis.Client { return r.client }

// Key returns name in the broker's namespace (prefix + ":" + name).
func (r *Redis) Key(name string) string { return r.ns + name }

// redact returns rawURL without its password, or a placeholder when it
// does not parse.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Publish sends payload to topic's Redis channel; every instance's
// subscribers, this one's included, receive it from there.
func (r *Redis) Publish(ctx context.Context, topic string, payload []byte) error {
	select {
	case <-r.done:
		return ErrClosed
	default:
	}
	if r.down.Load() {
		return fmt.Errorf("pubsub: publish %q: %w", topic, ErrDisconnected)
	}
	if err := r.client.Publish(ctx, r.ns+topic, payload).Err(); err != nil {
		return fmt.Errorf("pubsub: publish %q: %w", topic, err)
	}
	return nil
}

// Subscribe returns a subscription to topic once Redis has confirmed the
// SUBSCRIBE (at once if this instance is subscribed to topic already).
func (r *Redis) Subscribe(ctx context.Context, topic string, buffer int) (*Subscription, error) {
	if err := checkBuffer(topic, buffer); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pubsub: subscribe %q: %w", topic, err)
	}
	name := r.ns + topic
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	ch := r.channels[name]
	if ch == nil {
		ch = &channel{}
		r.channels[name] = ch
	}
	ch.refs++
	if ch.refs == 1 {
		ch.ready = make(chan struct{})
		ch.pending++
		// Not the caller's ctx: cancelling it must not break the connection
		// every subscriber shares. go-redis's dial and write timeouts bound this.
		if err := r.ps.Subscribe(context.WithoutCancel(ctx), name); err != nil {
			r.resetLocked(err)
			r.mu.Unlock()
			return nil, fmt.Errorf("pubsub: subscribe %q: %w", topic, err)
		}
	}
	ready := ch.ready
	r.mu.Unlock()

	if ready != nil {
		select {
		case <-ready:
		case <-ctx.Done():
			r.release(name, ch)
			return nil, fmt.Errorf("pubsub: subscribe %q: %w", topic, ctx.Err())
		}
	}
	// Only now does the subscription join the fan-out: what arrived before
	// was published before Subscribe returned, and might overflow its
	// buffer before its owner could read.
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return nil, ErrClosed
	case r.channels[name] != ch: // the connection was lost meanwhile
		return nil, ErrDisconnected
	}
	return r.local.subscribe(topic, buffer, func() { r.release(name, ch) })
}

// release forgets one local subscription to the Redis channel name, and
// unsubscribes from it when it was the last.
func (r *Redis) release(name string, ch *channel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.channels[name] != ch {
		return // the broker closed or the connection was reset since
	}
	ch.refs--
	if ch.refs > 0 {
		return
	}
	if ch.pending == 0 {
		delete(r.channels, name)
	} // else kept until Redis has confirmed the SUBSCRIBEs it owes
	if err := r.ps.Unsubscribe(context.Background(), name); err != nil {
		r.resetLocked(err)
	}
}

// confirm notes that ps confirmed a SUBSCRIBE to the Redis channel name.
// Confirmations come in the order the SUBSCRIBEs went, so when none is owed
// any more the latest one is in force.
func (r *Redis) confirm(ps *redis.PubSub, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := r.channels[name]
	if ps != r.ps || ch == nil || ch.pending == 0 {
		return
	}
	ch.pending--
	if ch.pending > 0 {
		return
	}
	if ch.refs > 0 {
		ch.wake()
	} else {
		delete(r.channels, name)
	}
}

// read is the one goroutine that receives from the pub/sub connection and
// fans out to local subscribers. It returns when the broker closes.
func (r *Redis) read() {
	defer r.wg.Done()
	var backoff time.Duration
	for {
		r.mu.Lock()
		ps, closed := r.ps, r.closed
		r.mu.Unlock()
		if closed {
			return
		}
		if r.down.Load() {
			// Ask for a pong now: the connection is back (and Publish
			// tries Redis again) once something arrives on it. A failed
			// ping fails the Receive below.
			ctx, cancel := context.WithTimeout(context.Background(), r.ping)
			_ = ps.Ping(ctx)
			cancel()
		}
		// A Receive that times out makes go-redis drop the connection:
		// on a live one, pongs arrive every r.ping.
		ctx, cancel := context.WithTimeout(context.Background(), 2*r.ping)
		msg, err := ps.Receive(ctx)
		cancel()
		if err != nil {
			if !r.lost(ps, err) {
				continue // an old connection, replaced already
			}
			backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
			select {
			case <-r.done:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		r.mu.Lock()
		if r.down.Load() && ps == r.ps {
			r.down.Store(false)
			r.log.Info("redis pub/sub connection restored")
		}
		r.mu.Unlock()
		switch msg := msg.(type) {
		case *redis.Message:
			if topic, ok := strings.CutPrefix(msg.Channel, r.ns); ok {
				_ = r.local.publish(topic, []byte(msg.Payload)) // fails only once closed
			}
		case *redis.Subscription:
			if msg.Kind == "subscribe" {
				r.confirm(ps, msg.Channel)
			}
		}
	}
}

// lost handles the failure of ps, unless ps was replaced or the broker
// closed since; it reports whether ps was the current connection.
func (r *Redis) lost(ps *redis.PubSub, err error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || ps != r.ps {
		return false
	}
	r.resetLocked(err)
	return true
}

// resetLocked gives up the pub/sub connection after err: every local
// subscription ends with ErrDisconnected, and a fresh connection (made
// lazily, subscribed to nothing) replaces it.
func (r *Redis) resetLocked(err error) {
	n := r.local.endAll(ErrDisconnected)
	for _, ch := range r.channels {
		ch.wake()
	}
	clear(r.channels)
	_ = r.ps.Close()
	r.ps = r.client.Subscribe(context.Background())
	if !r.down.Load() || n > 0 {
		r.log.Warn("redis pub/sub connection lost; subscriptions ended", "err", err, "subscriptions", n)
	}
	r.down.Store(true)
}

// keepAlive pings the pub/sub connection every r.ping until the broker
// closes. A failed ping breaks the connection, which read notices.
func (r *Redis) keepAlive() {
	defer r.wg.Done()
	t := time.NewTicker(r.ping)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
		}
		r.mu.Lock()
		ps := r.ps
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), r.ping)
		_ = ps.Ping(ctx)
		cancel()
	}
}

// Close ends every subscription with ErrClosed, stops the broker's
// goroutines and closes its connections. Later calls do nothing.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	r.local.close()
	for _, ch := range r.channels {
		ch.wake()
	}
	clear(r.channels)
	_ = r.ps.Close() // read returns
	r.mu.Unlock()
	r.wg.Wait()
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("pubsub: close Redis client: %w", err)
	}
	return nil
}
