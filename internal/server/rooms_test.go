package server_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

const (
	addMembersOp = `mutation($r: ID!, $u: [ID!]!) { addRoomMembers(roomId: $r, userIds: $u) { id kind name members { id } } }`
	leaveRoomOp  = `mutation($r: ID!) { leaveRoom(roomId: $r) }`
	roomOp       = `query($r: ID!) { room(id: $r) { id kind name members { id } unreadCount lastMessage { id seq body kind sender { id } } } }`
	roomPageOp   = `query($first: Int, $after: Cursor) { rooms(first: $first, after: $after) {
		totalCount edges { cursor node { id name } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`
)

// roomView is a room as room(id:) shows it.
type roomView struct {
	roomData
	UnreadCount int
	LastMessage *messageData
}

type roomPage struct {
	TotalCount int
	Edges      []struct {
		Cursor string
		Node   struct{ ID, Name string }
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		EndCursor                    *string
	}
}

// room reads one of the client's rooms.
func (c *client) room(t *testing.T, id string) roomView {
	t.Helper()
	var out struct{ Room *roomView }
	c.do(t, roomOp, map[string]any{"r": id}).Decode(t, &out)
	if out.Room == nil {
		t.Fatalf("room(%s) is null", id)
	}
	return *out.Room
}

// roomIDs lists the client's rooms, in the order rooms gives them.
func (c *client) roomIDs(t *testing.T) []string {
	t.Helper()
	var out struct{ Rooms roomPage }
	c.do(t, roomPageOp, map[string]any{"first": 100}).Decode(t, &out)
	ids := make([]string, len(out.Rooms.Edges))
	for i, e := range out.Rooms.Edges {
		ids[i] = e.Node.ID
	}
	if out.Rooms.TotalCount != len(ids) {
		t.Fatalf("rooms: totalCount %d, %d edges", out.Rooms.TotalCount, len(ids))
	}
	return ids
}

// addMembers adds users to a room and returns the room as the answer shows it.
func (c *client) addMembers(t *testing.T, roomID string, userIDs ...string) roomData {
	t.Helper()
	var out struct{ AddRoomMembers roomData }
	c.do(t, addMembersOp, map[string]any{"r": roomID, "u": userIDs}).Decode(t, &out)
	return out.AddRoomMembers
}

// leave leaves a room, checking the answer is the room's id.
func (c *client) leave(t *testing.T, roomID string) {
	t.Helper()
	var out struct{ LeaveRoom string }
	c.do(t, leaveRoomOp, map[string]any{"r": roomID}).Decode(t, &out)
	if out.LeaveRoom != roomID {
		t.Fatalf("leaveRoom answered %q, want the room's id %s", out.LeaveRoom, roomID)
	}
}

func memberIDs(r roomData) string {
	ids := make([]string, len(r.Members))
	for i, m := range r.Members {
		ids[i] = m.ID
	}
	return sortedIDs(ids...)
}

func TestCreateDirectRoom(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "민지"), e.signUp(t, "하니")
		ca, cb := e.client(a), e.client(b)

		r := ca.createRoom(t, nil, b.ID)
		if r.Kind != "DIRECT" || r.Name != "하니" || memberIDs(r) != sortedIDs(a.ID, b.ID) {
			t.Fatalf("a's direct room with b = %+v", r)
		}
		if got := cb.createRoom(t, nil, a.ID); got.ID != r.ID || got.Kind != "DIRECT" || got.Name != "민지" {
			t.Fatalf("b asking for the room with a got %+v, want room %s named 민지", got, r.ID)
		}
		// Duplicates and the viewer in memberIds are ignored: still one other member.
		if got := ca.createRoom(t, nil, b.ID, a.ID, b.ID); got.ID != r.ID || got.Kind != "DIRECT" {
			t.Fatalf("asking again with duplicates got %+v, want room %s", got, r.ID)
		}
		for _, c := range []*client{ca, cb} {
			if ids := c.roomIDs(t); len(ids) != 1 || ids[0] != r.ID {
				t.Fatalf("rooms = %v, want just %s", ids, r.ID)
			}
		}
		// A name makes a group, even of two.
		g := ca.createRoom(t, ptr("  둘만의 그룹  "), b.ID)
		if g.ID == r.ID || g.Kind != "GROUP" || g.Name != "둘만의 그룹" || memberIDs(g) != sortedIDs(a.ID, b.ID) {
			t.Fatalf("named room of two = %+v", g)
		}
	})
}

