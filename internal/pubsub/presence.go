package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Presence lease: a connection is online while its lease is fresh; each
// instance renews its connections' leases, so a crashed instance's
// connections go offline by themselves within presenceTTL.
const (
	presenceTTL   = 60 * time.Second
	presenceRenew = presenceTTL / 3
)

// RedisPresence tracks live connections of users across instances: a
// sorted set per user (key <prefix>:presence:<user id>) of connection ids
// scored by lease expiry.
type RedisPresence struct {
	client *redis.Client
	ns     string // key prefix, the broker's namespace + "presence:"

	mu    sync.Mutex
	conns map[string]int // connection id → user id, this instance's
	done  chan struct{}
}

// Presence returns the presence tracker sharing r's Redis. Close the broker
// to stop it.
func (r *Redis) Presence() *RedisPresence {
	r.presenceOnce.Do(func() {
		p := &RedisPresence{client: r.client, ns: r.ns + "presence:", conns: map[string]int{}, done: r.done}
		r.wg.Add(1) // Close waits for it before closing the client
		go func() {
			defer r.wg.Done()
			p.renew()
		}()
		r.presence = p
	})
	return r.presence
}

func (p *RedisPresence) key(userID int) string { return p.ns + strconv.Itoa(userID) }

// Connect records one live connection of userID until release is called.
func (p *RedisPresence) Connect(ctx context.Context, userID int) (func(), error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	if err := p.lease(ctx, map[string]int{id: userID}); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.conns[id] = userID
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			delete(p.conns, id)
			p.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = p.client.ZRem(ctx, p.key(userID), id).Err()
		})
	}, nil
}

// lease (re)writes the leases of conns in one round trip.
func (p *RedisPresence) lease(ctx context.Context, conns map[string]int) error {
	if len(conns) == 0 {
		return nil
	}
	expiry := float64(time.Now().Add(presenceTTL).UnixMilli())
	_, err := p.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for id, uid := range conns {
			pipe.ZAdd(ctx, p.key(uid), redis.Z{Score: expiry, Member: id})
			pipe.PExpire(ctx, p.key(uid), 2*presenceTTL)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pubsub: presence lease: %w", err)
	}
	return nil
}

// Online reports which of userIDs have a connection with a fresh lease.
func (p *RedisPresence) Online(ctx context.Context, userIDs []int) (map[int]bool, error) {
	out := make(map[int]bool, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	cmds := make([]*redis.IntCmd, len(userIDs))
	_, err := p.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, uid := range userIDs {
			cmds[i] = pipe.ZCount(ctx, p.key(uid), "("+now, "+inf")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pubsub: presence: %w", err)
	}
	for i, uid := range userIDs {
		out[uid] = cmds[i].Val() > 0
	}
	return out, nil
}

// renew refreshes this instance's leases until the broker closes.
func (p *RedisPresence) renew() {
	t := time.NewTicker(presenceRenew)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.mu.Lock()
			conns := make(map[string]int, len(p.conns))
			for id, uid := range p.conns {
				conns[id] = uid
			}
			p.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), presenceRenew)
			_ = p.lease(ctx, conns)
			cancel()
		}
	}
}
