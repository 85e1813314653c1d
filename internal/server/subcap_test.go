package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/ratelimit"
	"github.com/chatty/chatty/internal/server"
)

// An account holds at most 200 live subscriptions on an instance, over
// all its sockets (notifications counted as messageAdded): the 201st is
// refused with RATE_LIMITED, and a subscription the client completes, or a
// socket it closes, gives its places back.
func TestSubscriptionCapPerAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "holder"), e.signUp(t, "talker")
		r, after := e.client(b).wsOpenRoom(t, "cap", a.ID)
		vars := map[string]any{"r": r.ID, "after": after}

		// 100 per socket (the per-connection limit).
		c1, c2 := e.wsConnect(t, protoTransportWS, a), e.wsConnect(t, protoTransportWS, a)
		for _, c := range []*wsClient{c1, c2} {
			for i := range 100 {
				c.subscribe(fmt.Sprintf("m%d", i), wsMessageAddedOp, vars)
			}
		}
		sent := e.client(b).send(t, r.ID, "to all 200")
		for _, c := range []*wsClient{c1, c2} {
			for i := range 100 {
				if m := c.message(fmt.Sprintf("m%d", i)); m.ID != sent.ID {
					t.Fatalf("m%d: got %+v, want message %s", i, m, sent.ID)
				}
			}
		}

		c3 := e.wsConnect(t, protoTransportWS, a)
		c3.subscribe("over", wsMessageAddedOp, vars)
		if code := c3.refused("over"); code != "RATE_LIMITED" {
			t.Fatalf("201st subscription: code %q, want RATE_LIMITED", code)
		}
		c3.subscribe("over-n", wsNotificationsOp, nil)
		if code := c3.refused("over-n"); code != "RATE_LIMITED" {
			t.Fatalf("201st subscription (notifications): code %q, want RATE_LIMITED", code)
		}

		// Completing one gives its place back (once the server has ended
		// it: retried, bounded).
		c1.stop("m0")
		c3.subscribeUntilAccepted(t, "again", vars, sent.ID)
		c3.subscribe("over2", wsMessageAddedOp, vars)
		if code := c3.refused("over2"); code != "RATE_LIMITED" {
			t.Fatalf("subscription over the cap again: code %q, want RATE_LIMITED", code)
		}

		// Closing a socket gives all of its places back.
		c2.Close()
		c4 := e.wsConnect(t, protoTransportWS, a)
		for i := range 100 {
			c4.subscribeUntilAccepted(t, fmt.Sprintf("after-close-%d", i), vars, sent.ID)
		}
		c4.subscribe("over3", wsNotificationsOp, nil)
		if code := c4.refused("over3"); code != "RATE_LIMITED" {
			t.Fatalf("subscription over the cap after the close: code %q, want RATE_LIMITED", code)
		}
	})
}

