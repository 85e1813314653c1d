package server_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/server"
)

// statementCounter counts the round trips the server makes to the
// database: each statement through ent (BEGIN, COMMIT and ROLLBACK
// included), and each script of several statements (database.Scripts,
// MariaDB's sends) once.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) option() envOption {
	return envOption{db: database.WithStatementCounter(&c.n)}
}

// The rooms page with members, lastMessage and unreadCount costs the same
// number of statements for 5 rooms as for 50.
func TestRoomsPageStatementsDoNotGrowWithPageSize(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a, b := e.signUp(t, "owner"), e.signUp(t, "friend")
		ca, cb := e.client(a), e.client(b)
		for i := 0; i < 50; i++ {
			name := fmt.Sprintf("room %02d", i)
			r := ca.createRoom(t, &name, b.ID)
			cb.send(t, r.ID, fmt.Sprintf("message %d", i))
		}
		page := `query($n: Int!) { rooms(first: $n) { totalCount edges { cursor node {
			id name kind unreadCount members { id nickname } lastMessage { id body seq } } } } }`
		cost := func(n int) int64 {
			var out struct {
				Rooms struct {
					Edges []struct {
						Node struct {
							UnreadCount int
							Members     []struct{ ID string }
							LastMessage *struct{ Body string }
						}
					}
				}
			}
			before := counter.n.Load()
			ca.do(t, page, map[string]any{"n": n}).Decode(t, &out)
			spent := counter.n.Load() - before
			if len(out.Rooms.Edges) != n {
				t.Fatalf("page of %d has %d rooms", n, len(out.Rooms.Edges))
			}
			for _, ed := range out.Rooms.Edges {
				if ed.Node.UnreadCount != 1 || len(ed.Node.Members) != 2 || ed.Node.LastMessage == nil {
					t.Fatalf("room on the page: %+v", ed.Node)
				}
			}
			return spent
		}
		small, large := cost(5), cost(50)
		t.Logf("statements: %d for 5 rooms, %d for 50", small, large)
		if small != large {
			t.Fatalf("a page of 5 rooms costs %d statements, a page of 50 costs %d: something is loaded per room", small, large)
		}
		if large > 10 {
			t.Fatalf("a rooms page costs %d statements; expected a handful", large)
		}
	})
}

// forEachDBWith is forEachDB with a statement counter on the server's
// driver. The accounts' clock stands still, so that what a request costs
// does not depend on how long the test took: a token's session is read
// the first time it is used, and then remembered open (see
// auth.SessionCheckTTL).
func forEachDBWith(t *testing.T, fn func(t *testing.T, e *env, c *statementCounter)) {
	t.Helper()
	now := time.Now().UTC()
	stopped := envOption{server: func(_ *server.Config, ao *auth.Options) { ao.Now = func() time.Time { return now } }}
	for _, b := range dbtest.Backends() {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c := &statementCounter{}
			fn(t, newEnv(t, b, c.option(), stopped), c)
		})
	}
}

// A plain sendMessage (a member, a new clientId, a room of several
// members) costs a fixed number of round trips to the database, whatever
// the room's backlog.
//
// On MariaDB two (database.Scripts, see internal/chat/sendscript.go):
// BEGIN, the seq (membership and blocks checked under the room's lock,
// unread counters bumped), the INSERT (which returns the room and the
// sender the event carries) and the room's members in the first; the
// message's grams for the search index, the stored NEW_MESSAGE
// notifications of every recipient (one multi-row INSERT … RETURNING per
// 1 000 recipients, per batch of sends: the outbox the notifications
// subscription replays from), COMMIT and, after it, the recipients'
// unread totals for publishing, in the second.
//
// On SQLite, in process, a round trip is a statement (a function call):
// BEGIN, the seq, the sender's counter, the INSERT, the grams, the
// recipients with their unread totals (read in the transaction: SQLite's
// writers take turns, so that is the total after commit), the
// notifications INSERT … RETURNING their ids, COMMIT.
//
// Not the access token's session (read again at most once a second; the
// clock stands still here), nor, once the sender has sent to the room, a
// membership read before the room's lock. Sending again with the same
// clientId costs no more, and gives the first message back (MariaDB: the
// first script ends on the unique key, then ROLLBACK and the lookup of
// the first message in one round trip; SQLite: BEGIN, the seq, the
// counter, the INSERT that fails, ROLLBACK, the lookup).
func TestSendMessageStatements(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a, b, c := e.signUp(t, "sender"), e.signUp(t, "reader"), e.signUp(t, "another")
		ca := e.client(a)
		r := ca.createRoom(t, ptr("cost"), b.ID, c.ID)
		// It was 9: the session and the membership were read before the
		// room's lock, and MariaDB read the room's revision back. Then 6
		// (7 on SQLite), until the notifications were stored with the
		// message (#12): two statements more, not one per recipient (one
		// INSERT … SELECT deadlocked concurrent sends on MariaDB's AUTO-INC
		// lock, see storeNotifications). Then 8 on MariaDB, 9 on SQLite,
		// until (#8) MariaDB sent them as two scripts of several
		// statements, and the recipients with their notification ids and
		// totals came from the transaction instead of a read after it.
		want := map[string]int64{dialect.SQLite: 8, dialect.MySQL: 2}[e.DB.Dialect]
		send := func(body, clientID string) (int64, string) {
			before := counter.n.Load()
			var out struct{ SendMessage struct{ ID, Body string } }
			ca.do(t, `mutation($r: ID!, $b: String!, $c: String) { sendMessage(input: {roomId: $r, body: $b, clientId: $c}) { id body } }`,
				map[string]any{"r": r.ID, "b": body, "c": clientID}).Decode(t, &out)
			if out.SendMessage.Body != body {
				t.Fatalf("sent %q, got %+v", body, out.SendMessage)
			}
			return counter.n.Load() - before, out.SendMessage.ID
		}
		for i := range 30 { // a backlog: the cost does not grow with it
			e.client(b).send(t, r.ID, fmt.Sprint("backlog ", i))
		}
		// The sender's first send to the room reads the membership before
		// the room's lock (an outsider never waits for it); later ones don't.
		if n, _ := send("first", "c-first"); n != want+1 {
			t.Errorf("the first send cost %d statements, want %d", n, want+1)
		}
		var firstID string
		for i := range 3 {
			n, id := send(fmt.Sprint("plain ", i), fmt.Sprint("c-", i))
			if n != want {
				t.Errorf("send %d cost %d statements, want %d", i, n, want)
			}
			if i == 0 {
				firstID = id
			}
		}
		if n, id := send("plain 0", "c-0"); n > want || id != firstID {
			t.Errorf("a repeated clientId costs %d statements (want at most %d) and gives message %s (want the first, %s)", n, want, id, firstID)
		}
	})
}

