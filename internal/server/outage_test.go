package server_test

// Broker faults: a member who leaves while their instance has lost Redis
// gets nothing more, session ends are heard after an outage, a lost or
// failed publish of a leave still ends the leaver's stream, and deployments
// sharing one Redis stay apart.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/config"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/pubsub"
)

// outageWait bounds how long a test waits for an instance to come back
// from a Redis outage (its resubscriptions back off up to 5 s).
const outageWait = 15 * time.Second

// redisProxy forwards TCP connections to a Redis. cut drops every
// connection and refuses new ones (accepted and closed at once) until
// restore: an outage as the instances behind it see it.
type redisProxy struct {
	URL string // the Redis URL with the proxy's address

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func newRedisProxy(t *testing.T, redisURL string) *redisProxy {
	t.Helper()
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	u.Host = l.Addr().String()
	p := &redisProxy{URL: u.String(), conns: map[net.Conn]struct{}{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		p.cut()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if err != nil {
						break
					}
					if _, err := dst.Write(buf[:n]); err != nil {
						break
					}
				}
				dst.Close()
				src.Close()
				p.mu.Lock()
				delete(p.conns, dst)
				delete(p.conns, src)
				p.mu.Unlock()
			}
			wg.Go(func() { pipe(up, c) })
			wg.Go(func() { pipe(c, up) })
		}
	})
	return p
}

// cut drops every connection through the proxy and refuses new ones.
func (p *redisProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

// restore lets connections through again.
func (p *redisProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// wsLiveFor sends probes through c to room roomID until subscription id of
// ws receives one (bounded): the subscription is live then.
func wsLiveFor(t *testing.T, c *client, ws *wsClient, roomID, id string) {
	t.Helper()
	deadline := time.Now().Add(wsWait)
	for time.Now().Before(deadline) {
		c.send(t, roomID, "probe")
		_, err := ws.nextFor(id, 200*time.Millisecond)
		if err == nil {
			return
		}
		if !errors.Is(err, errWSNoFrame) {
			t.Fatal(err)
		}
	}
	t.Fatalf("subscription %s not live after %v", id, wsWait)
}

// wsUntilComplete reads subscription id until it completes (within d) and
// returns the messages it delivered first.
func wsUntilComplete(t *testing.T, ws *wsClient, id string, d time.Duration) []messageData {
	t.Helper()
	var got []messageData
	deadline := time.Now().Add(d)
	for {
		f, err := ws.nextFor(id, time.Until(deadline))
		if err != nil {
			t.Fatalf("subscription %s did not complete within %v (%v); it delivered %+v", id, d, err, got)
		}
		if f.Type == "complete" {
			return got
		}
		var m wsMessageAdded
		data, errs := f.result()
		if f.Type != ws.dataType() || len(errs) > 0 || json.Unmarshal(data, &m) != nil {
			t.Fatalf("subscription %s: got %v, want messages then complete", id, f)
		}
		got = append(got, messageData{ID: m.MessageAdded.ID, Body: m.MessageAdded.Body, Kind: m.MessageAdded.Kind, Seq: m.MessageAdded.Seq})
	}
}

// cutOffPair runs two instances of one deployment on a fresh database of
// backend: one reaches Redis through proxy (which a test can cut), two
// directly.
func cutOffPair(t *testing.T, backend, redis string) (one, two *env, proxy *redisProxy) {
	t.Helper()
	db := dbtest.Open(t, backend)
	prefix := testRedisPrefix(t)
	proxy = newRedisProxy(t, redis)
	return redisInstance(t, db, proxy.URL, prefix), redisInstance(t, db, redis, prefix), proxy
}

// B's instance loses Redis; meanwhile B leaves through the other instance
// and A sends. When Redis is back, B's open messageAdded completes having
// delivered nothing from after B left (it used to carry on with every
// later message), and B's notifications bring nothing of that room.
func TestLeaveDuringRedisOutage(t *testing.T) {
	redis := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			one, two, proxy := cutOffPair(t, backend, redis)
			a, b := one.signUp(t, "stays"), one.signUp(t, "leaves")
			ca, ca2, cb2 := one.client(a), two.client(a), two.client(b)
			r, after := ca.wsOpenRoom(t, "outage", b.ID)
			other := ca.createRoom(t, nil, b.ID)

			wb := one.wsConnect(t, protoTransportWS, b)
			wb.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
			wsLiveFor(t, ca2, wb, r.ID, "m")
			wb.subscribe("o", wsMessageAddedOp, map[string]any{"r": other.ID, "after": nil})
			wsLiveFor(t, ca2, wb, other.ID, "o")
			wn := one.wsConnect(t, protoTransportWS, b)
			prober := wsNotificationsLive(t, two, wn, b, "n")
			for { // the probes of m so far, up to the last one
				f, err := wb.nextFor("m", 300*time.Millisecond)
				if errors.Is(err, errWSNoFrame) {
					break
				}
				if err != nil || f.Type != "next" {
					t.Fatalf("before the outage: %v %v", f, err)
				}
			}

			proxy.cut()
			var left struct{ LeaveRoom string }
			cb2.do(t, wsLeaveOp, map[string]any{"r": r.ID}).Decode(t, &left)
			during := ca2.send(t, r.ID, "sent while b's instance had no Redis")
			time.Sleep(500 * time.Millisecond) // b's instance tries to subscribe again and fails
			proxy.restore()

			if got := wsUntilComplete(t, wb, "m", outageWait); len(got) > 0 {
				t.Fatalf("after leaving, b's subscription delivered %+v", got)
			}
			afterwards := ca.send(t, r.ID, "sent through b's instance after the outage")
			var room struct{ Room *struct{ ID string } }
			if res := cb2.do(t, `query($r: ID!) { room(id: $r) { id } }`, map[string]any{"r": r.ID}); res.Code() != "NOT_FOUND" {
				t.Fatalf("room(id) for the one who left: %s", res.Raw)
			} else {
				res.DecodeData(t, &room)
			}

			// The other room goes on for b, on the same socket and instance
			// (so b's instance is live again); b's notifications, once live
			// again, bring that room's messages and nothing of the room b
			// left.
			wsLiveFor(t, ca2, wb, other.ID, "o")
			deadline := time.Now().Add(outageWait)
			for heard := false; !heard; {
				if time.Now().After(deadline) {
					t.Fatalf("b's notifications not live %v after the outage", outageWait)
				}
				marker := ca.send(t, other.ID, "marker")
				for {
					f, err := wn.nextFor("n", 300*time.Millisecond)
					if errors.Is(err, errWSNoFrame) {
						break
					}
					var n struct{ Notifications wsNotification }
					data, errs := f.result()
					if err != nil || len(errs) > 0 || json.Unmarshal(data, &n) != nil {
						t.Fatalf("notifications: %v %v", f, err)
					}
					got := n.Notifications
					if got.Room != nil && got.Room.ID == r.ID {
						t.Fatalf("b was notified of a room it left: %+v", got)
					}
					if got.Message != nil && (got.Message.ID == during.ID || got.Message.ID == afterwards.ID) {
						t.Fatalf("b was notified of %+v", got)
					}
					if got.Message != nil && got.Message.ID == marker.ID {
						heard = true
					}
				}
			}
			_ = prober
			wb.quiet("m", 200*time.Millisecond)
		})
	}
}

