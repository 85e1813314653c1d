// Package ratelimit counts the limits that must hold across the instances
// of a deployment (sign-in attempts, searches, typing relays, live
// subscriptions per user) in Redis, with Lua scripts through go-redis: one
// round trip per check, atomic, timed by Redis's clock so instances whose
// clocks differ agree. Without Redis, each package counts in memory.
//
// Every method returns an error when Redis does not answer in time; the
// callers then count in memory, as a single instance would: a Redis outage
// loosens the limits to per instance, it never refuses everyone.
package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timeout bounds one check in Redis.
const Timeout = 300 * time.Millisecond

// LeaseTTL is how long a count of held things (live subscriptions) of an
// instance stands without a refresh: an instance that dies stops counting
// after it. Live instances refresh theirs every LeaseTTL/3.
const LeaseTTL = time.Minute

// Backoff is how long checks skip Redis after it failed one.
const Backoff = time.Second

// ErrSkipped is returned while Redis is skipped after a failure.
var ErrSkipped = errors.New("ratelimit: Redis failed a moment ago: skipped")

// Redis counts limits in a Redis shared by the instances.
type Redis struct {
	client   *redis.Client
	ns       string // in front of every key
	instance string // this instance, in held counts
	lease    time.Duration
	log      *slog.Logger

	// downUntil (unix ns): after a failure, checks skip Redis for
	// Backoff, so an outage costs one Timeout a Backoff, not one a check
	// (subscriptions are counted under a lock).
	downUntil atomic.Int64

	mu      sync.Mutex
	holders map[string]func(write func(key string, n int) error) // what Hold counts, to refresh, by key prefix
	done    chan struct{}
	wg      sync.WaitGroup
}

// Option configures a Redis.
type Option func(*Redis)

// WithLease sets how long a held count stands without a refresh (default
// LeaseTTL); counts are refreshed every third of it.
func WithLease(d time.Duration) Option {
	return func(r *Redis) {
		if d > 0 {
			r.lease = d
		}
	}
}

// NewRedis counts through client under the key prefix ns (the deployment's
// namespace, e.g. "chatty:limit:"). Close stops its refresh loop.
func NewRedis(client *redis.Client, ns string, log *slog.Logger, opts ...Option) *Redis {
	if log == nil {
		log = slog.Default()
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	r := &Redis{client: client, ns: ns, instance: hex.EncodeToString(b), lease: LeaseTTL, log: log,
		holders: map[string]func(func(string, int) error){}, done: make(chan struct{})}
	for _, o := range opts {
		o(r)
	}
	r.wg.Add(1)
	go r.refresh()
	return r
}

// Close stops refreshing this instance's held counts (they lapse after
// LeaseTTL). It does not close the client.
func (r *Redis) Close() {
	select {
	case <-r.done:
	default:
		close(r.done)
	}
	r.wg.Wait()
}

// run runs script on keys with args, unless Redis failed within Backoff.
func (r *Redis) run(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	if time.Now().UnixNano() < r.downUntil.Load() {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(ErrSkipped)
		return cmd
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), Timeout)
	defer cancel()
	cmd := script.Run(ctx, r.client, keys, args...)
	r.note(cmd.Err())
	return cmd
}

// note starts a Backoff after a failure of Redis (not a missing key),
// and logs it (once a Backoff at most: the callers log at debug level).
func (r *Redis) note(err error) {
	if err != nil && !errors.Is(err, redis.Nil) {
		r.downUntil.Store(time.Now().Add(Backoff).UnixNano())
		r.log.Warn("limits: Redis failed a check: counting on this instance for a while", "backoff", Backoff, "err", err)
	}
}

// call runs f with a Timeout, unless Redis failed within Backoff.
func (r *Redis) call(ctx context.Context, f func(ctx context.Context) error) error {
	if time.Now().UnixNano() < r.downUntil.Load() {
		return ErrSkipped
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), Timeout)
	defer cancel()
	err := f(ctx)
	r.note(err)
	return err
}

// gcra is a token bucket (the generic cell rate algorithm): KEYS[1] holds
// the theoretical arrival time in µs of Redis's clock (written with %d:
// Lua 5.1's tostring keeps only 14 digits); ARGV[1] is the
// burst, ARGV[2] the µs between refills. It answers {1, 0} and takes a
// token, or {0, µs to wait}.
var gcra = redis.NewScript(`
local burst = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next = tat + interval
local wait = next - burst * interval - now
if wait > 0 then return {0, wait} end
redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.ceil((next - now) / 1000))
return {1, 0}
`)

// Allow takes one of burst tokens of key's bucket, refilled one per every
// (as golang.org/x/time/rate's limiter with that burst). When none is left
// it takes nothing and says how long until the next.
func (r *Redis) Allow(ctx context.Context, key string, burst int, every time.Duration) (bool, time.Duration, error) {
	res, err := r.run(ctx, gcra, []string{r.ns + "rate:" + key}, burst, every.Microseconds()).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}