// A page of history (50 messages with their sender, read backwards, as
// the web app and cmd/chatbench read it) costs three statements whatever
// the page: the room (with the viewer's membership), the page (the
// membership's joined seq a subquery of it) and the senders. It was five:
// the membership read again, and a COUNT of the whole room for pageInfo.
// The pages join up (consecutive seqs, no repeat) and end where the room
// starts; totalCount is still answered; outsiders and leavers get nothing.
func TestHistoryPageStatements(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a, b, outsider := e.signUp(t, "alice"), e.signUp(t, "bobby"), e.signUp(t, "outsider")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, ptr("history"), b.ID)
		for i := range 120 {
			c := ca
			if i%3 == 0 {
				c = cb
			}
			c.send(t, r.ID, fmt.Sprintf("line %d", i))
		}
		type page struct {
			Room struct {
				Messages struct {
					TotalCount *int
					Edges      []struct {
						Node struct {
							Seq    int64
							Body   string
							Sender struct{ Nickname string }
						}
					}
					PageInfo struct {
						HasPreviousPage bool
						StartCursor     *string
					}
				}
			}
		}
		var seqs []int64
		var before any
		for n := 0; ; n++ {
			if n > 10 {
				t.Fatal("the pages never reach the start of the room")
			}
			var p page
			spent := counter.n.Load()
			cb.do(t, historyPageOp, map[string]any{"id": r.ID, "before": before}).Decode(t, &p)
			spent = counter.n.Load() - spent
			m := p.Room.Messages
			if spent != 3 {
				t.Errorf("page %d (%d messages) cost %d statements, want 3", n, len(m.Edges), spent)
			}
			if len(m.Edges) != 50 && m.PageInfo.HasPreviousPage {
				t.Fatalf("page %d has %d messages and more before it", n, len(m.Edges))
			}
			var these []int64
			for _, ed := range m.Edges {
				if s := ed.Node.Sender.Nickname; strings.HasPrefix(ed.Node.Body, "line ") && s != "alice" && s != "bobby" {
					t.Fatalf("a message without its sender: %+v", ed.Node)
				}
				these = append(these, ed.Node.Seq)
			}
			seqs = append(these, seqs...)
			if !m.PageInfo.HasPreviousPage {
				break
			}
			before = *m.PageInfo.StartCursor
		}
		if len(seqs) < 120 {
			t.Fatalf("the pages hold %d messages, want at least the 120 sent", len(seqs))
		}
		for i := range seqs {
			if seqs[i] != seqs[0]+int64(i) {
				t.Fatalf("seqs read backwards are not consecutive: %v", seqs)
			}
		}
		var counted page
		cb.do(t, `query($id: ID!) { room(id: $id) { messages(last: 10) { totalCount edges { node { seq } } } } }`,
			map[string]any{"id": r.ID}).Decode(t, &counted)
		if tc := counted.Room.Messages.TotalCount; tc == nil || *tc != len(seqs) || len(counted.Room.Messages.Edges) != 10 {
			t.Fatalf("totalCount %v with %d edges, want %d with 10", tc, len(counted.Room.Messages.Edges), len(seqs))
		}
		if got := e.client(outsider).do(t, historyPageOp, map[string]any{"id": r.ID}); got.Code() != "NOT_FOUND" || strings.Contains(got.Raw, "line ") {
			t.Fatalf("an outsider reading the history got %s", got.Raw)
		}
		cb.do(t, leaveRoomOp, map[string]any{"r": r.ID}).Decode(t, &struct{}{})
		if got := cb.do(t, historyPageOp, map[string]any{"id": r.ID}); got.Code() != "NOT_FOUND" || strings.Contains(got.Raw, "line ") {
			t.Fatalf("a member who left reading the history got %s", got.Raw)
		}
	})
}
