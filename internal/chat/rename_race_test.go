package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/hook"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database/dbtest"
)

// A send that read the room before a rename and stored its message after
// it (it waited for the room's turn) publishes the room as of its message:
// with the new name, not the one it read first. The send is started from
// within the rename's transaction, which holds the room's turn.
func TestSendAfterRenamePublishesNewName(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.Open(t, backend)
			rec := &recorder{t: t, db: db.Client}
			svc := chat.NewService(db.Client, nil, chat.WithPublisher(rec))
			a, b := newUser(t, db.Client, "a"), newUser(t, db.Client, "b")
			old := "old"
			r, err := svc.CreateRoom(ctx, a, chat.CreateRoomInput{MemberIDs: []int{b.UserID}, Name: &old})
			if err != nil {
				t.Fatal(err)
			}
			sent := make(chan error, 1)
			fired := false
			db.Client.Room.Use(func(next ent.Mutator) ent.Mutator {
				return hook.RoomFunc(func(ctx context.Context, m *ent.RoomMutation) (ent.Value, error) {
					if n, ok := m.Name(); ok && n == "new" && !fired {
						fired = true
						go func() {
							_, err := svc.SendMessage(context.Background(), b, chat.SendMessageInput{RoomID: r.ID, Body: "hi"})
							sent <- err
						}()
						// Let the send read the room and queue for the turn (if it
						// is slower, it reads the new name and the test proves
						// nothing, but does not fail).
						time.Sleep(300 * time.Millisecond)
					}
					return next.Mutate(ctx, m)
				})
			})
			rec.take()
			if _, err := svc.RenameRoom(ctx, a, r.ID, "new"); err != nil {
				t.Fatal(err)
			}
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			renamed, published := false, false
			for _, e := range rec.events {
				if e.Kind == chat.EventRoomRenamed {
					renamed = true
				}
				if e.Kind == chat.EventMessageCreated && e.Message.Body == "hi" {
					published = true
					if !renamed {
						t.Fatal("the message was published before the rename")
					}
					if got := e.Room.Name; got == nil || *got != "new" {
						t.Errorf("the message published after the rename carries room name %q, want new", deref(got))
					}
				}
			}
			if !published {
				t.Fatal("the message was not published")
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