// Both sides asking for their direct room at the same moment get one room.
func TestCreateDirectRoomFromBothSidesAtOnce(t *testing.T) {
	const pairs = 4
	forEachDB(t, func(t *testing.T, e *env) {
		var reqs []request
		var users []account
		for i := range pairs {
			a, b := e.signUp(t, fmt.Sprintf("왼쪽%d", i)), e.signUp(t, fmt.Sprintf("오른쪽%d", i))
			users = append(users, a, b)
			reqs = append(reqs,
				request{e.client(a), createRoomOp, map[string]any{"ids": []string{b.ID}}},
				request{e.client(b), createRoomOp, map[string]any{"ids": []string{a.ID}}})
		}
		resps := concurrently(t, reqs...)
		for i := 0; i < len(resps); i += 2 {
			var x, y struct{ CreateRoom roomData }
			resps[i].Decode(t, &x)
			resps[i+1].Decode(t, &y)
			if x.CreateRoom.ID != y.CreateRoom.ID || x.CreateRoom.Kind != "DIRECT" || y.CreateRoom.Kind != "DIRECT" {
				t.Errorf("pair %d got rooms %+v and %+v, want one direct room", i/2, x.CreateRoom, y.CreateRoom)
			}
		}
		for _, u := range users {
			if ids := e.client(u).roomIDs(t); len(ids) != 1 {
				t.Errorf("%s has rooms %v, want one", u.Nickname, ids)
			}
		}
	})
}

func TestCreateGroupRoom(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "철수"), e.signUp(t, "영희"), e.signUp(t, "바둑이")
		ca := e.client(a)

		g := ca.createRoom(t, nil, b.ID, a.ID, c.ID, b.ID)
		if g.Kind != "GROUP" || memberIDs(g) != sortedIDs(a.ID, b.ID, c.ID) {
			t.Fatalf("group of a, b, c (b twice, a named) = %+v", g)
		}
		// Unnamed, it is named after the others, as each member sees it.
		for who, want := range map[account][]string{a: {"영희", "바둑이"}, b: {"철수", "바둑이"}, c: {"철수", "영희"}} {
			names := strings.Split(e.client(who).room(t, g.ID).Name, ", ")
			sort.Strings(names)
			sort.Strings(want)
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Errorf("%s sees the group named %q, want the nicknames %v", who.Nickname, strings.Join(names, ", "), want)
			}
		}
		// Groups are not shared like direct rooms: the same members make another room.
		if again := ca.createRoom(t, nil, b.ID, c.ID); again.ID == g.ID || again.Kind != "GROUP" {
			t.Fatalf("a second group of the same members = %+v, want a new room", again)
		}
		named := ca.createRoom(t, ptr("우리 반 🏫"), b.ID, c.ID)
		if named.Name != "우리 반 🏫" || named.Kind != "GROUP" {
			t.Fatalf("named group = %+v", named)
		}
		if got := e.client(c).room(t, named.ID).Name; got != "우리 반 🏫" {
			t.Fatalf("c sees the named group as %q", got)
		}
		long := strings.Repeat("방", 100)
		if got := ca.createRoom(t, &long, b.ID); got.Name != long {
			t.Fatalf("a 100-character name came back with %d characters", len([]rune(got.Name)))
		}
		if ids := e.client(b).roomIDs(t); len(ids) != 4 {
			t.Fatalf("b is in %d rooms, want 4", len(ids))
		}
	})
}