// An open socket hears that its session ended after its instance lost
// Redis: a sign-out during the outage closes it (4403) once Redis is back,
// and a sign-out after the outage closes another at once. Both used to
// stay open until their access token expired.
func TestSessionEndHeardAfterRedisOutage(t *testing.T) {
	redis := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			one, two, proxy := cutOffPair(t, backend, redis)
			a := one.signUp(t, "two sessions")
			var second signInData
			two.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}).Decode(t, &second)
			first := one.wsConnect(t, protoTransportWS, a)
			other := one.wsConnect(t, protoTransportWS, account{AccessToken: second.SignIn.AccessToken})

			proxy.cut()
			signOut := `mutation($t: String!) { signOut(refreshToken: $t) }`
			var out struct{ SignOut bool }
			two.anon().do(t, signOut, map[string]any{"t": a.RefreshToken}).Decode(t, &out)
			time.Sleep(500 * time.Millisecond) // one's watchers try to subscribe again and fail
			proxy.restore()
			first.expectClose(4403, outageWait)

			// The other session's socket was not closed by the outage, and
			// its watcher listens again: a later sign-out closes it.
			other.write(map[string]any{"type": "ping"})
			if f, err := other.next(wsWait); err != nil || f.Type != "pong" {
				t.Fatalf("the other session's socket after the outage: %v %v, want pong", f, err)
			}
			two.anon().do(t, signOut, map[string]any{"t": second.SignIn.RefreshToken}).Decode(t, &out)
			other.expectClose(4403, outageWait)
		})
	}
}

// lossyBroker loses the publishes drop picks (Publish fails with an error,
// as when Redis is unreachable); everything else goes through.
type lossyBroker struct {
	pubsub.Broker
	drop func(roomEvent) bool
}

