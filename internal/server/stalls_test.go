package server_test

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/server"
)

// stallTimeout is the request deadline of the stall tests' servers.
const stallTimeout = time.Second

// lockedRoomEnv is a chatty with a one-second request deadline, a group
// room of members a and b, a second room of theirs, an outsider, and a
// way to hold the first room's lock from another database client.
type lockedRoomEnv struct {
	*env
	a, b, outsider  account
	locked, another roomData
	cfg             dbConfig
}

type dbConfig struct{ driver, dsn string }

func newLockedRoomEnv(t *testing.T, backend string) *lockedRoomEnv {
	t.Helper()
	cfg := dbtest.Config(t, backend)
	db := dbtest.OpenConfig(t, cfg)
	e := newEnvOn(t, db, envOption{server: func(c *server.Config, _ *auth.Options) { c.DBTimeout = stallTimeout }})
	l := &lockedRoomEnv{env: e, cfg: dbConfig{cfg.Driver, cfg.DSN}}
	l.a, l.b, l.outsider = e.signUp(t, "alice"), e.signUp(t, "bob"), e.signUp(t, "mallory")
	l.locked = e.client(l.a).createRoom(t, ptr("locked"), l.b.ID)
	l.another = e.client(l.a).createRoom(t, ptr("another"), l.b.ID)
	e.client(l.a).send(t, l.locked.ID, "before the lock")
	return l
}

// holdLock makes another client of the database hold the locked room's
// row (MariaDB: a transaction that updated it; SQLite: a transaction
// holding the database's write lock) until the test ends or release is called.
func (l *lockedRoomEnv) holdLock(t *testing.T) (release func()) {
	t.Helper()
	other, err := sql.Open(l.cfg.driver, l.cfg.dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.Atoi(l.locked.ID)
	q := "SELECT id FROM rooms WHERE id = ? FOR UPDATE"
	if l.cfg.driver == "sqlite" {
		q = "UPDATE rooms SET last_seq = last_seq WHERE id = ? RETURNING id"
	}
	var got int
	if err := tx.QueryRowContext(ctx, q, id).Scan(&got); err != nil {
		t.Fatalf("lock room %d: %v", id, err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback()
			other.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// With a room's lock held elsewhere for longer than the request
// deadline, sends to it fail with SERVICE_UNAVAILABLE once the deadline
// passes, while the rest of the server answers: viewer, reading the room,
// and (on MariaDB, where locks are per row) sending to another room. The
// pool is small, so sends that each held a connection would starve the rest.
func TestLockedRoomStallsOnlyItsSends(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			l := newLockedRoomEnv(t, backend)
			l.DB.SQL.SetMaxOpenConns(3)
			release := l.holdLock(t)

			// Members keep sending to the locked room, from 8 clients at once.
			stop := make(chan struct{})
			var (
				mu      sync.Mutex
				stalled []gqlResponse
				wg      sync.WaitGroup
			)
			for i := range 8 {
				c := l.client(l.a)
				if i%2 == 1 {
					c = l.client(l.b)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						default:
						}
						resp, err := c.try(sendOp, map[string]any{"r": l.locked.ID, "b": "while locked " + strconv.Itoa(n)})
						if err != nil {
							resp = gqlResponse{Raw: err.Error()}
						}
						mu.Lock()
						stalled = append(stalled, resp)
						mu.Unlock()
					}
				}()
			}
			time.Sleep(200 * time.Millisecond) // let the sends queue up

			for range 3 {
				var v struct{ Viewer struct{ ID, Nickname string } }
				l.client(l.outsider).do(t, `{ viewer { id nickname } }`, nil).Decode(t, &v)
				if v.Viewer.ID != l.outsider.ID {
					t.Fatalf("viewer = %+v, want %s", v.Viewer, l.outsider.ID)
				}
				var r struct{ Room struct{ Name string } }
				l.client(l.b).do(t, `query($r: ID!) { room(id: $r) { name } }`, map[string]any{"r": l.locked.ID}).Decode(t, &r)
				if r.Room.Name != "locked" {
					t.Fatalf("room = %+v", r.Room)
				}
				if backend == "mysql" {
					if m := l.client(l.b).send(t, l.another.ID, "elsewhere"); m.Body != "elsewhere" {
						t.Fatalf("send to another room: %+v", m)
					}
				}
			}

			close(stop)
			wg.Wait()
			if len(stalled) < 8 {
				t.Fatalf("only %d sends answered", len(stalled))
			}
			for i, resp := range stalled {
				if resp.Code() != "SERVICE_UNAVAILABLE" {
					t.Fatalf("send %d to the locked room: %s, want SERVICE_UNAVAILABLE", i, resp.Raw)
				}
				mustNotContain(t, resp.Raw, "rooms", "lock", "deadline", "context")
			}

			release()
			if m := l.client(l.a).send(t, l.locked.ID, "after the lock"); m.Body != "after the lock" {
				t.Fatalf("send after release: %+v", m)
			}
		})
	}
}

