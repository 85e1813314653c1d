package server_test

import (
	"fmt"
	"strings"
	"testing"
)

// Shared operations and shapes of the chat tests.
const (
	addFriendOp  = `mutation($u: ID!) { addFriend(userId: $u) { id friendship } }`
	createRoomOp = `mutation($ids: [ID!]!, $name: String) { createRoom(input: {memberIds: $ids, name: $name}) { id kind name members { id } } }`
	sendOp       = `mutation($r: ID!, $b: String!, $c: String) { sendMessage(input: {roomId: $r, body: $b, clientId: $c}) { id seq body kind clientId sender { id } room { id } } }`
	roomsOp      = `{ rooms { totalCount edges { node { id kind name unreadCount members { id } lastMessage { id body seq } } } } }`
	markReadOp   = `mutation($r: ID!, $m: ID) { markRoomRead(roomId: $r, messageId: $m) { id unreadCount } }`
	roomMessages = `query($r: ID!, $first: Int, $after: Cursor, $last: Int, $before: Cursor) { room(id: $r) { messages(first: $first, after: $after, last: $last, before: $before) {
		totalCount edges { cursor node { id seq body kind sender { id } } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`
)

type roomData struct {
	ID, Kind, Name string
	Members        []struct{ ID string }
}

type messageData struct {
	ID, Body, Kind string
	Seq            int
	ClientID       *string
	Sender         *struct{ ID string }
	Room           struct{ ID string }
}