// roomEvent is what a room topic carries, as far as these tests look.
type roomEvent struct {
	Type    string
	Message *struct{ Kind string }
}

func (b lossyBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	var e roomEvent
	if json.Unmarshal(payload, &e) == nil && b.drop(e) {
		return errors.New("lossyBroker: publish lost")
	}
	return b.Broker.Publish(ctx, topic, payload)
}

// When the publish of a leave fails, the leaver's stream still ends and
// carries nothing more: on the SYSTEM message of the leave when only the
// "left" event was lost, else when the next message shows a gap and the
// stream reads the missing one from the database.
func TestLeaveEndsStreamWhenItsEventIsLost(t *testing.T) {
	for name, drop := range map[string]func(roomEvent) bool{
		"left event lost": func(e roomEvent) bool { return e.Type == "left" },
		"left event and SYSTEM message lost": func(e roomEvent) bool {
			return e.Type == "left" || (e.Message != nil && e.Message.Kind == "SYSTEM")
		},
	} {
		for _, backend := range dbtest.Backends() {
			t.Run(name+"/"+backend, func(t *testing.T) {
				t.Parallel()
				broker := pubsub.NewMemory()
				t.Cleanup(func() { broker.Close() })
				e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithBroker(lossyBroker{broker, drop})}})
				a, b := e.signUp(t, "stays"), e.signUp(t, "leaves")
				ca, cb := e.client(a), e.client(b)
				r, after := ca.wsOpenRoom(t, "lossy", b.ID)
				wb := e.wsConnect(t, protoTransportWS, b)
				wb.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
				before := ca.send(t, r.ID, "before leaving")
				if m := wb.message("m"); m.ID != before.ID {
					t.Fatalf("got %+v, want %+v", m, before)
				}
				var left struct{ LeaveRoom string }
				cb.do(t, wsLeaveOp, map[string]any{"r": r.ID}).Decode(t, &left)
				ca.send(t, r.ID, "after b left")
				if got := wsUntilComplete(t, wb, "m", wsWait); len(got) > 0 {
					t.Fatalf("after leaving, b's subscription delivered %+v", got)
				}
			})
		}
	}
}

// When the publish of a removal's "left" event fails, the removed member
// still hears ROOM_REMOVED: it used to be neither published nor held, as
// publishing gave up at the room's event.
func TestRemovedMemberIsToldWhenTheLeftEventIsLost(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			broker := pubsub.NewMemory()
			t.Cleanup(func() { broker.Close() })
			lossy := lossyBroker{broker, func(e roomEvent) bool { return e.Type == "left" }}
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithBroker(lossy)}})
			a, c := e.signUp(t, "owner"), e.signUp(t, "removed")
			ca := e.client(a)
			g, _ := ca.wsOpenRoom(t, "removals", c.ID)
			wsC := e.wsConnect(t, protoTransportWS, c)
			prober := wsNotificationsLive(t, e, wsC, c, "n")
			var out struct{ RemoveRoomMember roleData }
			ca.do(t, removeOp, map[string]any{"r": g.ID, "u": c.ID}).Decode(t, &out)
			n := wsNextNotification(t, wsC, "n", prober)
			if n.Kind != "ROOM_REMOVED" || n.Room == nil || n.Room.ID != g.ID {
				t.Fatalf("removed member's notification %+v, want ROOM_REMOVED of room %s", n, g.ID)
			}
		})
	}
}