// Remember notes key for keep (an address an account signed in from).
func (r *Redis) Remember(ctx context.Context, key string, keep time.Duration) error {
	return r.call(ctx, func(ctx context.Context) error { return r.client.Set(ctx, r.ns+"seen:"+key, 1, keep).Err() })
}

// Remembered reports whether key was remembered and has not lapsed.
func (r *Redis) Remembered(ctx context.Context, key string) (bool, error) {
	var n int64
	err := r.call(ctx, func(ctx context.Context) (err error) {
		n, err = r.client.Exists(ctx, r.ns+"seen:"+key).Result()
		return err
	})
	return n > 0, err
}

// relay decides whether a state change (typing or not) is passed on:
// KEYS[1] holds "state:µs" of the last relayed; ARGV[1] is the new state,
// ARGV[2] the µs before the same state is relayed again (a renewal), ARGV[3]
// the ms the key is kept. A change of state is always relayed; "0" is
// never renewed.
var relay = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local prev = redis.call('GET', KEYS[1])
if prev then
  local state, at = string.match(prev, '^(%d):(%d+)$')
  if state == ARGV[1] and (state == '0' or now - tonumber(at) < tonumber(ARGV[2])) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. string.format('%d', now), 'PX', ARGV[3])
return 1
`)

// Relay reports whether the state on (typing, say) of key is passed on: a
// change always, the same "on" again once renewal has passed since it was
// last passed on, the same "off" never. keep bounds how long it is known.
func (r *Redis) Relay(ctx context.Context, key string, on bool, renewal, keep time.Duration) (bool, error) {
	state := "0"
	if on {
		state = "1"
	}
	n, err := r.run(ctx, relay, []string{r.ns + "relay:" + key}, state, renewal.Microseconds(), keep.Milliseconds()).Int()
	return n == 1, err
}

// Forget drops what Relay knows of key: its next state is passed on.
func (r *Redis) Forget(ctx context.Context, key string) error {
	return r.call(ctx, func(ctx context.Context) error { return r.client.Del(ctx, r.ns+"relay:"+key).Err() })
}

// hold sets this instance's count in KEYS[1] (a hash: instance → "count:
// expiry in ms") to ARGV[2] unless, counting the other live instances',
// that would pass ARGV[3] (0: no check). ARGV[1] is the instance, ARGV[4]
// the lease in ms. Lapsed instances are dropped on the way.
var hold = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
if cap > 0 then
  local total = n
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if all[i] ~= ARGV[1] then
      local count, expiry = string.match(all[i+1], '^(%d+):(%d+)$')
      if count == nil or tonumber(expiry) < now then
        redis.call('HDEL', KEYS[1], all[i])
      else
        total = total + tonumber(count)
      end
    end
  end
  if total > cap then return 0 end
end
if n > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], string.format('%d:%d', n, now + tonumber(ARGV[4])))
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
`)

// Hold sets this instance's count of what key holds (a user's live
// subscriptions) to n, unless cap > 0 and all instances' counts together
// would then pass cap: false, and nothing changes. The count lasts
// the lease (LeaseTTL) unless refreshed (see Holding).
func (r *Redis) Hold(ctx context.Context, key string, n, cap int) (bool, error) {
	ok, err := r.run(ctx, hold, []string{r.ns + "hold:" + key}, r.instance, n, cap, r.lease.Milliseconds()).Int()
	return ok == 1, err
}

// Holding registers what this instance holds under the key prefix.
// Every LeaseTTL/3, each is called with a write function: it calls
// write(key, n) for every key (after the prefix) it holds n of, so the
// counts don't lapse while held. While write runs for a key, each must
// keep that key's count from changing (the caller's Hold for it waits):
// a refresh then never writes an older count over a newer one. When write
// returns an error (Redis failed, logged by note), each should stop; the
// next round tries again.
func (r *Redis) Holding(prefix string, each func(write func(key string, n int) error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holders[prefix] = each
}

func (r *Redis) refresh() {
	defer r.wg.Done()
	t := time.NewTicker(r.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
		}
		r.refreshOnce()
	}
}

// refreshOnce writes every held count again, stopping at a failure.
func (r *Redis) refreshOnce() {
	r.mu.Lock()
	holders := make(map[string]func(func(string, int) error), len(r.holders))
	for p, f := range r.holders {
		holders[p] = f
	}
	r.mu.Unlock()
	var failed error
	for prefix, each := range holders {
		each(func(key string, n int) error {
			if failed == nil {
				_, failed = r.Hold(context.Background(), prefix+key, n, 0)
			}
			return failed
		})
		if failed != nil {
			return
		}
	}
}

// UserKey is the key of a user's count in a limit.
func UserKey(limit string, userID int) string { return limit + ":" + strconv.Itoa(userID) }
