package pubsub

import (
	"context"
	"math/rand/v2"
	"testing"
)

// A connection on one instance makes its user online for every instance,
// until it is released.
func TestRedisPresenceAcrossInstances(t *testing.T) {
	url := redisURL(t)
	a, b := openRedis(t, url).Presence(), openRedis(t, url).Presence()
	ctx := context.Background()
	user, other := 1_000_000+rand.IntN(1_000_000), 3_000_000+rand.IntN(1_000_000)

	online := func(p *RedisPresence) map[int]bool {
		t.Helper()
		m, err := p.Online(ctx, []int{user, other})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := online(b); m[user] || m[other] {
		t.Fatalf("online before any connection: %v", m)
	}
	first, err := a.Connect(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.Connect(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	if m := online(b); !m[user] || m[other] {
		t.Fatalf("with connections on both instances: %v", m)
	}
	first()
	first() // releasing twice is harmless
	if m := online(a); !m[user] {
		t.Fatalf("the connection on the other instance still counts: %v", m)
	}
	second()
	if m := online(a); m[user] {
		t.Fatalf("online after every connection ended: %v", m)
	}
}
