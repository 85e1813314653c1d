package chat

import (
	"context"
	"fmt"
	"testing"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/membership"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/viewer"
)

// recount is a member's unread count in a room counted from the messages,
// as the counters must say: the others' non-SYSTEM messages after the read
// marker and after joining; 0 in a room one is not in.
func recount(t *testing.T, db *ent.Client, roomID, userID int) int {
	t.Helper()
	ctx := context.Background()
	m, err := db.Membership.Query().Where(membership.RoomID(roomID), membership.UserID(userID), membership.LeftAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.Message.Query().Where(
		message.RoomID(roomID), message.KindNEQ(message.KindSYSTEM), message.SenderIDNEQ(userID),
		message.SeqGT(max(m.LastReadSeq, m.JoinedSeq)),
	).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkCounts compares what the service says (Room.unreadCount, the
// totals of notifications) with recount, for every user and room.
func checkCounts(t *testing.T, step string, s *Service, db *ent.Client, users []viewer.Viewer, rooms []int) {
	t.Helper()
	ctx := context.Background()
	ids := make([]int, len(users))
	for i, u := range users {
		ids[i] = u.UserID
	}
	totals, err := s.unreadTotals(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		got, err := s.UnreadCounts(ctx, u, rooms)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, r := range rooms {
			n := recount(t, db, r, u.UserID)
			want += n
			if got[r] != n {
				t.Errorf("%s: user %d, room %d: unreadCount %d, want %d", step, u.UserID, r, got[r], n)
			}
		}
		if total, err := s.TotalUnread(ctx, u); err != nil || total != want || totals[u.UserID] != want {
			t.Errorf("%s: user %d: total unread %d (%d for several users), want %d (err %v)", step, u.UserID, total, totals[u.UserID], want, err)
		}
	}
}

// The kept counters say what counting the messages says, through sends,
// own messages, SYSTEM messages, a join in mid-history, a leave, a return,
// reading up to a given message and up to the newest; after uncount of
// deleted messages; and in a database from before the counters once
// database.Migrate has filled them.
func TestUnreadCountersMatchACount(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.Open(t, backend)
			s := NewService(db.Client, nil)
			var users []viewer.Viewer
			for i := range 4 {
				u, err := db.Client.User.Create().SetNickname(fmt.Sprintf("u%d", i)).Save(ctx)
				if err != nil {
					t.Fatal(err)
				}
				users = append(users, viewer.Viewer{UserID: u.ID})
			}
			a, b, c, d := users[0], users[1], users[2], users[3]
			must := func(_ any, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			send := func(v viewer.Viewer, room int, body string) *ent.Message {
				t.Helper()
				m, err := s.SendMessage(ctx, v, SendMessageInput{RoomID: room, Body: body})
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			name := "group"
			g, err := s.CreateRoom(ctx, a, CreateRoomInput{MemberIDs: []int{b.UserID, c.UserID}, Name: &name})
			must(g, err)
			dm, err := s.CreateRoom(ctx, a, CreateRoomInput{MemberIDs: []int{b.UserID}})
			must(dm, err)
			rooms := []int{g.ID, dm.ID}
			check := func(step string) { t.Helper(); checkCounts(t, step, s, db.Client, users, rooms) }

			first := send(b, g.ID, "1")
			send(b, g.ID, "2")
			send(a, g.ID, "own")
			send(c, g.ID, "3")
			send(b, dm.ID, "direct")
			check("sends")
			must(s.AddRoomMembers(ctx, a, g.ID, []int{d.UserID})) // d joins mid-history; a SYSTEM message
			check("a join")
			send(d, g.ID, "hi from d")
			send(b, g.ID, "4")
			check("after the join")
			must(s.MarkRoomRead(ctx, a, g.ID, &first.ID))
			check("read up to a message")
			must(s.MarkRoomRead(ctx, a, g.ID, &first.ID)) // again: nothing moves
			check("read up to the same message")
			must(s.MarkRoomRead(ctx, c, g.ID, nil))
			check("read everything")
			must(nil, s.LeaveRoom(ctx, c, g.ID))
			send(b, g.ID, "while c is away")
			check("a leave")
			must(s.AddRoomMembers(ctx, a, g.ID, []int{c.UserID}))
			check("a return")
			send(c, g.ID, "back")
			last := send(b, g.ID, "5")
			send(a, g.ID, "6")
			check("after the return")
			must(s.MarkRoomRead(ctx, a, g.ID, nil))
			must(s.MarkRoomRead(ctx, d, g.ID, &last.ID))
			check("more reading")

			// Deleting messages: uncount, then the row goes (as deleteMessage will).
			all, err := db.Client.Message.Query().Where(message.RoomID(g.ID)).Order(message.BySeq()).All(ctx)
			must(all, err)
			for _, m := range all {
				switch m.Body {
				case "1", "own", "hi from d", "5", "6":
				default:
					if m.Kind != message.KindSYSTEM {
						continue
					}
				}
				err := database.WithTx(ctx, db.Client, func(tx *ent.Tx) error {
					if _, err := lockRoom(ctx, tx, g.ID); err != nil {
						return err
					}
					if err := uncount(ctx, tx, m); err != nil {
						return err
					}
					return tx.Message.DeleteOneID(m.ID).Exec(ctx)
				})
				must(nil, err)
				check(fmt.Sprintf("deleting %s %q", m.Kind, m.Body))
			}
			send(b, g.ID, "after the deletions")
			must(s.MarkRoomRead(ctx, c, g.ID, nil))
			check("after the deletions")

			// A database from before the counters: they are null until
			// Migrate (every start) fills them in.
			before := map[int]map[int]int{}
			for _, u := range users {
				n, err := s.UnreadCounts(ctx, u, rooms)
				must(n, err)
				before[u.UserID] = n
			}
			for _, q := range []string{"UPDATE rooms SET message_count = NULL", "UPDATE memberships SET sent_count = NULL, read_count = NULL"} {
				if _, err := db.SQL.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(ctx); err != nil { // idempotent
				t.Fatal(err)
			}
			check("counters filled in by Migrate")
			for _, u := range users {
				n, err := s.UnreadCounts(ctx, u, rooms)
				must(n, err)
				for _, r := range rooms {
					if n[r] != before[u.UserID][r] {
						t.Errorf("filled in: user %d room %d: %d, was %d", u.UserID, r, n[r], before[u.UserID][r])
					}
				}
			}
			send(a, g.ID, "after the upgrade")
			check("a send after the upgrade")
		})
	}
}