// Two deployments on one Redis, each over its own fresh database (the same
// user and room ids) with the namespace chatty derives by default, see
// nothing of each other: a message in one does not reach the other's
// subscriber of the room with the same id (whose own next message then
// arrives with its own seq), and a user online in one is not online in the
// other.
func TestDeploymentsSharingRedisStayApart(t *testing.T) {
	redis := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			deployment := func() *env {
				dbc := dbtest.Config(t, backend)
				dbURL := "sqlite:" + dbc.DSN
				if dbc.Driver == "mysql" {
					dbURL = dbc.DSN
				}
				cfg, err := config.Load(nil, func(k string) string {
					return map[string]string{"CHATTY_DATABASE_URL": dbURL, "CHATTY_REDIS_URL": redis}[k]
				})
				if err != nil {
					t.Fatal(err)
				}
				db, err := database.Open(context.Background(), cfg.Database)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				if err := db.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				return redisInstance(t, db, redis, cfg.RedisPrefix)
			}
			x, y := deployment(), deployment()
			xa, xb := x.signUp(t, "x-a"), x.signUp(t, "x-b")
			ya, yb := y.signUp(t, "y-a"), y.signUp(t, "y-b")
			if xa.ID != ya.ID || xb.ID != yb.ID {
				t.Fatalf("fresh databases gave different ids (%s %s, %s %s): the test needs equal ones", xa.ID, ya.ID, xb.ID, yb.ID)
			}
			xr, _ := x.client(xa).wsOpenRoom(t, "x room", xb.ID)
			yr, yAfter := y.client(ya).wsOpenRoom(t, "y room", yb.ID)
			if xr.ID != yr.ID {
				t.Fatalf("room ids differ (%s, %s): the test needs equal ones", xr.ID, yr.ID)
			}

			wy := y.wsConnect(t, protoTransportWS, yb)
			wy.subscribe("m", wsMessageAddedOp, map[string]any{"r": yr.ID, "after": yAfter})
			wsLiveFor(t, y.client(ya), wy, yr.ID, "m")
			for { // drain the probes
				if _, err := wy.nextFor("m", 300*time.Millisecond); err != nil {
					break
				}
			}
			// y's next message will have seq n: x's room gets there first,
			// so that, were x's message delivered in y, it would be taken for
			// y's own.
			n := y.client(ya).send(t, yr.ID, "sync").Seq + 1
			if m := wy.message("m"); m.Seq != n-1 {
				t.Fatalf("y's subscriber got %+v, want seq %d", m, n-1)
			}
			for seq := 1; seq < n; {
				seq = x.client(xa).send(t, xr.ID, "for deployment x only").Seq
			}
			mine := y.client(ya).send(t, yr.ID, "for deployment y")
			if m := wy.message("m"); m.ID != mine.ID || m.Body != "for deployment y" {
				t.Fatalf("y's subscriber got %+v, want y's own message %+v", m, mine)
			}
			wy.quiet("m", 200*time.Millisecond)

			// xa's socket makes xa online in x, not the user with the same id in y.
			x.wsConnect(t, protoTransportWS, xa)
			var u struct{ Node struct{ Online bool } }
			x.client(xb).do(t, wsPresenceOp, map[string]any{"id": xa.ID}).Decode(t, &u)
			if !u.Node.Online {
				t.Fatal("x does not see its own user online")
			}
			y.client(yb).do(t, wsPresenceOp, map[string]any{"id": ya.ID}).Decode(t, &u)
			if u.Node.Online {
				t.Fatal("y sees its user online because of a socket in x")
			}
		})
	}
}

// A member whose instance hears nothing while they leave and are added
// back, and a message is sent in between, sees on their open subscription
// what a new subscription would show: the room from their return on,
// nothing of what was said while they were out.
func TestLeftAndBackDuringOutageSkipsTheAbsence(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var down atomic.Bool
			broker := pubsub.NewMemory()
			t.Cleanup(func() { broker.Close() })
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithBroker(lossyBroker{broker, func(roomEvent) bool { return down.Load() }})}})
			a, b := e.signUp(t, "host"), e.signUp(t, "comes back")
			ca, cb := e.client(a), e.client(b)
			r, after := ca.wsOpenRoom(t, "back", b.ID)
			wb := e.wsConnect(t, protoTransportWS, b)
			wb.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
			before := ca.send(t, r.ID, "before")
			if m := wb.message("m"); m.ID != before.ID {
				t.Fatalf("got %+v, want %+v", m, before)
			}

			down.Store(true)
			var left struct{ LeaveRoom string }
			cb.do(t, wsLeaveOp, map[string]any{"r": r.ID}).Decode(t, &left)
			away := ca.send(t, r.ID, "while b is away")
			var added struct{ AddRoomMembers struct{ ID string } }
			ca.do(t, wsAddMembersOp, map[string]any{"r": r.ID, "u": []string{b.ID}}).Decode(t, &added)
			down.Store(false)
			back := ca.send(t, r.ID, "welcome back")

			// back arrives after a gap; the stream reads the gap from the
			// database and finds b a member again since the "added" message.
			if m := wb.message("m"); m.Kind != "SYSTEM" || m.Seq != away.Seq+1 {
				t.Fatalf("got %+v, want the SYSTEM message of b's return (seq %d)", m, away.Seq+1)
			}
			if m := wb.message("m"); m.ID != back.ID {
				t.Fatalf("got %+v, want %+v", m, back)
			}
		})
	}
}

