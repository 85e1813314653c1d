package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatty/chatty/internal/ratelimit"
)

// instances returns two counters over one Redis (two instances of a
// deployment) in a namespace of their own.
func instances(t *testing.T) (*ratelimit.Redis, *ratelimit.Redis, *redis.Client) {
	t.Helper()
	url := os.Getenv("CHATTY_TEST_REDIS_URL")
	if url == "" {
		if os.Getenv("CHATTY_CI") == "1" {
			t.Fatal("CHATTY_CI=1 but CHATTY_TEST_REDIS_URL is unset")
		}
		t.Skip("CHATTY_TEST_REDIS_URL unset")
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(o)
	t.Cleanup(func() { client.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	ns := "chatty-test:ratelimit:" + hex.EncodeToString(b) + ":"
	one, two := ratelimit.NewRedis(client, ns, nil), ratelimit.NewRedis(client, ns, nil)
	t.Cleanup(one.Close)
	t.Cleanup(two.Close)
	return one, two, client
}

func TestAllowIsOneBucketAcrossInstances(t *testing.T) {
	one, two, _ := instances(t)
	ctx := context.Background()
	for i, r := range []*ratelimit.Redis{one, two, one, two, one} {
		if ok, _, err := r.Allow(ctx, "k", 5, time.Hour); err != nil || !ok {
			t.Fatalf("attempt %d of a burst of 5: %v %v", i+1, ok, err)
		}
	}
	ok, wait, err := two.Allow(ctx, "k", 5, time.Hour)
	if err != nil || ok || wait <= 59*time.Minute || wait > time.Hour {
		t.Fatalf("6th attempt: ok %v, wait %v, %v; want refused, about an hour", ok, wait, err)
	}
	// Another key has its own bucket.
	if ok, _, err := two.Allow(ctx, "other", 5, time.Hour); err != nil || !ok {
		t.Fatalf("another key: %v %v", ok, err)
	}
	// Refills: one token per every.
	for range 2 {
		_, _, _ = one.Allow(ctx, "fast", 2, 100*time.Millisecond)
	}
	if ok, wait, _ := one.Allow(ctx, "fast", 2, 100*time.Millisecond); ok || wait > 100*time.Millisecond {
		t.Fatalf("3rd of 2: ok %v, wait %v", ok, wait)
	}
	time.Sleep(150 * time.Millisecond)
	if ok, _, _ := two.Allow(ctx, "fast", 2, 100*time.Millisecond); !ok {
		t.Fatal("no token after the refill interval")
	}
}

func TestRelayAcrossInstances(t *testing.T) {
	one, two, _ := instances(t)
	ctx := context.Background()
	steps := []struct {
		r    *ratelimit.Redis
		on   bool
		want bool
	}{
		{one, true, true},   // starts typing
		{two, true, false},  // a renewal within the second, elsewhere
		{two, false, true},  // stops
		{one, false, false}, // stops again: nothing new
		{one, true, true},   // starts again
	}
	for i, s := range steps {
		if got, err := s.r.Relay(ctx, "u1:r1", s.on, time.Hour, time.Hour); err != nil || got != s.want {
			t.Fatalf("step %d (%v): relayed %v (%v), want %v", i, s.on, got, err, s.want)
		}
	}
	if err := two.Forget(ctx, "u1:r1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := one.Relay(ctx, "u1:r1", true, time.Hour, time.Hour); !got {
		t.Fatal("after Forget, typing again is not relayed")
	}
}

func TestHoldCountsEveryInstance(t *testing.T) {
	one, two, _ := instances(t)
	ctx := context.Background()
	if ok, err := one.Hold(ctx, "subs:1", 3, 5); err != nil || !ok {
		t.Fatalf("3 on one: %v %v", ok, err)
	}
	if ok, _ := two.Hold(ctx, "subs:1", 3, 5); ok {
		t.Fatal("3 on two with 3 on one passed a cap of 5")
	}
	if ok, _ := two.Hold(ctx, "subs:1", 2, 5); !ok {
		t.Fatal("2 on two with 3 on one refused under a cap of 5")
	}
	// Giving back on one makes room on two; a lower count is never refused.
	if ok, _ := one.Hold(ctx, "subs:1", 0, 5); !ok {
		t.Fatal("releasing refused")
	}
	if ok, _ := two.Hold(ctx, "subs:1", 5, 5); !ok {
		t.Fatal("5 on two after one released refused")
	}
}

// Redis down: a check fails (the caller counts in memory), and the checks
// right after skip Redis instead of each waiting for it.
func TestUnreachableRedisIsSkipped(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	r := ratelimit.NewRedis(client, "chatty-test:", nil)
	t.Cleanup(r.Close)
	ctx := context.Background()
	if _, _, err := r.Allow(ctx, "k", 1, time.Second); err == nil || errors.Is(err, ratelimit.ErrSkipped) {
		t.Fatalf("first check against a closed port: %v, want a connection error", err)
	}
	if _, err := r.Hold(ctx, "k", 1, 5); !errors.Is(err, ratelimit.ErrSkipped) {
		t.Fatalf("check right after a failure: %v, want ErrSkipped", err)
	}
	if _, err := r.Remembered(ctx, "k"); !errors.Is(err, ratelimit.ErrSkipped) {
		t.Fatalf("check right after a failure: %v, want ErrSkipped", err)
	}
}