// subscribeUntilAccepted subscribes id to messageAdded with vars (whose
// cursor is just before the message want) until it is not refused with
// RATE_LIMITED (at most for wsWait), and checks that it replays want.
func (c *wsClient) subscribeUntilAccepted(t *testing.T, id string, vars map[string]any, want string) {
	t.Helper()
	deadline := time.Now().Add(wsWait)
	for n := 0; ; n++ {
		try := fmt.Sprintf("%s-%d", id, n)
		c.subscribe(try, wsMessageAddedOp, vars)
		f := c.mustNextFor(try)
		if errs := f.errorsOf(); len(errs) > 0 {
			if errs[0].Code() != "RATE_LIMITED" || time.Now().After(deadline) {
				t.Fatalf("%s: refused with %v", try, f)
			}
			if f.Type != "error" {
				c.completed(try)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		data, _ := f.result()
		var got struct {
			MessageAdded struct{ ID string } `json:"messageAdded"`
		}
		if f.Type != c.dataType() || json.Unmarshal(data, &got) != nil || got.MessageAdded.ID != want {
			t.Fatalf("%s: got %v, want message %s", try, f, want)
		}
		return
	}
}

// stallHook holds back, until released, the limit scripts (EVALSHA/EVAL)
// that name a key ending in suffix: a Redis slow to answer one user's
// subscription count.
type stallHook struct {
	mu      sync.Mutex
	suffix  string
	stalled chan struct{} // closed when a call is held
	release chan struct{}
}

func (h *stallHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *stallHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *stallHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		suffix := h.suffix
		h.mu.Unlock()
		args := cmd.Args()
		if name := cmd.Name(); suffix != "" && (name == "evalsha" || name == "eval") && len(args) > 3 {
			if key, _ := args[3].(string); strings.HasSuffix(key, suffix) {
				h.mu.Lock()
				select {
				case <-h.stalled:
				default:
					close(h.stalled)
				}
				h.mu.Unlock()
				<-h.release
				// The answer comes late, past the caller's timeout.
				return next(context.WithoutCancel(ctx), cmd)
			}
		}
		return next(ctx, cmd)
	}
}

// One account's subscription count waiting on Redis holds back that
// account's subscribe only: another account subscribes on the same
// instance meanwhile and gets its messages.
func TestSubscriptionCapSlowRedisStallsOnlyThatAccount(t *testing.T) {
	url := redisURL(t)
	db := dbtest.Open(t, dbtest.Backends()[0])
	b, err := pubsub.NewRedis(context.Background(), url, pubsub.WithPrefix(testRedisPrefix(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	hook := &stallHook{stalled: make(chan struct{}), release: make(chan struct{})}
	b.Client().AddHook(hook)
	var once sync.Once
	unstall := func() { once.Do(func() { close(hook.release) }) }
	t.Cleanup(unstall) // before the server closes (cleanups run last first)
	limits := ratelimit.NewRedis(b.Client(), b.Key("limit:"), nil)
	t.Cleanup(limits.Close)
	e := newEnvOn(t, db, envOption{
		chat:   []chat.Option{chat.WithBroker(b), chat.WithPresence(b.Presence()), chat.WithSharedLimits(limits)},
		server: func(c *server.Config, ao *auth.Options) { c.Redis, ao.Shared = b, limits },
	})
	t.Cleanup(unstall)

	slow, other := e.signUp(t, "slow"), e.signUp(t, "other")
	r, after := e.client(other).wsOpenRoom(t, "stall", slow.ID)
	vars := map[string]any{"r": r.ID, "after": after}
	sent := e.client(other).send(t, r.ID, "hello")

	hook.mu.Lock()
	slowID, _ := strconv.Atoi(slow.ID)
	hook.suffix = ":" + ratelimit.UserKey("subs", slowID)
	hook.mu.Unlock()
	cs := e.wsConnect(t, protoTransportWS, slow)
	cs.subscribe("m", wsMessageAddedOp, vars)
	select {
	case <-hook.stalled:
	case <-time.After(wsWait):
		t.Fatal("the slow account's subscription never asked Redis for its count")
	}

	co := e.wsConnect(t, protoTransportWS, other)
	co.subscribe("m", wsMessageAddedOp, vars)
	if m := co.message("m"); m.ID != sent.ID {
		t.Fatalf("the other account's subscription: got %+v, want message %s", m, sent.ID)
	}

	unstall()
	if m := cs.message("m"); m.ID != sent.ID {
		t.Fatalf("the slow account's subscription, once Redis answered: got %+v, want message %s", m, sent.ID)
	}
}

// refreshRaceHook holds back the lease refresh of one user's count (the
// hold script writing 1 with no cap) until that user's release (a write
// of 0) has reached Redis, or for a moment when the release waits for the
// refresh: a release made while a refresh is on its way.
type refreshRaceHook struct {
	mu                 sync.Mutex
	suffix             string
	refreshing         chan struct{} // closed when the refresh is held
	released           chan struct{} // closed when the release is in Redis
	refreshed, release bool
}

func (h *refreshRaceHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *refreshRaceHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *refreshRaceHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if name := cmd.Name(); (name != "evalsha" && name != "eval") || len(args) < 7 {
			return next(ctx, cmd)
		}
		key, _ := args[3].(string)
		n, limit := fmt.Sprint(args[5]), fmt.Sprint(args[6])
		h.mu.Lock()
		mine := h.suffix != "" && strings.HasSuffix(key, h.suffix)
		holdRefresh := mine && n == "1" && limit == "0" && !h.refreshed
		if holdRefresh {
			h.refreshed = true
			close(h.refreshing)
		}
		h.mu.Unlock()
		if holdRefresh {
			select {
			case <-h.released:
			case <-time.After(200 * time.Millisecond): // the release waits for this refresh
			}
			// A call that reaches Redis late still counts there (as a
			// slow network's would): the caller's timeout may have passed.
			return next(context.WithoutCancel(ctx), cmd)
		}
		err := next(ctx, cmd)
		if mine && n == "0" {
			h.mu.Lock()
			if !h.release {
				h.release = true
				close(h.released)
			}
			h.mu.Unlock()
		}
		return err
	}
}

// A subscription given back while the instance refreshes its counts in
// Redis stays given back: the refresh does not write the older count over
// the release, so the account's 200 places are all free on another
// instance.
func TestSubscriptionCapRefreshKeepsARelease(t *testing.T) {
	url := redisURL(t)
	db := dbtest.Open(t, dbtest.Backends()[0])
	prefix := testRedisPrefix(t)
	b, err := pubsub.NewRedis(context.Background(), url, pubsub.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	hook := &refreshRaceHook{refreshing: make(chan struct{}), released: make(chan struct{})}
	b.Client().AddHook(hook)
	const lease = 6 * time.Second // a refresh every 2 s
	limits := ratelimit.NewRedis(b.Client(), b.Key("limit:"), nil, ratelimit.WithLease(lease))
	t.Cleanup(limits.Close)
	one := newEnvOn(t, db, envOption{
		chat:   []chat.Option{chat.WithBroker(b), chat.WithPresence(b.Presence()), chat.WithSharedLimits(limits)},
		server: func(c *server.Config, ao *auth.Options) { c.Redis, ao.Shared = b, limits },
	})
	two := redisInstance(t, db, url, prefix)

	holder, talker := one.signUp(t, "holder"), one.signUp(t, "talker")
	r, after := one.client(talker).wsOpenRoom(t, "refresh", holder.ID)
	vars := map[string]any{"r": r.ID, "after": after}
	sent := one.client(talker).send(t, r.ID, "hello")
	holderID, _ := strconv.Atoi(holder.ID)
	hook.mu.Lock()
	hook.suffix = ":" + ratelimit.UserKey("subs", holderID)
	hook.mu.Unlock()

	c := one.wsConnect(t, protoTransportWS, holder)
	c.subscribe("m", wsMessageAddedOp, vars)
	if m := c.message("m"); m.ID != sent.ID {
		t.Fatalf("got %+v, want message %s", m, sent.ID)
	}
	select {
	case <-hook.refreshing:
	case <-time.After(2 * lease):
		t.Fatal("instance one never refreshed its count in Redis")
	}
	c.stop("m")
	select {
	case <-hook.released:
	case <-time.After(wsWait):
		t.Fatal("the completed subscription was never given back in Redis")
	}

	// All 200 places are free: through instance two, 100 on each of two sockets.
	c1, c2 := two.wsConnect(t, protoTransportWS, holder), two.wsConnect(t, protoTransportWS, holder)
	for _, c := range []*wsClient{c1, c2} {
		for i := range 100 {
			c.subscribe(fmt.Sprintf("m%d", i), wsMessageAddedOp, vars)
		}
	}
	for _, c := range []*wsClient{c1, c2} {
		for i := range 100 {
			if m := c.message(fmt.Sprintf("m%d", i)); m.ID != sent.ID {
				t.Fatalf("m%d: got %+v, want message %s", i, m, sent.ID)
			}
		}
	}
}