// Whoever is not a member of a room is told so at once, however long the
// room's lock is held: the membership is read before the lock is taken.
func TestNonMemberSendDoesNotWaitForLockedRoom(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			l := newLockedRoomEnv(t, backend)
			l.holdLock(t)
			c := l.client(l.outsider)
			for _, op := range []struct{ name, query string }{
				{"sendMessage", sendOp},
				{"leaveRoom", `mutation($r: ID!) { leaveRoom(roomId: $r) }`},
				{"addRoomMembers", `mutation($r: ID!, $u: [ID!]!) { addRoomMembers(roomId: $r, userIds: $u) { id } }`},
			} {
				resp := c.do(t, op.query, map[string]any{"r": l.locked.ID, "b": "let me in", "u": []string{l.a.ID}})
				if code := resp.Code(); code != "NOT_FOUND" && code != "FORBIDDEN" {
					t.Fatalf("%s by a non-member to a locked room: %s, want NOT_FOUND", op.name, resp.Raw)
				}
			}
		})
	}
}

// /readyz is 503 while every pooled connection is taken and requests
// wait for one, and 200 again once they are given back.
func TestReadyzWhenPoolExhausted(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		if code, body := get(t, e.URL+"/readyz"); code != http.StatusOK {
			t.Fatalf("/readyz = %d %q before", code, body)
		}
		e.DB.SQL.SetMaxOpenConns(2)
		ctx := context.Background()
		var held []*sql.Conn
		for range 2 {
			c, err := e.DB.SQL.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
		}
		code, body := get(t, e.URL+"/readyz")
		if code != http.StatusServiceUnavailable || body != "database unavailable\n" {
			t.Fatalf("/readyz = %d %q with the pool taken, want 503: the ping gets no connection within a second", code, body)
		}
		code, body = get(t, e.URL+"/readyz")
		if code != http.StatusServiceUnavailable || body != "database pool exhausted\n" {
			t.Fatalf("/readyz = %d %q with the pool taken and waiters, want 503 pool exhausted", code, body)
		}
		for _, c := range held {
			c.Close()
		}
		if code, body := get(t, e.URL+"/readyz"); code != http.StatusOK {
			t.Fatalf("/readyz = %d %q after the connections came back", code, body)
		}
	})
}

// Over a WebSocket, each query and mutation has the deadline too, while a
// subscription on the same socket lives on past it.
func TestWebSocketOperationsHaveADeadline(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			l := newLockedRoomEnv(t, backend)
			cursor := l.client(l.a).wsLastCursor(t, l.locked.ID)
			ws := l.wsConnect(t, protoTransportWS, l.a)
			ws.subscribe("live", wsMessageAddedOp, map[string]any{"r": l.locked.ID, "after": cursor})
			release := l.holdLock(t)

			ws.subscribe("send", sendOp, map[string]any{"r": l.locked.ID, "b": "over the socket"})
			if code := ws.refused("send"); code != "SERVICE_UNAVAILABLE" {
				t.Fatalf("a send over the socket to a locked room: %s, want SERVICE_UNAVAILABLE", code)
			}
			var v struct{ Viewer struct{ ID string } }
			ws.subscribe("who", `{ viewer { id } }`, nil)
			ws.data("who", &v)
			if v.Viewer.ID != l.a.ID {
				t.Fatalf("viewer over the socket = %+v", v.Viewer)
			}

			release()
			time.Sleep(stallTimeout) // the subscription is older than the deadline
			sent := l.client(l.b).send(t, l.locked.ID, "after the lock")
			if got := ws.message("live"); got.ID != sent.ID {
				t.Fatalf("subscription after the deadline got %+v, want %s", got, sent.ID)
			}
		})
	}
}

// Opening a direct chat both people are in only reads: it answers at once
// while the room's row is locked elsewhere.
func TestOpeningADirectChatDoesNotWaitForItsLock(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			l := newLockedRoomEnv(t, backend)
			direct := l.client(l.a).createRoom(t, nil, l.b.ID)
			l.locked = direct
			release := l.holdLock(t)
			defer release()
			var out struct{ CreateRoom struct{ ID string } }
			r := l.client(l.a).do(t, `mutation($m: [ID!]!) { createRoom(input: {memberIds: $m}) { id } }`, map[string]any{"m": []string{l.b.ID}})
			if r.Code() != "" {
				t.Fatalf("opening the direct chat while its row is locked: %s", r.Raw)
			}
			r.Decode(t, &out)
			if out.CreateRoom.ID != direct.ID {
				t.Fatalf("opened room %s, want the pair's room %s", out.CreateRoom.ID, direct.ID)
			}
		})
	}
}

// A member who sent lately needs no membership read before the room's
// lock; once they leave, a send of theirs is refused at once again,
// without waiting for the lock.
func TestLeftMemberSendDoesNotWaitForLockedRoom(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			l := newLockedRoomEnv(t, backend)
			cb := l.client(l.b)
			cb.send(t, l.locked.ID, "bob was here")
			cb.do(t, `mutation($r: ID!) { leaveRoom(roomId: $r) }`, map[string]any{"r": l.locked.ID})
			l.holdLock(t)
			resp := cb.do(t, sendOp, map[string]any{"r": l.locked.ID, "b": "still here?"})
			if resp.Code() != "NOT_FOUND" {
				t.Fatalf("sendMessage by a member who left, to a locked room: %s, want NOT_FOUND", resp.Raw)
			}
		})
	}
}