func TestCreateRoomRefusals(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, gone := e.signUp(t, "방장"), e.signUp(t, "손님"), e.signUp(t, "떠난사람")
		var del struct{ DeleteAccount bool }
		e.client(gone).do(t, deleteAccountOp, map[string]any{"p": gone.Password}).Decode(t, &del)
		unknown := unknownID(t, b.ID)
		tooLong := strings.Repeat("방", 101)
		cases := []struct {
			name string
			ids  []string
			room *string
			code string
		}{
			{"no members", []string{}, nil, "BAD_USER_INPUT"},
			{"only yourself", []string{a.ID}, nil, "BAD_USER_INPUT"},
			{"yourself twice, with a name", []string{a.ID, a.ID}, ptr("혼자"), "BAD_USER_INPUT"},
			{"unknown user", []string{unknown}, nil, "NOT_FOUND"},
			{"unknown user in a group", []string{b.ID, unknown}, nil, "NOT_FOUND"},
			{"deleted account", []string{gone.ID}, nil, "NOT_FOUND"},
			{"deleted account in a group", []string{b.ID, gone.ID}, ptr("모임"), "NOT_FOUND"},
			{"malformed id", []string{"user:1"}, nil, "BAD_USER_INPUT"},
			{"101-character name", []string{b.ID}, &tooLong, "BAD_USER_INPUT"},
		}
		for _, c := range cases {
			r := e.client(a).do(t, createRoomOp, map[string]any{"ids": c.ids, "name": c.room})
			if r.Code() != c.code || string(r.Data) != "null" {
				t.Errorf("%s: %s, want %s", c.name, r.Raw, c.code)
			}
		}
		for _, u := range []account{a, b} {
			if ids := e.client(u).roomIDs(t); len(ids) != 0 {
				t.Fatalf("refused createRoom calls left %s in rooms %v", u.Nickname, ids)
			}
		}
		if r := e.anon().do(t, createRoomOp, map[string]any{"ids": []string{b.ID}}); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous createRoom: %s", r.Raw)
		}
	})
}

func TestAddRoomMembers(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c, d := e.signUp(t, "유리"), e.signUp(t, "훈이"), e.signUp(t, "맹구"), e.signUp(t, "철이")
		ca, cb, cc, cd := e.client(a), e.client(b), e.client(c), e.client(d)
		g := ca.createRoom(t, ptr("떡잎반"), b.ID)
		old := []messageData{ca.send(t, g.ID, "옛날 이야기 1"), cb.send(t, g.ID, "옛날 이야기 2")}

		// Outsiders can't add anyone, not even themselves.
		for _, x := range []struct {
			name string
			r    gqlResponse
			code string
		}{
			{"an outsider adding someone", cd.do(t, addMembersOp, map[string]any{"r": g.ID, "u": []string{c.ID}}), "NOT_FOUND"},
			{"an outsider adding themselves", cd.do(t, addMembersOp, map[string]any{"r": g.ID, "u": []string{d.ID, a.ID}}), "NOT_FOUND"},
			{"adding to an unknown room", ca.do(t, addMembersOp, map[string]any{"r": unknownID(t, g.ID), "u": []string{c.ID}}), "NOT_FOUND"},
			{"anonymous", e.anon().do(t, addMembersOp, map[string]any{"r": g.ID, "u": []string{c.ID}}), "UNAUTHENTICATED"},
		} {
			if x.r.Code() != x.code || string(x.r.Data) != "null" {
				t.Errorf("%s: %s, want %s", x.name, x.r.Raw, x.code)
			}
			mustNotContain(t, x.r.Raw, "떡잎반")
		}
		for name, x := range map[string]struct {
			ids  []string
			code string
		}{
			"nobody":          {[]string{}, "BAD_USER_INPUT"},
			"only yourself":   {[]string{a.ID}, "BAD_USER_INPUT"},
			"unknown user":    {[]string{c.ID, unknownID(t, c.ID)}, "NOT_FOUND"},
			"malformed id":    {[]string{"맹구"}, "BAD_USER_INPUT"},
			"a room's id":     {[]string{g.ID}, "NOT_FOUND"},
			"negative number": {[]string{"-1"}, "BAD_USER_INPUT"},
		} {
			if r := ca.do(t, addMembersOp, map[string]any{"r": g.ID, "u": x.ids}); r.Code() != x.code || string(r.Data) != "null" {
				t.Errorf("adding %s: %s, want %s", name, r.Raw, x.code)
			}
		}
		if got := cb.room(t, g.ID); memberIDs(got.roomData) != sortedIDs(a.ID, b.ID) || got.LastMessage.ID != old[1].ID {
			t.Fatalf("refused additions changed the room: %+v", got)
		}

		// A member adds c: everyone sees a SYSTEM message.
		added := ca.addMembers(t, g.ID, c.ID, b.ID)
		if added.ID != g.ID || memberIDs(added) != sortedIDs(a.ID, b.ID, c.ID) {
			t.Fatalf("addRoomMembers answered %+v", added)
		}
		sys := cb.room(t, g.ID).LastMessage
		if sys == nil || sys.Kind != "SYSTEM" || sys.Sender != nil || sys.Seq != 3 || !strings.Contains(sys.Body, "맹구") {
			t.Fatalf("b's last message after c was added = %+v, want a SYSTEM message naming 맹구", sys)
		}
		// c sees the room and its messages from that SYSTEM message on, not before.
		if ids := cc.roomIDs(t); len(ids) != 1 || ids[0] != g.ID {
			t.Fatalf("c's rooms = %v, want %s", ids, g.ID)
		}
		if got := cc.room(t, g.ID); got.Name != "떡잎반" || memberIDs(got.roomData) != sortedIDs(a.ID, b.ID, c.ID) {
			t.Fatalf("c sees the room as %+v", got)
		}
		page := cc.messages(t, g.ID, nil)
		if seqs(page) != "3" || page.TotalCount != 1 || page.Edges[0].Node.ID != sys.ID || page.PageInfo.HasPreviousPage {
			t.Fatalf("c reads %s (totalCount %d, hasPreviousPage %v), want only the SYSTEM message", seqs(page), page.TotalCount, page.PageInfo.HasPreviousPage)
		}
		for _, m := range old {
			r := cc.do(t, nodeOp, map[string]any{"id": m.ID})
			if r.Code() != "NOT_FOUND" {
				t.Errorf("c's node(id) of a message from before they joined: %s", r.Raw)
			}
			mustNotContain(t, r.Raw, "옛날 이야기")
		}
		if m := cc.send(t, g.ID, "안녕 나 맹구"); m.Seq != 4 {
			t.Fatalf("c's first message has seq %d, want 4", m.Seq)
		}

		// Adding current members changes nothing and writes no message.
		if again := cb.addMembers(t, g.ID, a.ID, c.ID); memberIDs(again) != sortedIDs(a.ID, b.ID, c.ID) {
			t.Fatalf("re-adding members gave %+v", again)
		}
		if page := ca.messages(t, g.ID, nil); seqs(page) != "1,2,3,4" {
			t.Fatalf("after re-adding current members the room holds %s", seqs(page))
		}

		// A direct room takes no one else.
		dm := ca.createRoom(t, nil, b.ID)
		if r := ca.do(t, addMembersOp, map[string]any{"r": dm.ID, "u": []string{c.ID}}); r.Code() != "BAD_USER_INPUT" || string(r.Data) != "null" {
			t.Fatalf("adding to a direct room: %s", r.Raw)
		}
		if got := ca.room(t, dm.ID); memberIDs(got.roomData) != sortedIDs(a.ID, b.ID) {
			t.Fatalf("the direct room's members = %+v", got.Members)
		}
	})
}

