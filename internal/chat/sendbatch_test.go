package chat

import (
	"context"
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
func TestConcurrentSendsShareATransaction(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			var txs, noteInserts atomic.Int64
			db := dbtest.Open(t, backend, database.WithDriver(func(d dialect.Driver) dialect.Driver {
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
			)
			s := NewService(db.Client, nil, WithPublisher(PublisherFunc(func(_ context.Context, e Event) {
				if e.Kind == EventMessageCreated && e.Message.Kind == message.KindTEXT {
					mu.Lock()
					published = append(published, e.Message.ID)
					mu.Unlock()
				}
			})))
			var users []viewer.Viewer
			for i := range 3 {
				u, err := db.Client.User.Create().SetNickname(fmt.Sprint("u", i)).Save(ctx)
				if err != nil {
					t.Fatal(err)
				}
				users = append(users, viewer.Viewer{UserID: u.ID})
			}
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

			before, notesBefore := txs.Load(), noteInserts.Load()
			queued(10, false)
			if n := txs.Load() - before; n != 1 {
				t.Errorf("10 queued sends took %d transactions, want 1", n)
			}
			// Their 20 notifications (two recipients each): one statement.
			if n := noteInserts.Load() - notesBefore; n != 1 {
				t.Errorf("10 queued sends stored their notifications in %d statements, want 1", n)
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
