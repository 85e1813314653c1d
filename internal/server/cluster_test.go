package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/ratelimit"
	"github.com/chatty/chatty/internal/server"
)

// redisURL returns CHATTY_TEST_REDIS_URL, skipping the test without it
// (failing it under CHATTY_CI=1, where Redis is required).
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("CHATTY_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CHATTY_CI") == "1" {
			t.Fatal("CHATTY_CI=1 but CHATTY_TEST_REDIS_URL is unset")
		}
		t.Skip("CHATTY_TEST_REDIS_URL unset (e.g. redis://127.0.0.1:6379/0); CI runs this with CHATTY_CI=1")
	}
	return u
}

// runID tells this process's Redis namespaces from other test runs'.
var runID = func() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// prefixes numbers the Redis namespaces of this process.
var prefixes atomic.Int64

// testRedisPrefix is a new Redis namespace for test t: the instances one
// test starts share it (one deployment); no other test, no repeat of t
// (go test -count) and no other test run sharing the Redis does.
func testRedisPrefix(t *testing.T) string {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	return fmt.Sprintf("chatty-test:%s:%x:%d", runID, h.Sum64(), prefixes.Add(1))
}

// redisInstance starts a chatty over db whose broker and presence go
// through the Redis at url, in the namespace prefix.
func redisInstance(t *testing.T, db *database.DB, url, prefix string, opts ...envOption) *env {
	t.Helper()
	b, err := pubsub.NewRedis(context.Background(), url, pubsub.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	limits := ratelimit.NewRedis(b.Client(), b.Key("limit:"), nil)
	t.Cleanup(limits.Close)
	return newEnvOn(t, db, append([]envOption{{
		chat:   []chat.Option{chat.WithBroker(b), chat.WithPresence(b.Presence()), chat.WithSharedLimits(limits)},
		server: func(c *server.Config, ao *auth.Options) { c.Redis, ao.Shared = b, limits },
	}}, opts...)...)
}

// Two instances sharing a database and a Redis act as one: a subscriber on
// one receives, live, what is sent through the other; notifications and
// presence cross over too.
func TestTwoInstancesOverRedis(t *testing.T) {
	url := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, backend)
			prefix := testRedisPrefix(t)
			one, two := redisInstance(t, db, url, prefix), redisInstance(t, db, url, prefix)
			a, b := one.signUp(t, "에이"), two.signUp(t, "비비")
			cb := two.client(b)

			// Messages: a listens on instance one, b writes through instance two.
			r, after := cb.wsOpenRoom(t, "across", a.ID)
			ws := one.wsConnect(t, protoTransportWS, a)
			ws.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
			// Whatever arrives first may come from the replay; once something
			// has, the replay is over and only the broker can bring more.
			for {
				cb.send(t, r.ID, "probe")
				_, err := ws.nextFor("m", 200*time.Millisecond)
				if err == nil {
					break
				}
				if !errors.Is(err, errWSNoFrame) {
					t.Fatal(err)
				}
			}
			live := cb.send(t, r.ID, "건너편에서 왔어요 🚀")
			for { // later probes first, then this one
				m := ws.message("m")
				if m.ID == live.ID {
					if m.Body != "건너편에서 왔어요 🚀" || m.Sender == nil || m.Sender.ID != b.ID {
						t.Fatalf("the message came over as %+v", m)
					}
					break
				}
			}

			// Notifications: caused on instance two, received on instance one.
			n := one.wsConnect(t, protoTransportWS, a)
			prober := wsNotificationsLive(t, two, n, a, "n")
			cb.send(t, r.ID, "notify me")
			got := wsNextNotification(t, n, "n", prober)
			if got.Kind != "NEW_MESSAGE" || got.Actor == nil || got.Actor.ID != b.ID || got.Message == nil || got.Message.Body != "notify me" {
				t.Fatalf("notification across instances: %+v", got)
			}

			// Presence: a's socket is on instance one; instance two sees it.
			var u struct {
				Node struct{ Online bool }
			}
			cb.do(t, `query($id: ID!) { node(id: $id) { ... on User { online } } }`, map[string]any{"id": a.ID}).Decode(t, &u)
			if !u.Node.Online {
				t.Fatal("instance two does not see a's socket on instance one")
			}
		})
	}
}

// A session ended through another instance does not get a WebSocket on an
// instance that still remembers it open (auth's session cache, for a
// second: here its clock stands still): connection_init reads the session
// from the database once the socket watches for ended sessions, so a
// sign-out is either seen by that read or heard by the watch.
func TestWebSocketInitAfterSignOutElsewhere(t *testing.T) {
	now := time.Now().UTC()
	stopped := envOption{server: func(_ *server.Config, ao *auth.Options) { ao.Now = func() time.Time { return now } }}
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, backend)
			one, two := newEnvOn(t, db, stopped), newEnvOn(t, db)
			a := one.signUp(t, "leaver")
			var v struct{ Viewer *struct{ ID string } }
			one.client(a).do(t, `{ viewer { id } }`, nil).Decode(t, &v) // one now remembers the session open
			if v.Viewer == nil || v.Viewer.ID != a.ID {
				t.Fatalf("viewer before signOut: %+v", v.Viewer)
			}
			var out struct{ SignOut bool }
			two.anon().do(t, `mutation($t: String!) { signOut(refreshToken: $t) }`, map[string]any{"t": a.RefreshToken}).Decode(t, &out)
			if !out.SignOut {
				t.Fatal("signOut = false for an open session")
			}
			c := wsDial(t, one, protoTransportWS)
			c.write(map[string]any{"type": "connection_init", "payload": wsBearer(a.AccessToken)})
			c.expectClose(4403, wsWait)
		})
	}
}
