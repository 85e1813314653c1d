package chat

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/notification"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/viewer"
)

// Sends queued on one room while its turn is taken are stored in one
// transaction when they can be; one that cannot (a clientId used before)
// does not fail the others: each caller gets its own message, seqs stay
// unique and gapless, and each new message is published once.
//
// On MariaDB with scripts (sendscript.go) the batch is two round trips,
// and each published message carries its recipients, their notification
// ids and unread totals, as stored (so does SQLite's, read in the
// transaction).
func TestConcurrentSendsShareATransaction(t *testing.T) {
	for _, path := range sendPaths() {
		t.Run(path.name, func(t *testing.T) {
			backend, scripts := path.backend, path.scripts
			ctx := context.Background()
			var txs, noteInserts, roundTrips atomic.Int64
			db := dbtest.Open(t, backend, database.WithStatementCounter(&roundTrips), database.WithDriver(func(d dialect.Driver) dialect.Driver {
				return dialect.DebugWithContext(d, func(_ context.Context, v ...any) {
					if len(v) == 1 && strings.HasSuffix(fmt.Sprint(v[0]), ": started") {
						txs.Add(1)
					}
					if len(v) == 1 && strings.Contains(fmt.Sprint(v[0]), "INSERT INTO notifications") {
						noteInserts.Add(1)
					}
				})
			}))
			var (
				mu        sync.Mutex
				published []int
				told      = map[int][]recipientNote{} // by message, when the event knew
			)
			s, users := sendService(t, db, scripts, 3, func(_ context.Context, e Event) {
				if e.Kind == EventMessageCreated && e.Message.Kind == message.KindTEXT {
					mu.Lock()
					published = append(published, e.Message.ID)
					if e.recipientsKnown {
						told[e.Message.ID] = e.recipients
					}
					mu.Unlock()
				}
			})
			name := "busy"
			r, err := s.CreateRoom(ctx, users[0], CreateRoomInput{MemberIDs: []int{users[1].UserID, users[2].UserID}, Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			used := "used"
			first, err := s.SendMessage(ctx, users[0], SendMessageInput{RoomID: r.ID, Body: "first", ClientID: &used})
			if err != nil {
				t.Fatal(err)
			}

			// queued sends n messages while the room's turn is held, then
			// lets them go; dup adds a send with the clientId used before.
			queued := func(n int, dup bool) []*ent.Message {
				t.Helper()
				release, err := s.turns.take(ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				total := n
				if dup {
					total++
				}
				out := make([]*ent.Message, total)
				errs := make([]error, total)
				var wg sync.WaitGroup
				for i := range total {
					wg.Add(1)
					go func() {
						defer wg.Done()
						in, v := SendMessageInput{RoomID: r.ID, Body: fmt.Sprint("m", i)}, users[i%len(users)]
						if i == n { // the first message's sender, with its clientId
							in, v = SendMessageInput{RoomID: r.ID, Body: "first", ClientID: &used}, users[0]
						}
						out[i], errs[i] = s.SendMessage(ctx, v, in)
					}()
				}
				for { // until every send waits in the queue
					s.turns.mu.Lock()
					waiting := len(s.turns.rooms[r.ID].queue)
					s.turns.mu.Unlock()
					if waiting == total {
						break
					}
					runtime.Gosched()
				}
				release()
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("send %d: %v", i, err)
					}
				}
				for i := range n {
					if out[i].Body != fmt.Sprint("m", i) || *out[i].SenderID != users[i%len(users)].UserID {
						t.Fatalf("send %d got %+v", i, out[i])
					}
				}
				if dup && out[n].ID != first.ID {
					t.Fatalf("the repeated clientId got message %d, want the first one, %d", out[n].ID, first.ID)
				}
				return out
			}

			for _, u := range users { // no membership read before the turn: count the batch alone
				s.senders.remember(r.ID, u.UserID, s.now())
			}
			before, notesBefore, tripsBefore := txs.Load(), noteInserts.Load(), roundTrips.Load()
			queued(10, false)
			if scripts {
				// BEGIN … the members; the grams, the 20 notifications
				// (two recipients each), COMMIT, the totals.
				if n := roundTrips.Load() - tripsBefore; n != 2 {
					t.Errorf("10 queued sends took %d round trips, want 2", n)
				}
			} else {
				if n := txs.Load() - before; n != 1 {
					t.Errorf("10 queued sends took %d transactions, want 1", n)
				}
				// Their 20 notifications (two recipients each): one statement.
				if n := noteInserts.Load() - notesBefore; n != 1 {
					t.Errorf("10 queued sends stored their notifications in %d statements, want 1", n)
				}
			}
			queued(5, true)

			seqs, err := db.Client.Message.Query().Where(message.RoomID(r.ID), message.KindNEQ(message.KindSYSTEM)).Order(message.BySeq()).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(seqs) != 16 {
				t.Fatalf("%d messages stored, want 16", len(seqs))
			}
			for i, m := range seqs {
				if m.Seq != int64(i+1) {
					t.Fatalf("message %d has seq %d", i, m.Seq)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(published)
			if len(published) != 16 || len(slices.Compact(published)) != 16 {
				t.Fatalf("published %d messages (%v), want 16, each once", len(published), published)
			}
			// Each message notified the two others, once.
			for _, m := range seqs {
				notified, err := db.Client.Notification.Query().Where(notification.MessageID(m.ID)).All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var who []int
				for _, n := range notified {
					who = append(who, n.UserID)
				}
				slices.Sort(who)
				if rs, ok := told[m.ID]; ok || scripts || backend == "sqlite" {
					// Told whom, with which notification, and the total
					// unread of each as of the commit (nothing was read
					// since: the counts are current).
					var gotWho []int
					for _, rn := range rs {
						gotWho = append(gotWho, rn.userID)
						var note *ent.Notification
						for _, n := range notified {
							if n.UserID == rn.userID {
								note = n
							}
						}
						if note == nil || note.ID != rn.id {
							t.Fatalf("message %q told user %d of notification %d; stored: %+v", m.Body, rn.userID, rn.id, notified)
						}
						if rn.total == nil || *rn.total < 1 {
							t.Fatalf("message %q told user %d an unread total of %v", m.Body, rn.userID, rn.total)
						}
					}
					if !slices.Equal(gotWho, who) {
						t.Fatalf("message %q was published to %v, stored for %v", m.Body, gotWho, who)
					}
				}
				var want []int
				for _, u := range users {
					if u.UserID != *m.SenderID {
						want = append(want, u.UserID)
					}
				}
				if !slices.Equal(who, want) {
					t.Fatalf("message %q (from %d) notified %v, want %v", m.Body, *m.SenderID, who, want)
				}
			}
			got, err := s.UnreadCounts(ctx, users[1], []int{r.ID})
			if err != nil {
				t.Fatal(err)
			}
			if want := recount(t, db.Client, r.ID, users[1].UserID); got[r.ID] != want {
				t.Fatalf("unread %d, want %d", got[r.ID], want)
			}
		})
	}
}

// A send refused under the room's lock (its sender left, through another
// instance: this one still remembers them as a sender) fails alone; the
// sends queued with it are stored, each notifying the current members
// but its sender and those who blocked its sender, and told with their
// notification ids and unread totals as stored (SQLite, MariaDB's
// scripts).
func TestQueuedSendRefusedUnderTheLockFailsAlone(t *testing.T) {
	for _, path := range sendPaths() {
		t.Run(path.name, func(t *testing.T) {
			backend, scripts := path.backend, path.scripts
			ctx := context.Background()
			db := dbtest.Open(t, backend)
			var (
				mu   sync.Mutex
				told = map[int][]recipientNote{}
			)
			s, users := sendService(t, db, scripts, 4, func(_ context.Context, e Event) {
				if e.Kind == EventMessageCreated && e.Message.Kind == message.KindTEXT {
					mu.Lock()
					if _, ok := told[e.Message.ID]; ok {
						t.Errorf("message %d published twice", e.Message.ID)
					}
					told[e.Message.ID] = e.recipients
					if !e.recipientsKnown && (scripts || backend == "sqlite") {
						t.Errorf("message %d published without its recipients", e.Message.ID)
					}
					mu.Unlock()
				}
			})
			name := "group"
			r, err := s.CreateRoom(ctx, users[0], CreateRoomInput{MemberIDs: []int{users[1].UserID, users[2].UserID, users[3].UserID}, Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.LeaveRoom(ctx, users[3], r.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.BlockUser(ctx, users[1], users[0].UserID); err != nil {
				t.Fatal(err)
			}
			for _, u := range users { // as if user 3 had left through another instance
				s.senders.remember(r.ID, u.UserID, s.now())
			}
			release, err := s.turns.take(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			senders := []int{0, 1, 3, 2, 0, 1, 2}
			out := make([]*ent.Message, len(senders))
			errs := make([]error, len(senders))
			var wg sync.WaitGroup
			for i, u := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out[i], errs[i] = s.SendMessage(ctx, users[u], SendMessageInput{RoomID: r.ID, Body: fmt.Sprint("m", i)})
				}()
			}
			for { // until every send waits in the queue
				s.turns.mu.Lock()
				waiting := len(s.turns.rooms[r.ID].queue)
				s.turns.mu.Unlock()
				if waiting == len(senders) {
					break
				}
				runtime.Gosched()
			}
			release()
			wg.Wait()
			for i, u := range senders {
				if u == 3 {
					if !errors.Is(errs[i], ErrRoomNotFound) {
						t.Fatalf("the send of the member who left: %v, %v; want ErrRoomNotFound", out[i], errs[i])
					}
					continue
				}
				if errs[i] != nil || out[i].Body != fmt.Sprint("m", i) || *out[i].SenderID != users[u].UserID {
					t.Fatalf("send %d: %+v, %v", i, out[i], errs[i])
				}
			}
			all, err := db.Client.Message.Query().Where(message.RoomID(r.ID)).Order(message.BySeq()).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range all {
				if m.Seq != int64(i+1) {
					t.Fatalf("message %d of the room has seq %d", i, m.Seq)
				}
			}
			// Who was notified: the members left (0, 1, 2) but the
			// sender; user 1 blocked user 0.
			wantWho := map[int][]int{0: {2}, 1: {0, 2}, 2: {0, 1}}
			mu.Lock()
			defer mu.Unlock()
			for i, u := range senders {
				if u == 3 {
					continue
				}
				m := out[i]
				ns, err := db.Client.Notification.Query().Where(notification.MessageID(m.ID)).Order(notification.ByUserID()).All(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var want, got, gotTold []int
				for _, w := range wantWho[u] {
					want = append(want, users[w].UserID)
				}
				for _, n := range ns {
					got = append(got, n.UserID)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("message %q of user %d notified %v, want %v", m.Body, u, got, want)
				}
				rs, ok := told[m.ID]
				if !ok {
					t.Fatalf("message %q was not published", m.Body)
				}
				if scripts || backend == "sqlite" {
					for j, rn := range rs {
						gotTold = append(gotTold, rn.userID)
						if j < len(ns) && rn.id != ns[j].ID {
							t.Fatalf("message %q told user %d of notification %d, stored %d", m.Body, rn.userID, rn.id, ns[j].ID)
						}
					}
					if !slices.Equal(gotTold, want) {
						t.Fatalf("message %q was published to %v, want %v", m.Body, gotTold, want)
					}
				}
			}
			// The totals told last are the unread counts now.
			if scripts || backend == "sqlite" {
				var last *ent.Message // the last one stored
				for _, m := range out {
					if m != nil && (last == nil || m.Seq > last.Seq) {
						last = m
					}
				}
				for _, rn := range told[last.ID] {
					var v viewer.Viewer
					for _, u := range users {
						if u.UserID == rn.userID {
							v = u
						}
					}
					total, err := s.TotalUnread(ctx, v)
					if err != nil {
						t.Fatal(err)
					}
					if rn.total == nil || *rn.total != total {
						t.Fatalf("user %d was told %v unread, has %d", rn.userID, rn.total, total)
					}
				}
			}
		})
	}
}

// sendPath is one way a batch of sends is stored: on a backend, and on
// MariaDB with or without scripts (sendscript.go).
type sendPath struct {
	name, backend string
	scripts       bool
}

func sendPaths() []sendPath {
	var out []sendPath
	for _, b := range dbtest.Backends() {
		out = append(out, sendPath{b, b, false})
		if b == "mysql" {
			out = append(out, sendPath{b + "-scripts", b, true})
		}
	}
	return out
}

// sendService is a Service over db, with scripts when asked, whose
// published events go to pub; and n users, u0 to u<n-1>, online.
func sendService(t *testing.T, db *database.DB, scripts bool, n int, pub PublisherFunc) (*Service, []viewer.Viewer) {
	t.Helper()
	opts := []Option{WithDialect(db.Dialect), WithPublisher(pub)}
	if scripts {
		opts = append(opts, WithScripts(db.Scripts))
	}
	s := NewService(db.Client, nil, opts...)
	var users []viewer.Viewer
	for i := range n {
		u, err := db.Client.User.Create().SetNickname(fmt.Sprint("u", i)).Save(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, viewer.Viewer{UserID: u.ID})
		// Online, so that their notifications are published with their
		// unread totals (onlineTotals).
		release, err := s.presence.Connect(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(release)
	}
	return s, users
}

// When the context of the send that leads a batch ends (its client went
// away) the batch goes on: the transaction is no request's (sharedContext),
// so it neither rolls back nor sends the others again one by one. Every
// send, the leader's too, is stored once, in the batch's one
// transaction, and published once; each caller gets its message, and a
// clientId sent again answers with that same message. Without scripts
// the leader's context ends in the middle of the shared transaction (at
// the INSERT of the second message), with them before the batch starts.
func TestBatchWhoseLeaderIsCancelledStoresTheOthersOnce(t *testing.T) {
	for _, path := range sendPaths() {
		t.Run(path.name, func(t *testing.T) {
			backend, scripts := path.backend, path.scripts
			ctx := context.Background()
			leaderCtx, cancelLeader := context.WithCancel(ctx)
			defer cancelLeader()
			var (
				armed      atomic.Bool
				inserts    atomic.Int64
				roundTrips atomic.Int64
			)
			db := dbtest.Open(t, backend, database.WithStatementCounter(&roundTrips), database.WithDriver(func(d dialect.Driver) dialect.Driver {
				return dialect.DebugWithContext(d, func(_ context.Context, v ...any) {
					if armed.Load() && len(v) == 1 && strings.Contains(fmt.Sprint(v[0]), "INSERT INTO messages") && inserts.Add(1) == 2 {
						cancelLeader()
					}
				})
			}))
			var (
				mu        sync.Mutex
				published []int
			)
			s, users := sendService(t, db, scripts, 3, func(_ context.Context, e Event) {
				if e.Kind == EventMessageCreated && e.Message.Kind == message.KindTEXT {
					mu.Lock()
					published = append(published, e.Message.ID)
					mu.Unlock()
				}
			})
			name := "batch"
			r, err := s.CreateRoom(ctx, users[0], CreateRoomInput{MemberIDs: []int{users[1].UserID, users[2].UserID}, Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				s.senders.remember(r.ID, u.UserID, s.now())
			}
			release, err := s.turns.take(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			// Send 0 leads; 1 to 4 from the others, all but 4 with a
			// clientId.
			const n = 5
			ins := make([]SendMessageInput, n)
			for i := range n {
				ins[i] = SendMessageInput{RoomID: r.ID, Body: fmt.Sprint("m", i)}
				if i < 4 {
					id := fmt.Sprint("client-", i)
					ins[i].ClientID = &id
				}
			}
			out := make([]*ent.Message, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				sctx := ctx
				if i == 0 {
					sctx = leaderCtx
				}
				wg.Go(func() { out[i], errs[i] = s.SendMessage(sctx, users[i%len(users)], ins[i]) })
			}
			var batch []*pendingSend
			for len(batch) < n { // until every send waits in the queue, then take them as a leader would
				s.turns.mu.Lock()
				if q := s.turns.rooms[r.ID].queue; len(q) == n {
					batch = append(batch, q...)
					s.turns.rooms[r.ID].queue = nil
				}
				s.turns.mu.Unlock()
				runtime.Gosched()
			}
			leader := slices.IndexFunc(batch, func(p *pendingSend) bool { return p.ctx == leaderCtx })
			batch[0], batch[leader] = batch[leader], batch[0]
			if scripts {
				cancelLeader()
			}
			armed.Store(true)
			roundTrips.Store(0)
			s.storeBatch(batch[0].ctx, batch)
			trips := roundTrips.Load()
			release()
			wg.Wait()
			if !scripts && inserts.Load() < 2 {
				t.Fatal("the leader's context did not end in the middle of the batch")
			}
			if leaderCtx.Err() == nil {
				t.Fatal("the leader's context did not end")
			}

			for i := range n {
				if errs[i] != nil || out[i].Body != ins[i].Body {
					t.Fatalf("send %d: %+v, %v", i, out[i], errs[i])
				}
			}
			// One transaction: BEGIN, per send its seq, INSERT and grams,
			// the members, the notifications, COMMIT; or two scripts.
			if want := int64(2); scripts && trips != want {
				t.Errorf("the batch took %d round trips, want %d (one transaction)", trips, want)
			}
			if !scripts && inserts.Load() != n {
				t.Errorf("%d INSERTs of a message for %d sends, want one each (one transaction)", inserts.Load(), n)
			}
			stored, err := db.Client.Message.Query().Where(message.RoomID(r.ID), message.KindNEQ(message.KindSYSTEM)).Order(message.BySeq()).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(stored) != n {
				t.Fatalf("%d messages stored, want %d", len(stored), n)
			}
			var ids []int
			for i, m := range stored {
				if m.Seq != int64(i+1) {
					t.Fatalf("message %d has seq %d", i, m.Seq)
				}
				ids = append(ids, m.ID)
			}
			mu.Lock()
			slices.Sort(published)
			if !slices.Equal(published, ids) {
				t.Fatalf("published %v, want each of %v once", published, ids)
			}
			mu.Unlock()
			// The clientIds answer with the messages stored, the leader's
			// too.
			for i := range 4 {
				m, err := s.SendMessage(ctx, users[i%len(users)], ins[i])
				if err != nil {
					t.Fatalf("send %d again: %v", i, err)
				}
				if m.ID != out[i].ID {
					t.Fatalf("send %d again got message %d, want %d", i, m.ID, out[i].ID)
				}
			}
			if n, err := db.Client.Message.Query().Where(message.RoomID(r.ID), message.KindNEQ(message.KindSYSTEM)).Count(ctx); err != nil || n != 5 {
				t.Fatalf("%d messages stored (%v), want 5", n, err)
			}
		})
	}
}
