package chat

import (
	"context"
	"fmt"
	"testing"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/membership"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/viewer"
)

// deleteMessage keeps the unread counters equal to a count of the messages
// that count (a tombstone counts for nobody), whoever deletes (the sender,
// the group's owner), and whenever: after or before a member read it, from
// before a member joined, while its sender is away, after a return, twice.
func TestUnreadCountersThroughDeletions(t *testing.T) {
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
			name := "g"
			g, err := s.CreateRoom(ctx, a, CreateRoomInput{MemberIDs: []int{b.UserID, c.UserID}, Name: &name})
			must(g, err)
			send := func(v viewer.Viewer, body string) *ent.Message {
				t.Helper()
				m, err := s.SendMessage(ctx, v, SendMessageInput{RoomID: g.ID, Body: body})
				must(m, err)
				return m
			}
			check := func(step string) {
				t.Helper()
				for _, u := range users {
					m, err := db.Client.Membership.Query().Where(membership.RoomID(g.ID), membership.UserID(u.UserID), membership.LeftAtIsNil()).Only(ctx)
					want := 0
					if err == nil {
						want, err = db.Client.Message.Query().Where(message.RoomID(g.ID), message.KindNEQ(message.KindSYSTEM), message.SenderIDNEQ(u.UserID), message.DeletedAtIsNil(),
							message.SeqGT(max(m.LastReadSeq, m.JoinedSeq))).Count(ctx)
						must(want, err)
					} else if !ent.IsNotFound(err) {
						t.Fatal(err)
					}
					got, err := s.UnreadCounts(ctx, u, []int{g.ID})
					must(got, err)
					tot, err := s.TotalUnread(ctx, u)
					must(tot, err)
					if got[g.ID] != want || tot != want {
						t.Errorf("%s: user %d: unread %d total %d, want %d", step, u.UserID, got[g.ID], tot, want)
					}
				}
			}
			m1 := send(b, "1")
			m2 := send(b, "2")
			m3 := send(c, "3")
			must(s.MarkRoomRead(ctx, a, g.ID, &m1.ID))
			must(s.DeleteMessage(ctx, b, m1.ID)) // after a read it
			check("deleted after read")
			must(s.DeleteMessage(ctx, b, m2.ID)) // before a read it
			check("deleted before read")
			must(s.MarkRoomRead(ctx, a, g.ID, nil))
			check("read past a deleted one")
			must(s.AddRoomMembers(ctx, a, g.ID, []int{d.UserID}))
			check("join after deletion")
			must(s.DeleteMessage(ctx, a, m3.ID)) // the owner deletes c's, from before d joined
			check("deleted from before a join")
			m4 := send(d, "4")
			must(nil, s.LeaveRoom(ctx, d, g.ID))
			must(s.DeleteMessage(ctx, a, m4.ID)) // the owner, while d is away
			check("own deleted while left")
			m5 := send(b, "5")
			must(s.AddRoomMembers(ctx, a, g.ID, []int{d.UserID}))
			must(s.DeleteMessage(ctx, b, m5.ID))
			check("deleted after a return")
			m6 := send(d, "6")
			must(s.MarkRoomRead(ctx, b, g.ID, nil))
			must(s.DeleteMessage(ctx, d, m6.ID))
			must(s.DeleteMessage(ctx, d, m6.ID))
			check("deleted twice")
		})
	}
}
