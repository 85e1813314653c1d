package auth

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// A flood of fresh keys (addresses, made-up accounts) never grows a
// limiter past maxLimiterKeys, and a key within its burst is still
// limited afterwards.
func TestKeyedLimiterMemoryIsBounded(t *testing.T) {
	k := newKeyedLimiter(Limit{Every: time.Minute, Burst: 2})
	now := time.Now()
	for i := range maxLimiterKeys + 1000 {
		if ok, _ := k.allow(context.Background(), fmt.Sprintf("flood-%d", i), now); !ok {
			t.Fatalf("a fresh key was refused")
		}
	}
	if n := len(k.buckets); n > maxLimiterKeys {
		t.Fatalf("%d keys remembered, want at most %d", n, maxLimiterKeys)
	}
	for range 2 {
		if ok, _ := k.allow(context.Background(), "owner", now); !ok {
			t.Fatal("a key within its burst was refused")
		}
	}
	if ok, wait := k.allow(context.Background(), "owner", now); ok || wait <= 0 {
		t.Fatalf("a third attempt within the minute: ok %v, wait %v", ok, wait)
	}
}