// The membership checks stay out of the live path: a message to a room
// with eight open subscriptions costs as many statements as one to a room
// with one.
func TestLiveDeliveryStatementsDoNotGrowWithSubscribers(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a := e.signUp(t, "sender")
		ca := e.client(a)
		// room opens a room of a and n others, each listening to it, and
		// returns a function that sends to it and counts the statements
		// spent until every listener has the message.
		room := func(n int) func() int64 {
			var ids []string
			var members []account
			for i := range n {
				m := e.signUp(t, fmt.Sprintf("member %d", i))
				ids, members = append(ids, m.ID), append(members, m)
			}
			r, after := ca.wsOpenRoom(t, fmt.Sprintf("%d listeners", n), ids...)
			var sockets []*wsClient
			for _, m := range members {
				ws := e.wsConnect(t, protoTransportWS, m)
				ws.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
				sockets = append(sockets, ws)
			}
			send := func() int64 {
				before := counter.n.Load()
				sent := ca.send(t, r.ID, "hello")
				for _, ws := range sockets {
					if m := ws.message("m"); m.ID != sent.ID {
						t.Fatalf("got %+v, want %+v", m, sent)
					}
				}
				return counter.n.Load() - before
			}
			send() // every stream is past its replay
			return send
		}
		one, eight := room(1), room(8)
		c1, c8 := one(), eight()
		t.Logf("statements per message: %d with 1 listener, %d with 8", c1, c8)
		if c8 != c1 {
			t.Fatalf("a message costs %d statements with 8 listeners, %d with 1: something is read per subscriber", c8, c1)
		}
	})
}

// swapBroker publishes the next two messages of a room (topic "room.<id>")
// in the opposite order, as Redis may deliver the sends of two instances.
type swapBroker struct {
	pubsub.Broker
	mu    sync.Mutex
	armed bool
	held  *heldPublish
}

type heldPublish struct {
	topic   string
	payload []byte
}

func (b *swapBroker) arm() { b.mu.Lock(); b.armed = true; b.mu.Unlock() }

func (b *swapBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	var e roomEvent
	if !strings.HasPrefix(topic, "room.") || json.Unmarshal(payload, &e) != nil || e.Message == nil {
		return b.Broker.Publish(ctx, topic, payload)
	}
	b.mu.Lock()
	switch {
	case b.armed && b.held == nil:
		b.held = &heldPublish{topic, payload}
		b.mu.Unlock()
		return nil
	case b.held != nil:
		held := b.held
		b.held, b.armed = nil, false
		b.mu.Unlock()
		if err := b.Broker.Publish(ctx, topic, payload); err != nil {
			return err
		}
		return b.Broker.Publish(ctx, held.topic, held.payload)
	}
	b.mu.Unlock()
	return b.Broker.Publish(ctx, topic, payload)
}

// Messages that arrive out of order are delivered in order, and once the
// missing one has come no subscriber reads the database for the gap.
func TestReorderedMessagesCostNoDatabaseRead(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			counter := &statementCounter{}
			mem := pubsub.NewMemory()
			t.Cleanup(func() { mem.Close() })
			broker := &swapBroker{Broker: mem}
			e := newEnv(t, backend, counter.option(), envOption{chat: []chat.Option{chat.WithBroker(broker)}})
			a, b := e.signUp(t, "보내는이"), e.signUp(t, "듣는이")
			ca := e.client(a)
			r, after := ca.wsOpenRoom(t, "swapped", b.ID)
			var sockets []*wsClient
			for range 4 {
				ws := e.wsConnect(t, protoTransportWS, b)
				ws.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
				sockets = append(sockets, ws)
			}
			warm := ca.send(t, r.ID, "warm up")
			for _, ws := range sockets {
				if m := ws.message("m"); m.ID != warm.ID {
					t.Fatalf("got %+v, want %+v", m, warm)
				}
			}
			broker.arm()
			first, second := ca.send(t, r.ID, "first"), ca.send(t, r.ID, "second")
			for _, ws := range sockets {
				if m := ws.message("m"); m.ID != first.ID {
					t.Fatalf("got %+v first, want %+v", m, first)
				}
				if m := ws.message("m"); m.ID != second.ID {
					t.Fatalf("got %+v second, want %+v", m, second)
				}
			}
			before := counter.n.Load()
			time.Sleep(3 * gapWaitForTests) // past the gap timer
			if n := counter.n.Load() - before; n != 0 {
				t.Fatalf("%d statements after the gap had filled itself: the gap timer read the database", n)
			}
		})
	}
}

// gapWaitForTests is chat's gapWait: how long a stream waits for a
// missing message before it reads it from the database.
const gapWaitForTests = 250 * time.Millisecond
