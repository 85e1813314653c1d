package chat

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/viewer"
)

// A message's recipients who are online are told their unread total as of
// the send; one who is offline is not (nobody reads it in the send: no
// one is there to see it). If that user's stream gets the notification
// after all (they subscribed in between: here a stream with no live
// connection, which presence does not count), the stream reads the total
// before delivering it, so it says what it would have said.
func TestUnreadTotalReadForOnlineRecipientsOnly(t *testing.T) {
	for _, path := range sendPaths() {
		t.Run(path.name, func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.Open(t, path.backend)
			var (
				mu   sync.Mutex
				told = map[int]map[int]*int{} // by message, by recipient; when the send read them
			)
			s, users := sendService(t, db, path.scripts, 2, func(_ context.Context, e Event) {
				if e.Kind != EventMessageCreated || e.Message.Kind != message.KindTEXT || !e.recipientsKnown {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				told[e.Message.ID] = map[int]*int{}
				for _, rn := range e.recipients {
					told[e.Message.ID][rn.userID] = rn.total
				}
			})
			u, err := db.Client.User.Create().SetNickname("away").Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sender, online, away := users[0], users[1], viewer.Viewer{UserID: u.ID}
			name := "totals"
			r, err := s.CreateRoom(ctx, sender, CreateRoomInput{MemberIDs: []int{online.UserID, away.UserID}, Name: &name})
			if err != nil {
				t.Fatal(err)
			}
			subCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			notes, err := s.Notifications(subCtx, away, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 3; i++ {
				m, err := s.SendMessage(ctx, sender, SendMessageInput{RoomID: r.ID, Body: fmt.Sprint("hello ", i)})
				if err != nil {
					t.Fatal(err)
				}
				var n *Notification
				for n == nil || n.Kind != NotifyNewMessage {
					select {
					case n = <-notes:
					case <-time.After(10 * time.Second):
						t.Fatalf("message %d: no notification", i)
					}
				}
				if n.Message == nil || n.Message.ID != m.ID || n.TotalUnread != i {
					t.Fatalf("message %d: the offline user got %+v, want message %d with a total of %d", i, n, m.ID, i)
				}
				mu.Lock()
				byUser, known := told[m.ID]
				mu.Unlock()
				if !known {
					continue // MariaDB without scripts: publishing reads everyone's after the commit
				}
				if total, ok := byUser[online.UserID]; !ok || total == nil || *total != i {
					t.Fatalf("message %d: the online user was told %v, want %d", i, total, i)
				}
				if total, ok := byUser[away.UserID]; !ok || total != nil {
					t.Fatalf("message %d: the offline user's total was read in the send (%v, recipient %v)", i, total, ok)
				}
			}
		})
	}
}
