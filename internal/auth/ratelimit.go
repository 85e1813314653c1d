package auth

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/chatty/chatty/internal/ratelimit"
)

// keyedLimiter is a token bucket per key (an account, a client address),
// forgetting keys that have been idle long enough to be full again.
type keyedLimiter struct {
	every time.Duration
	burst int
	// shared counts in Redis, across instances, under name; the buckets
	// below only when it is nil or Redis fails.
	shared *ratelimit.Redis
	name   string
	log    *slog.Logger

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

// maxLimiterKeys bounds the keys one limiter remembers (about 200 bytes
// each).
const maxLimiterKeys = 50_000

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newKeyedLimiter allows burst attempts per key, refilled one per every.
func newKeyedLimiter(l Limit) *keyedLimiter {
	return &keyedLimiter{every: l.Every, burst: l.Burst, buckets: map[string]*bucket{}}
}

// sharedBy makes k count in Redis under name (nil: in memory).
func (k *keyedLimiter) sharedBy(r *ratelimit.Redis, name string, log *slog.Logger) *keyedLimiter {
	k.shared, k.name, k.log = r, name, log
	return k
}

// allow takes one token from key's bucket. When it is empty nothing is
// taken and wait says when the next token comes.
func (k *keyedLimiter) allow(ctx context.Context, key string, now time.Time) (ok bool, wait time.Duration) {
	if k.shared != nil {
		ok, wait, err := k.shared.Allow(ctx, k.name+":"+key, k.burst, k.every)
		if err == nil {
			return ok, wait
		}
		k.log.DebugContext(ctx, "rate limit not counted in Redis: counting on this instance", "limit", k.name, "err", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	idle := k.every * time.Duration(k.burst) // a bucket idle this long is full: forget it
	if now.Sub(k.lastSweep) > idle {
		for key, b := range k.buckets {
			if now.Sub(b.seen) > idle {
				delete(k.buckets, key)
			}
		}
		k.lastSweep = now
	}
	b, ok := k.buckets[key]
	if !ok {
		if len(k.buckets) >= maxLimiterKeys {
			// Bounded memory whatever a flood of addresses or made-up
			// accounts sends: an arbitrary bucket goes (it may have been
			// partly used; its key starts afresh when seen again).
			for old := range k.buckets {
				delete(k.buckets, old)
				break
			}
		}
		b = &bucket{lim: rate.NewLimiter(rate.Every(k.every), k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, k.every
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limitKey is what a client address counts as for rate limits: an IPv4
// address itself, an IPv6 address its /64, which one subscriber usually
// holds whole and could otherwise walk through for fresh attempts.
func limitKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}

// knownClientFor is how long a successful sign-in from an address lets
// that address past the account's ceiling.
const knownClientFor = 30 * 24 * time.Hour

// recentSet remembers keys for a while, at most maxLimiterKeys of them.
type recentSet struct {
	keep time.Duration
	// shared remembers in Redis, across instances (nil: in memory).
	shared *ratelimit.Redis
	log    *slog.Logger
	mu     sync.Mutex
	seen   map[string]time.Time
}

// add remembers key as of now.
func (r *recentSet) add(ctx context.Context, key string, now time.Time) {
	if r.shared != nil {
		err := r.shared.Remember(ctx, "known:"+key, r.keep)
		if err == nil {
			return
		}
		r.log.DebugContext(ctx, "known sign-in address not kept in Redis: keeping it on this instance", "err", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[key]; !ok && len(r.seen) >= maxLimiterKeys {
		for old, at := range r.seen {
			if now.Sub(at) > r.keep {
				delete(r.seen, old)
			}
		}
		for old := range r.seen {
			if len(r.seen) < maxLimiterKeys {
				break
			}
			delete(r.seen, old)
		}
	}
	r.seen[key] = now
}

// has reports whether key was added within keep.
func (r *recentSet) has(ctx context.Context, key string, now time.Time) bool {
	if r.shared != nil {
		ok, err := r.shared.Remembered(ctx, "known:"+key)
		if err == nil {
			return ok
		}
		r.log.DebugContext(ctx, "known sign-in addresses not read from Redis: asking this instance", "err", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.seen[key]
	return ok && now.Sub(at) <= r.keep
}
