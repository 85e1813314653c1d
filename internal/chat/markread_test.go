package chat

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/viewer"
)

// Members marking a group read (two devices each) while the others send
// into it: no request fails (on MariaDB markRoomRead used to take the
// room's message rows before the reader's membership, against the order
// of a send, and deadlocked: Error 1213), and each member's read events
// come out in the order their marker moved, never back.
func TestMarkReadRacingSends(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.Open(t, backend)
			var (
				mu    sync.Mutex
				reads = map[int][]int64{} // user → seqs of their read events, as published
			)
			s := NewService(db.Client, nil, WithPublisher(PublisherFunc(func(_ context.Context, e Event) {
				if e.Kind == EventReadMoved && e.Message != nil {
					mu.Lock()
					reads[e.ActorID] = append(reads[e.ActorID], e.Message.Seq)
					mu.Unlock()
				}
			})))
			var users []viewer.Viewer
			for i := range 4 {
				u, err := db.Client.User.Create().SetNickname(fmt.Sprintf("u%d", i)).Save(ctx)
				if err != nil {
					t.Fatal(err)
				}
				users = append(users, viewer.Viewer{UserID: u.ID})
			}
			name := "g"
			g, err := s.CreateRoom(ctx, users[0], CreateRoomInput{MemberIDs: []int{users[1].UserID, users[2].UserID, users[3].UserID}, Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := map[string]int{}
			for w := range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					u := users[w%4]
					for i := range 60 {
						var err error
						if w >= 4 { // two readers per member
							_, err = s.MarkRoomRead(ctx, u, g.ID, nil)
						} else {
							_, err = s.SendMessage(ctx, u, SendMessageInput{RoomID: g.ID, Body: fmt.Sprint(i)})
						}
						if err != nil {
							mu.Lock()
							errs[err.Error()]++
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			for e, n := range errs {
				t.Errorf("%d x %s", n, e)
			}
			for u, seqs := range reads {
				for i := 1; i < len(seqs); i++ {
					if seqs[i] <= seqs[i-1] {
						t.Fatalf("user %d: read events for seqs %v: out of order at %d", u, seqs, i)
					}
				}
			}
		})
	}
}