// Members added while others are sending still see the room only from the
// SYSTEM message that added them, and no send fails.
func TestAddRoomMembersWhileOthersSend(t *testing.T) {
	const rounds, sends = 3, 16
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "초대자"), e.signUp(t, "수다꾼")
		for round := range rounds {
			newcomer := e.signUp(t, fmt.Sprintf("신입%d", round))
			g := e.client(a).createRoom(t, ptr(fmt.Sprintf("바쁜 방 %d", round)), b.ID)
			var reqs []request
			for i := range sends {
				reqs = append(reqs, request{e.client(b), sendOp, map[string]any{"r": g.ID, "b": fmt.Sprintf("%d번", i)}})
				if i == sends/2 {
					reqs = append(reqs, request{e.client(a), addMembersOp, map[string]any{"r": g.ID, "u": []string{newcomer.ID}}})
				}
			}
			for i, r := range concurrently(t, reqs...) {
				// On MariaDB this once deadlocked (Error 1213): the membership
				// insert took a shared lock on the room row before the seq bump
				// asked for an exclusive one. Every writer now locks the room first.
				if r.Code() != "" {
					t.Errorf("round %d, request %d: %s", round, i, r.Raw)
				}
			}
			page := e.client(newcomer).messages(t, g.ID, map[string]any{"first": 100})
			// The newcomer's joined_seq must be read after the room is locked,
			// or messages committed meanwhile would leak to them.
			if len(page.Edges) == 0 || page.Edges[0].Node.Kind != "SYSTEM" {
				t.Errorf("round %d: the newcomer reads seqs %s of the room, want the SYSTEM message that added them first", round, seqs(page))
			}
		}
	})
}