type connData struct {
	TotalCount int
	Edges      []struct {
		Cursor string
		Node   messageData
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

func (c *client) createRoom(t *testing.T, name *string, ids ...string) roomData {
	t.Helper()
	var out struct{ CreateRoom roomData }
	c.do(t, createRoomOp, map[string]any{"ids": ids, "name": name}).Decode(t, &out)
	return out.CreateRoom
}

func (c *client) send(t *testing.T, roomID, body string) messageData {
	t.Helper()
	var out struct{ SendMessage messageData }
	c.do(t, sendOp, map[string]any{"r": roomID, "b": body}).Decode(t, &out)
	return out.SendMessage
}

func (c *client) messages(t *testing.T, roomID string, vars map[string]any) connData {
	t.Helper()
	if vars == nil {
		vars = map[string]any{}
	}
	vars["r"] = roomID
	var out struct{ Room struct{ Messages connData } }
	c.do(t, roomMessages, vars).Decode(t, &out)
	return out.Room.Messages
}

func seqs(c connData) string {
	s := ""
	for i, e := range c.Edges {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprint(e.Node.Seq)
	}
	return s
}

// The "done when": two users become friends, open a direct room,
// exchange and page through messages, see unread counts fall after
// reading; a third user sees none of it.
func TestChatScenario(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, eve := e.signUp(t, "민수"), e.signUp(t, "지영"), e.signUp(t, "eve")
		ca, cb, ce := e.client(a), e.client(b), e.client(eve)

		var f struct {
			AddFriend struct{ ID, Friendship string }
		}
		ca.do(t, addFriendOp, map[string]any{"u": b.ID}).Decode(t, &f)
		if f.AddFriend.Friendship != "REQUEST_SENT" {
			t.Fatalf("after asking: %+v", f.AddFriend)
		}
		cb.do(t, addFriendOp, map[string]any{"u": a.ID}).Decode(t, &f)
		if f.AddFriend.Friendship != "FRIENDS" {
			t.Fatalf("after accepting: %+v", f.AddFriend)
		}

		r := ca.createRoom(t, nil, b.ID)
		if r.Kind != "DIRECT" || r.Name != "지영" || len(r.Members) != 2 {
			t.Fatalf("direct room = %+v", r)
		}
		if again := cb.createRoom(t, nil, a.ID); again.ID != r.ID || again.Name != "민수" {
			t.Fatalf("asking again from the other side gave %+v, want room %s named 민수", again, r.ID)
		}

		for i := 1; i <= 5; i++ {
			ca.send(t, r.ID, fmt.Sprintf("안녕 %d 👋", i))
		}
		last := cb.send(t, r.ID, "  반가워!  ")
		if last.Body != "반가워!" || last.Seq != 6 || last.Sender.ID != b.ID || last.Room.ID != r.ID || last.Kind != "TEXT" {
			t.Fatalf("sent message = %+v", last)
		}

		// b sees one room with five unread messages (their own one doesn't count).
		var rooms struct {
			Rooms struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ID, Name    string
						UnreadCount int
						LastMessage *struct {
							Body string
							Seq  int
						}
					}
				}
			}
		}
		cb.do(t, roomsOp, nil).Decode(t, &rooms)
		if rooms.Rooms.TotalCount != 1 || rooms.Rooms.Edges[0].Node.UnreadCount != 5 || rooms.Rooms.Edges[0].Node.LastMessage.Seq != 6 {
			t.Fatalf("b's rooms = %+v", rooms.Rooms)
		}

		// Paging: the newest two, then back.
		page := cb.messages(t, r.ID, map[string]any{"last": 2})
		if seqs(page) != "5,6" || !page.PageInfo.HasPreviousPage || page.TotalCount != 6 {
			t.Fatalf("last 2 = %s %+v", seqs(page), page.PageInfo)
		}
		page = cb.messages(t, r.ID, map[string]any{"last": 3, "before": *page.PageInfo.StartCursor})
		if seqs(page) != "2,3,4" || !page.PageInfo.HasPreviousPage {
			t.Fatalf("3 before seq 5 = %s %+v", seqs(page), page.PageInfo)
		}
		page = cb.messages(t, r.ID, map[string]any{"first": 10, "after": *page.PageInfo.EndCursor})
		if seqs(page) != "5,6" || page.PageInfo.HasNextPage {
			t.Fatalf("after seq 4 = %s", seqs(page))
		}

		// Reading up to seq 3 leaves 2 unread; reading everything, none.
		third := cb.messages(t, r.ID, map[string]any{"first": 3}).Edges[2].Node
		var mr struct{ MarkRoomRead struct{ UnreadCount int } }
		cb.do(t, markReadOp, map[string]any{"r": r.ID, "m": third.ID}).Decode(t, &mr)
		if mr.MarkRoomRead.UnreadCount != 2 {
			t.Fatalf("unread after reading seq 3 = %d, want 2", mr.MarkRoomRead.UnreadCount)
		}
		cb.do(t, markReadOp, map[string]any{"r": r.ID}).Decode(t, &mr)
		if mr.MarkRoomRead.UnreadCount != 0 {
			t.Fatalf("unread after reading all = %d", mr.MarkRoomRead.UnreadCount)
		}
		// The marker never moves back.
		cb.do(t, markReadOp, map[string]any{"r": r.ID, "m": third.ID}).Decode(t, &mr)
		if mr.MarkRoomRead.UnreadCount != 0 {
			t.Fatalf("marking an older message read moved the marker back: unread %d", mr.MarkRoomRead.UnreadCount)
		}

		// The third user sees none of it.
		ce.do(t, roomsOp, nil).Decode(t, &rooms)
		if rooms.Rooms.TotalCount != 0 {
			t.Fatalf("eve sees rooms: %+v", rooms)
		}
		for name, q := range map[string]gqlResponse{
			"room":     ce.do(t, roomMessages, map[string]any{"r": r.ID}),
			"node":     ce.do(t, `query($id: ID!) { node(id: $id) { id ... on Message { body } } }`, map[string]any{"id": last.ID}),
			"roomnode": ce.do(t, `query($id: ID!) { node(id: $id) { id ... on Room { name } } }`, map[string]any{"id": r.ID}),
			"send":     ce.do(t, sendOp, map[string]any{"r": r.ID, "b": "let me in"}),
			"markRead": ce.do(t, markReadOp, map[string]any{"r": r.ID}),
		} {
			if q.Code() != "NOT_FOUND" && q.Code() != "FORBIDDEN" {
				t.Errorf("eve's %s: %s", name, q.Raw)
			}
			mustNotContain(t, q.Raw, "반가워", "안녕")
		}
	})
}

func mustNotContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Fatalf("%q leaks %q", s, sub)
		}
	}
}
