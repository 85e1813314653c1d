package chat_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/hook"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/viewer"
)

// recorder is a Publisher test double. On every event it checks, through
// the database, that the change it announces is already committed.
type recorder struct {
	t  *testing.T
	db *ent.Client

	mu     sync.Mutex
	events []chat.Event
}

func (r *recorder) Publish(ctx context.Context, e chat.Event) {
	if e.Message != nil {
		// Read outside any transaction: only committed rows are visible.
		if _, err := r.db.Message.Get(ctx, e.Message.ID); err != nil {
			r.t.Errorf("%s published before its message %d was committed: %v", e.Kind, e.Message.ID, err)
		}
		if e.Message.Body == "" || e.Message.Seq == 0 {
			r.t.Errorf("%s carries an incomplete message: %+v", e.Kind, e.Message)
		}
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// take returns the events since the last take, as "KIND room users" lines.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		line := string(e.Kind)
		if e.Message != nil {
			line += fmt.Sprintf(" %s %q", e.Message.Kind, e.Message.Body)
		}
		if len(e.UserIDs) > 0 {
			line += fmt.Sprint(" ", len(e.UserIDs), " users")
		}
		out = append(out, line)
	}
	r.events = nil
	return out
}

func newUser(t *testing.T, db *ent.Client, nick string) viewer.Viewer {
	t.Helper()
	u, err := db.User.Create().SetNickname(nick).Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return viewer.Viewer{UserID: u.ID}
}

func expect(t *testing.T, step string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s published %q, want %q", step, got, want)
	}
}

// Every committed change someone should hear about is published once,
// after commit; a failed transaction publishes nothing.
func TestEventsAfterCommitOnly(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.Open(t, backend)
			rec := &recorder{t: t, db: db.Client}
			svc := chat.NewService(db.Client, nil, chat.WithPublisher(rec))
			a, b, c := newUser(t, db.Client, "a"), newUser(t, db.Client, "b"), newUser(t, db.Client, "c")

			must := func(_ any, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(svc.AddFriend(ctx, a, b.UserID))
			expect(t, "a friend request", rec.take(), "FRIEND_REQUEST 1 users")
			must(svc.AddFriend(ctx, a, b.UserID))
			expect(t, "asking again", rec.take())
			must(svc.AddFriend(ctx, b, a.UserID))
			expect(t, "accepting", rec.take(), "FRIEND_ACCEPTED 1 users")

			name := "group"
			room, err := svc.CreateRoom(ctx, a, chat.CreateRoomInput{MemberIDs: []int{b.UserID}, Name: &name})
			must(room, err)
			expect(t, "createRoom", rec.take(), "ROOM_ADDED 1 users")

			id := "once"
			in := chat.SendMessageInput{RoomID: room.ID, Body: "hello", ClientID: &id}
			must(svc.SendMessage(ctx, a, in))
			expect(t, "sendMessage", rec.take(), `MESSAGE_CREATED TEXT "hello"`)
			must(svc.SendMessage(ctx, a, in))
			expect(t, "an idempotent repeat", rec.take())

			must(svc.AddRoomMembers(ctx, a, room.ID, []int{c.UserID}))
			expect(t, "addRoomMembers", rec.take(), "MEMBER_JOINED 1 users", "ROOM_ADDED 1 users", `MESSAGE_CREATED SYSTEM "a added c"`)

			// Refused input: nothing happens, nothing is published.
			if _, err := svc.SendMessage(ctx, a, chat.SendMessageInput{RoomID: room.ID, Body: "  "}); err == nil {
				t.Fatal("an empty message was accepted")
			}
			expect(t, "a refused message", rec.take())

			// A failure late in leaveRoom (storing its SYSTEM message) rolls
			// back the membership change made and announced before it.
			boom := errors.New("disk on fire")
			db.Client.Message.Use(hook.If(func(next ent.Mutator) ent.Mutator {
				return hook.MessageFunc(func(context.Context, *ent.MessageMutation) (ent.Value, error) { return nil, boom })
			}, hook.HasOp(ent.OpCreate)))
			if err := svc.LeaveRoom(ctx, c, room.ID); !errors.Is(err, boom) {
				t.Fatalf("leaveRoom with a failing insert: %v", err)
			}
			expect(t, "a rolled-back leaveRoom", rec.take())
			if _, err := svc.Room(ctx, c, room.ID); err != nil {
				t.Fatalf("the rolled-back leave took effect: %v", err)
			}
			n, err := db.Client.Message.Query().Where(message.RoomID(room.ID)).Count(ctx)
			must(n, err)
			if n != 2 {
				t.Fatalf("room has %d messages after the rollback, want 2", n)
			}
		})
	}
}