func TestLeaveGroupRoom(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "도라에몽"), e.signUp(t, "진구"), e.signUp(t, "퉁퉁이")
		ca, cc := e.client(a), e.client(c)
		g := ca.createRoom(t, ptr("뒷동산"), b.ID, c.ID)
		before := cc.send(t, g.ID, "나 간다")

		cc.leave(t, g.ID)

		// The others see a SYSTEM message without a sender, and c gone from the members.
		got := ca.room(t, g.ID)
		if memberIDs(got.roomData) != sortedIDs(a.ID, b.ID) {
			t.Errorf("members after c left = %+v", got.Members)
		}
		if m := got.LastMessage; m == nil || m.Kind != "SYSTEM" || m.Sender != nil || m.Seq != 2 || !strings.Contains(m.Body, "퉁퉁이") {
			t.Errorf("last message after c left = %+v, want a SYSTEM message naming 퉁퉁이", m)
		}
		if page := e.client(b).messages(t, g.ID, nil); seqs(page) != "1,2" || page.Edges[0].Node.Sender.ID != c.ID {
			t.Errorf("b reads %s after c left; c's message must stay with its sender", seqs(page))
		}

		// c has lost the room, by every path.
		if ids := cc.roomIDs(t); len(ids) != 0 {
			t.Errorf("c still lists rooms %v", ids)
		}
		wantHidden(t, cc, g.ID, before.ID, "뒷동산", "나 간다")
		if r := cc.do(t, leaveRoomOp, map[string]any{"r": g.ID}); r.Code() != "NOT_FOUND" || string(r.Data) != "null" {
			t.Errorf("leaving twice: %s", r.Raw)
		}

		// Added back, c reads from the new SYSTEM message on.
		ca.addMembers(t, g.ID, c.ID)
		if page := cc.messages(t, g.ID, nil); seqs(page) != "3" || page.Edges[0].Node.Kind != "SYSTEM" {
			t.Errorf("c, added back, reads %s", seqs(page))
		}
	})
}

func TestLeaveDirectRoom(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "견우"), e.signUp(t, "직녀")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, nil, b.ID)
		ca.send(t, r.ID, "보고 싶어")
		last := cb.send(t, r.ID, "나도")

		cb.leave(t, r.ID)

		// a keeps the room, its name and all of its history.
		got := ca.room(t, r.ID)
		if got.Kind != "DIRECT" || got.Name != "직녀" || memberIDs(got.roomData) != a.ID {
			t.Errorf("a's direct room after b left = %+v, want it named 직녀 with a alone", got)
		}
		page := ca.messages(t, r.ID, nil)
		if seqs(page) != "1,2,3" || page.Edges[1].Node.Body != "나도" {
			t.Fatalf("a reads %s after b left", seqs(page))
		}
		if m := page.Edges[2].Node; m.Kind != "SYSTEM" || m.Sender != nil {
			t.Errorf("the message after b left = %+v, want SYSTEM without a sender", m)
		}
		if ids := ca.roomIDs(t); len(ids) != 1 || ids[0] != r.ID {
			t.Errorf("a's rooms = %v", ids)
		}
		// b does not.
		wantHidden(t, cb, r.ID, last.ID, "보고 싶어", "나도")
		if ids := cb.roomIDs(t); len(ids) != 0 {
			t.Errorf("b still lists rooms %v", ids)
		}

		// Asking for the direct room again gives the same room back.
		if again := ca.createRoom(t, nil, b.ID); again.ID != r.ID || memberIDs(again) != sortedIDs(a.ID, b.ID) {
			t.Errorf("asking for the direct room after b left = %+v, want room %s with both", again, r.ID)
		}
	})
}

// wantHidden checks that c can neither read nor use the room or its
// message by any path: each answers NOT_FOUND (or FORBIDDEN) with no data,
// and none of secrets shows.
func wantHidden(t *testing.T, c *client, roomID, messageID string, secrets ...string) {
	t.Helper()
	for _, x := range []struct {
		path string
		r    gqlResponse
		data string
	}{
		{"room(id)", c.do(t, roomOp, map[string]any{"r": roomID}), `{"room":null}`},
		{"room(id).messages", c.do(t, roomMessages, map[string]any{"r": roomID, "last": 5}), `{"room":null}`},
		{"node(room)", c.do(t, nodeOp, map[string]any{"id": roomID}), `{"node":null}`},
		{"node(message)", c.do(t, nodeOp, map[string]any{"id": messageID}), `{"node":null}`},
		{"nodes", c.do(t, nodesOp, map[string]any{"ids": []string{roomID, messageID}}), `{"nodes":[null,null]}`},
		{"sendMessage", c.do(t, sendOp, map[string]any{"r": roomID, "b": "들어가도 돼?"}), "null"},
		{"sendMessage with a clientId", c.do(t, sendOp, map[string]any{"r": roomID, "b": "들어가도 돼?", "c": "k"}), "null"},
		{"markRoomRead", c.do(t, markReadOp, map[string]any{"r": roomID, "m": messageID}), "null"},
		{"markRoomRead without a message", c.do(t, markReadOp, map[string]any{"r": roomID}), "null"},
	} {
		if code := x.r.Code(); (code != "NOT_FOUND" && code != "FORBIDDEN") || string(x.r.Data) != x.data {
			t.Errorf("%s: %s, want NOT_FOUND and data %s", x.path, x.r.Raw, x.data)
		}
		mustNotContain(t, x.r.Raw, secrets...)
	}
}

// rooms lists the viewer's rooms, most recent activity first, and pages.
func TestRoomsByRecentActivity(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "바쁜이"), e.signUp(t, "친구")
		ca := e.client(a)
		one := ca.createRoom(t, ptr("하나"), b.ID)
		two := ca.createRoom(t, ptr("둘"), b.ID)
		three := ca.createRoom(t, ptr("셋"), b.ID)
		want := func(what string, ids ...string) {
			t.Helper()
			if got := ca.roomIDs(t); strings.Join(got, ",") != strings.Join(ids, ",") {
				t.Fatalf("%s: rooms %v, want %v", what, got, ids)
			}
		}
		want("newest first", three.ID, two.ID, one.ID)
		e.client(b).send(t, one.ID, "올려!")
		want("a message moves its room to the top", one.ID, three.ID, two.ID)
		ca.send(t, two.ID, "나도")
		want("another message", two.ID, one.ID, three.ID)

		var p struct{ Rooms roomPage }
		ca.do(t, roomPageOp, map[string]any{"first": 2}).Decode(t, &p)
		if p.Rooms.TotalCount != 3 || len(p.Rooms.Edges) != 2 || p.Rooms.Edges[0].Node.ID != two.ID || p.Rooms.Edges[1].Node.ID != one.ID || !p.Rooms.PageInfo.HasNextPage {
			t.Fatalf("first 2 rooms = %+v", p.Rooms)
		}
		ca.do(t, roomPageOp, map[string]any{"first": 2, "after": *p.Rooms.PageInfo.EndCursor}).Decode(t, &p)
		if p.Rooms.TotalCount != 3 || len(p.Rooms.Edges) != 1 || p.Rooms.Edges[0].Node.ID != three.ID || p.Rooms.PageInfo.HasNextPage {
			t.Fatalf("rooms after the first 2 = %+v", p.Rooms)
		}
		for name, vars := range map[string]map[string]any{
			"first 101":      {"first": 101},
			"first -1":       {"first": -1},
			"garbage cursor": {"after": "???"},
		} {
			if r := ca.do(t, roomPageOp, vars); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("rooms with %s: %s", name, r.Raw)
			}
		}
		if r := e.anon().do(t, roomPageOp, nil); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous rooms: %s", r.Raw)
		}
	})
}

// An outsider asking for a room gets NOT_FOUND and room: null; none of the
// room shows, by any path.
func TestRoomIsHiddenFromNonMembers(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, eve := e.signUp(t, "주인"), e.signUp(t, "손님"), e.signUp(t, "엿보기")
		g := e.client(a).createRoom(t, ptr("비밀 작전"), b.ID)
		m := e.client(b).send(t, g.ID, "암호는 고등어")

		ce := e.client(eve)
		wantHidden(t, ce, g.ID, m.ID, "비밀 작전", "암호는", "고등어")
		for name, r := range map[string]gqlResponse{
			"leaving":              ce.do(t, leaveRoomOp, map[string]any{"r": g.ID}),
			"adding themselves":    ce.do(t, addMembersOp, map[string]any{"r": g.ID, "u": []string{eve.ID, a.ID}}),
			"asking for the group": ce.do(t, createRoomOp, map[string]any{"ids": []string{unknownID(t, g.ID)}}),
		} {
			if r.Code() != "NOT_FOUND" || string(r.Data) != "null" {
				t.Errorf("the outsider %s: %s", name, r.Raw)
			}
			mustNotContain(t, r.Raw, "비밀 작전", "암호는")
		}
		if got := e.client(a).room(t, g.ID); memberIDs(got.roomData) != sortedIDs(a.ID, b.ID) || got.LastMessage.ID != m.ID {
			t.Fatalf("the outsider's attempts changed the room: %+v", got)
		}
	})
}
