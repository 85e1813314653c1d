package server_test

import (
	"fmt"
	"testing"
	"time"
)

const (
	blockOp        = `mutation($u: ID!) { blockUser(userId: $u) { id nickname blocked friendship } }`
	unblockOp      = `mutation($u: ID!) { unblockUser(userId: $u) { id nickname blocked friendship } }`
	blockedUsersOp = `query($first: Int, $after: Cursor) { blockedUsers(first: $first, after: $after) {
		totalCount edges { cursor node { id nickname blocked friendship } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	blockedOfOp = `query($id: ID!) { node(id: $id) { ... on User { id blocked friendship } } }`
	// cannotMessage is all a blocked user is told.
	cannotMessage = "you cannot message this user"
	// youBlocked is what the blocker is told.
	youBlocked = "you blocked this user: unblock them to reach them"
)

type blockedUser struct {
	ID, Nickname, Friendship string
	Blocked                  bool
}

// block runs blockUser or unblockUser (op) and returns the user it answers.
func (c *client) block(t *testing.T, op, userID string) blockedUser {
	t.Helper()
	var out map[string]blockedUser
	c.do(t, op, map[string]any{"u": userID}).Decode(t, &out)
	for _, u := range out {
		if u.ID != userID {
			t.Fatalf("answered user %s, want %s", u.ID, userID)
		}
		return u
	}
	t.Fatal("no answer")
	return blockedUser{}
}

type blockedPage struct {
	TotalCount int
	Edges      []struct {
		Cursor string
		Node   blockedUser
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

func (c *client) blockedUsers(t *testing.T, first int, after *string) blockedPage {
	t.Helper()
	var out struct{ BlockedUsers blockedPage }
	c.do(t, blockedUsersOp, map[string]any{"first": first, "after": after}).Decode(t, &out)
	for _, ed := range out.BlockedUsers.Edges {
		if !ed.Node.Blocked {
			t.Fatalf("blockedUsers lists %s with blocked false", ed.Node.Nickname)
		}
	}
	return out.BlockedUsers
}

func (p blockedPage) ids() []string {
	out := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		out[i] = e.Node.ID
	}
	return out
}

// blockedAs returns whether viewer c sees the user id as blocked.
func (c *client) blockedAs(t *testing.T, id string) bool {
	t.Helper()
	var out struct{ Node *blockedUser }
	c.do(t, blockedOfOp, map[string]any{"id": id}).Decode(t, &out)
	if out.Node == nil || out.Node.ID != id {
		t.Fatalf("node(%s) = %+v", id, out.Node)
	}
	return out.Node.Blocked
}

// wantRefused fails unless r is refused with code and, when message is
// not empty, exactly that message, and carries no data.
func wantRefused(t *testing.T, what string, r gqlResponse, code, message string) {
	t.Helper()
	if r.Code() != code || string(r.Data) != "null" || message != "" && r.Errors[0].Message != message {
		t.Fatalf("%s: %s, want %s %q and no data", what, r.Raw, code, message)
	}
}

// blockUser and unblockUser: who can be blocked, with what codes, and that
// doing either twice changes nothing.
func TestBlockUserArguments(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, gone := e.signUp(t, "차단하는이"), e.signUp(t, "차단되는이"), e.signUp(t, "떠난이")
		ca := e.client(a)
		e.client(gone).do(t, deleteAccountOp, map[string]any{"p": gone.Password}).Decode(t, &struct{}{})

		for _, op := range []string{blockOp, unblockOp} {
			wantRefused(t, "yourself", ca.do(t, op, map[string]any{"u": a.ID}), "BAD_USER_INPUT", "")
			wantRefused(t, "an unknown user", ca.do(t, op, map[string]any{"u": unknownID(t, b.ID)}), "NOT_FOUND", "")
			wantRefused(t, "a deleted account", ca.do(t, op, map[string]any{"u": gone.ID}), "NOT_FOUND", "")
			wantRefused(t, "signed out", e.anon().do(t, op, map[string]any{"u": b.ID}), "UNAUTHENTICATED", "")
		}
		if r := e.anon().do(t, blockedUsersOp, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("blockedUsers signed out: %s", r.Raw)
		}

		if ca.blockedAs(t, a.ID) || ca.blockedAs(t, b.ID) {
			t.Fatal("blocked before any block")
		}
		for i := 0; i < 2; i++ { // twice: the same answer, one block
			if u := ca.block(t, blockOp, b.ID); !u.Blocked || u.Friendship != "NONE" || u.Nickname != b.Nickname {
				t.Fatalf("blockUser #%d = %+v", i+1, u)
			}
			if p := ca.blockedUsers(t, 10, nil); p.TotalCount != 1 || len(p.Edges) != 1 || p.Edges[0].Node.ID != b.ID {
				t.Fatalf("after blockUser #%d: blockedUsers = %+v", i+1, p)
			}
		}
		if !ca.blockedAs(t, b.ID) || ca.blockedAs(t, a.ID) {
			t.Fatal("User.blocked after the block: want true for b, false for oneself")
		}
		// b is told nothing: b sees a as not blocked (b blocked nobody).
		if cb := e.client(b); cb.blockedAs(t, a.ID) || cb.blockedUsers(t, 10, nil).TotalCount != 0 {
			t.Fatal("the blocked user sees a block of their own")
		}
		for i := 0; i < 2; i++ {
			if u := ca.block(t, unblockOp, b.ID); u.Blocked {
				t.Fatalf("unblockUser #%d = %+v", i+1, u)
			}
		}
		if p := ca.blockedUsers(t, 10, nil); p.TotalCount != 0 || len(p.Edges) != 0 || p.PageInfo.HasNextPage || p.PageInfo.EndCursor != nil {
			t.Fatalf("after unblocking: blockedUsers = %+v", p)
		}
	})
}

// Every rule a block enforces, with its code, while it holds and after it
// is lifted: friend requests, direct rooms and posting there are refused
// both ways (the blocked side told only "you cannot message this user"),
// the pending request ends, group rooms and search work as before.
func TestBlockRules(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "민수"), e.signUp(t, "낯선이"), e.signUp(t, "지수")
		ca, cb := e.client(a), e.client(b)
		direct := cb.createRoom(t, nil, a.ID)
		cb.send(t, direct.ID, "안녕하세요")
		group := ca.createRoom(t, wsPtr("모임"), b.ID, c.ID)
		cb.friendMutation(t, addFriendOp, a.ID)
		wantStates(t, e, a, b, "REQUEST_RECEIVED", "REQUEST_SENT")

		ca.block(t, blockOp, b.ID)
		// The pending request ended with the block.
		wantStates(t, e, a, b, "NONE", "NONE")
		wantNoUsers(t, "a's requests after the block", ca, friendRequestsOp)

		type attempt struct {
			what string
			c    *client
			op   string
			vars map[string]any
		}
		refusals := func(blocked, blocker *client, blockedID, blockerID string) []attempt {
			return []attempt{
				{"friend request", blocked, addFriendOp, map[string]any{"u": blockerID}},
				{"create the direct room", blocked, createRoomOp, map[string]any{"ids": []string{blockerID}}},
				{"post in the direct room", blocked, sendOp, map[string]any{"r": direct.ID, "b": "제발 답장해"}},
				{"friend request (blocker)", blocker, addFriendOp, map[string]any{"u": blockedID}},
				{"create the direct room (blocker)", blocker, createRoomOp, map[string]any{"ids": []string{blockedID}}},
				{"post in the direct room (blocker)", blocker, sendOp, map[string]any{"r": direct.ID, "b": "마지막 말"}},
			}
		}
		for _, x := range refusals(cb, ca, b.ID, a.ID) {
			msg := ""
			if x.c == cb {
				msg = cannotMessage // nothing more for the blocked user
			}
			wantRefused(t, x.what, x.c.do(t, x.op, x.vars), "FORBIDDEN", msg)
		}
		var file struct{ SendFile *fileMessage }
		r := cb.upload(t, sendFileOp, map[string]any{"r": direct.ID, "f": nil}, "f", "note.txt", []byte("hello"))
		wantRefused(t, "send a file in the direct room", r, "FORBIDDEN", cannotMessage)
		r.DecodeData(t, &file)
		wantStates(t, e, a, b, "NONE", "NONE")
		if got := ca.messages(t, direct.ID, nil); seqs(got) != "1" {
			t.Fatalf("the direct room after refused posts: seqs %s, want 1", seqs(got))
		}

		// Both still read the direct room's history; group rooms work for both.
		for _, x := range []*client{ca, cb} {
			if got := x.messages(t, direct.ID, nil); len(got.Edges) != 1 || got.Edges[0].Node.Body != "안녕하세요" {
				t.Fatalf("history of the direct room: %+v", got.Edges)
			}
		}
		cb.send(t, group.ID, "그룹에서는 괜찮아")
		ca.send(t, group.ID, "그래")
		if got := ca.messages(t, group.ID, map[string]any{"last": 2}); len(got.Edges) != 2 || got.Edges[0].Node.Body != "그룹에서는 괜찮아" {
			t.Fatalf("a reads the group: %+v", got.Edges)
		}
		// Neither puts the other in a group room: b can't reach a by
		// making one of them, nor a reach b.
		other := cb.createRoom(t, wsPtr("b's group"), c.ID)
		wantRefused(t, "b creates a group with a", cb.do(t, createRoomOp, map[string]any{"ids": []string{a.ID, c.ID}, "name": "b와 a"}), "FORBIDDEN", cannotMessage)
		wantRefused(t, "b adds a to a group", cb.do(t, wsAddMembersOp, map[string]any{"r": other.ID, "u": []string{a.ID}}), "FORBIDDEN", cannotMessage)
		wantRefused(t, "a creates a group with b", ca.do(t, createRoomOp, map[string]any{"ids": []string{b.ID, c.ID}, "name": "a와 b"}), "FORBIDDEN", youBlocked)
		aGroup := ca.createRoom(t, wsPtr("a's group"), c.ID)
		wantRefused(t, "a adds b to a group", ca.do(t, wsAddMembersOp, map[string]any{"r": aGroup.ID, "u": []string{b.ID}}), "FORBIDDEN", youBlocked)
		for _, room := range []string{other.ID, aGroup.ID} {
			var got struct {
				Node struct{ Members []struct{ ID string } }
			}
			e.client(c).do(t, `query($id: ID!) { node(id: $id) { ... on Room { members { id } } } }`, map[string]any{"id": room}).Decode(t, &got)
			if len(got.Node.Members) != 2 {
				t.Fatalf("room %s after the refused adds has members %+v, want 2", room, got.Node.Members)
			}
		}
		// A third member may still put both in one group.
		var added struct{ AddRoomMembers struct{ ID string } }
		e.client(c).do(t, wsAddMembersOp, map[string]any{"r": other.ID, "u": []string{a.ID}}).Decode(t, &added)
		cb.send(t, other.ID, "c added a")

		// searchUsers still finds b for a, shown as blocked.
		var s struct {
			SearchUsers struct {
				Edges []struct{ Node blockedUser }
			}
		}
		ca.do(t, `query($q: String!) { searchUsers(query: $q) { edges { node { id nickname blocked friendship } } } }`,
			map[string]any{"q": b.Nickname}).Decode(t, &s)
		if len(s.SearchUsers.Edges) != 1 || s.SearchUsers.Edges[0].Node.ID != b.ID || !s.SearchUsers.Edges[0].Node.Blocked {
			t.Fatalf("a searching b finds %+v", s.SearchUsers.Edges)
		}

		// A third user is untouched by the block.
		cc := e.client(c)
		cc.createRoom(t, nil, a.ID)
		cc.createRoom(t, nil, b.ID)
		cc.friendMutation(t, addFriendOp, b.ID)

		// Unblocked: everything works again; the ended request stays ended.
		ca.block(t, unblockOp, b.ID)
		wantStates(t, e, a, b, "NONE", "NONE")
		cb.send(t, direct.ID, "다시 연락해도 될까요")
		ca.send(t, direct.ID, "네")
		if r := cb.createRoom(t, nil, a.ID); r.ID != direct.ID {
			t.Fatalf("after unblocking, the direct room is %s, want %s", r.ID, direct.ID)
		}
		if s := cb.friendMutation(t, addFriendOp, a.ID); s != "REQUEST_SENT" {
			t.Fatalf("a friend request after unblocking: %s", s)
		}
		r = cb.upload(t, sendFileOp, map[string]any{"r": direct.ID, "f": nil}, "f", "note.txt", []byte("hello"))
		r.Decode(t, &file)
		if file.SendFile == nil || file.SendFile.Kind != "FILE" {
			t.Fatalf("a file after unblocking: %s", r.Raw)
		}
	})
}

// A friendship ends with a block, on both sides, and stays ended after
// unblocking; a block each way needs an unblock each way. A direct room
// one of them had left stays closed to both while blocked.
func TestBlockEndsFriendship(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "친구1"), e.signUp(t, "친구2")
		ca, cb := e.client(a), e.client(b)
		ca.friendMutation(t, addFriendOp, b.ID)
		cb.friendMutation(t, addFriendOp, a.ID)
		direct := ca.createRoom(t, nil, b.ID)
		ca.leave(t, direct.ID)
		wantStates(t, e, a, b, "FRIENDS", "FRIENDS")

		cb.block(t, blockOp, a.ID)
		wantStates(t, e, a, b, "NONE", "NONE")
		wantNoUsers(t, "a's friends", ca, friendsOp)
		wantNoUsers(t, "b's friends", cb, friendsOp)
		// Coming back to the direct room is creating it: refused both ways.
		wantRefused(t, "a reopening the direct room", ca.do(t, createRoomOp, map[string]any{"ids": []string{b.ID}}), "FORBIDDEN", cannotMessage)
		wantRefused(t, "b posting to the one who left", cb.do(t, sendOp, map[string]any{"r": direct.ID, "b": "hi"}), "FORBIDDEN", "")

		// Each blocks the other: each is the blocker.
		ca.block(t, blockOp, b.ID)
		for _, x := range []struct {
			c  *client
			id string
		}{{ca, b.ID}, {cb, a.ID}} {
			if r := x.c.do(t, addFriendOp, map[string]any{"u": x.id}); r.Code() != "FORBIDDEN" || r.Errors[0].Message == cannotMessage {
				t.Fatalf("a blocker asking: %s, want FORBIDDEN telling them to unblock", r.Raw)
			}
		}
		cb.block(t, unblockOp, a.ID)
		wantRefused(t, "still blocked by a", cb.do(t, addFriendOp, map[string]any{"u": a.ID}), "FORBIDDEN", cannotMessage)
		ca.block(t, unblockOp, b.ID)
		wantStates(t, e, a, b, "NONE", "NONE")
		if r := ca.createRoom(t, nil, b.ID); r.ID != direct.ID || len(r.Members) != 2 {
			t.Fatalf("reopening after both unblocked: %+v", r)
		}
	})
}

// blockedUsers pages newest block first with cursors that stay put while
// blocks come and go; a cursor of another list is refused; deleted
// accounts are not listed.
func TestBlockedUsersPaging(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		me := e.signUp(t, "me")
		cm := e.client(me)
		var us []account
		for i := 0; i < 5; i++ {
			u := e.signUp(t, fmt.Sprintf("user %d", i))
			us = append(us, u)
			cm.block(t, blockOp, u.ID)
		}
		want := func(what string, got []string, users ...account) {
			t.Helper()
			ids := make([]string, len(users))
			for i, u := range users {
				ids[i] = u.ID
			}
			if fmt.Sprint(got) != fmt.Sprint(ids) {
				t.Fatalf("%s: %v, want %v", what, got, ids)
			}
		}
		p1 := cm.blockedUsers(t, 2, nil)
		want("first page", p1.ids(), us[4], us[3])
		if p1.TotalCount != 5 || !p1.PageInfo.HasNextPage || p1.PageInfo.HasPreviousPage || *p1.PageInfo.EndCursor != p1.Edges[1].Cursor {
			t.Fatalf("first page: %+v", p1)
		}
		// Meanwhile: a new block (goes first), one unblocked further down.
		late := e.signUp(t, "late")
		cm.block(t, blockOp, late.ID)
		cm.block(t, unblockOp, us[1].ID)
		p2 := cm.blockedUsers(t, 2, p1.PageInfo.EndCursor)
		want("second page", p2.ids(), us[2], us[0])
		if p2.TotalCount != 5 || p2.PageInfo.HasNextPage || !p2.PageInfo.HasPreviousPage {
			t.Fatalf("second page: %+v", p2)
		}
		want("from the top", cm.blockedUsers(t, 10, nil).ids(), late, us[4], us[3], us[2], us[0])
		// Blocking again an unblocked user puts them first.
		cm.block(t, blockOp, us[1].ID)
		want("blocked again", cm.blockedUsers(t, 1, nil).ids(), us[1])

		// A deleted account leaves the list.
		e.client(us[4]).do(t, deleteAccountOp, map[string]any{"p": us[4].Password}).Decode(t, &struct{}{})
		if p := cm.blockedUsers(t, 10, nil); p.TotalCount != 5 || len(p.Edges) != 5 {
			t.Fatalf("after a blocked account was deleted: %+v", p.ids())
		}

		// Cursors of other lists, page sizes out of range.
		var s searchData
		cm.do(t, searchQuery, map[string]any{"q": "user", "first": 1}).Decode(t, &s)
		for what, vars := range map[string]map[string]any{
			"a searchUsers cursor": {"after": *s.SearchUsers.PageInfo.EndCursor},
			"garbage":              {"after": "not a cursor"},
			"first < 0":            {"first": -1},
			"first too big":        {"first": 1000},
		} {
			if r := cm.do(t, blockedUsersOp, vars); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("blockedUsers with %s: %s", what, r.Raw)
			}
		}
	})
}

// The blocker's notifications carry nothing the blocked user causes — a
// message in a shared group, being added to a room — while another
// member's message still arrives; the blocked user's own notifications
// are unchanged.
func TestBlockedUserCausesNoNotifications(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "알림받는이"), e.signUp(t, "차단된이"), e.signUp(t, "보통사람")
		ca, cb, cc := e.client(a), e.client(b), e.client(c)
		group := cc.createRoom(t, wsPtr("셋"), a.ID, b.ID)
		ca.block(t, blockOp, b.ID)

		ws := e.wsConnect(t, protoTransportWS, a)
		prober := wsNotificationsLive(t, e, ws, a, "n")
		next := func() wsNotification { t.Helper(); return wsNextNotification(t, ws, "n", prober) }

		// What b causes, in order, then one message of c: the first
		// notification a gets is c's.
		cb.send(t, group.ID, "차단된 사람의 메시지")
		// (b can't put a in a room of b's: refused, see TestBlockRules.)
		bLater := cb.createRoom(t, wsPtr("b의 다른 방"), c.ID)
		if r := cb.do(t, wsAddMembersOp, map[string]any{"r": bLater.ID, "u": []string{a.ID}}); r.Code() != "FORBIDDEN" {
			t.Fatalf("b adds a to a group: %s", r.Raw)
		}
		if r := cb.do(t, addFriendOp, map[string]any{"u": a.ID}); r.Code() != "FORBIDDEN" {
			t.Fatalf("b's friend request: %s", r.Raw)
		}
		fromC := cc.send(t, group.ID, "보통 메시지")
		n := next()
		if n.Kind != "NEW_MESSAGE" || n.Actor == nil || n.Actor.ID != c.ID || n.Message == nil || n.Message.ID != fromC.ID {
			t.Fatalf("a's first notification after b's doings: %+v (actor %+v, message %+v), want c's message", n, n.Actor, n.Message)
		}
		ws.quiet("n", 200*time.Millisecond)

		// b's own notifications are unchanged: a's message reaches b.
		wb := e.wsConnect(t, protoTransportWS, b)
		proberB := wsNotificationsLive(t, e, wb, b, "n")
		ca.send(t, group.ID, "to everyone")
		if n := wsNextNotification(t, wb, "n", proberB); n.Kind != "NEW_MESSAGE" || n.Actor == nil || n.Actor.ID != a.ID {
			t.Fatalf("b got %+v", n)
		}

		// Unblocked: b's messages notify a again.
		ca.block(t, unblockOp, b.ID)
		fromB := cb.send(t, group.ID, "이제 들려요?")
		if n := next(); n.Kind != "NEW_MESSAGE" || n.Actor == nil || n.Actor.ID != b.ID || n.Message == nil || n.Message.ID != fromB.ID {
			t.Fatalf("after unblocking, a got %+v, want b's message", n)
		}
	})
}

// User.blocked on a page of users costs the same statements for 5 users as
// for 50 (searchUsers and blockedUsers), and a message costs the same
// statements in a direct room (where the block is checked) as in a group.
func TestBlockStatementsDoNotGrowWithPageSize(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		me := e.signUp(t, "viewer")
		cm := e.client(me)
		for i := 0; i < 50; i++ {
			u := e.signUp(t, fmt.Sprintf("member %02d", i))
			if i%2 == 0 {
				cm.block(t, blockOp, u.ID)
			}
		}
		for i := 0; i < 25; i++ { // 50 blocked in all
			cm.block(t, blockOp, e.signUp(t, fmt.Sprintf("other %02d", i)).ID)
		}
		cost := func(query string, vars map[string]any, want int) int64 {
			t.Helper()
			var out map[string]struct {
				Edges []struct{ Node blockedUser }
			}
			before := counter.n.Load()
			cm.do(t, query, vars).Decode(t, &out)
			spent := counter.n.Load() - before
			for _, page := range out {
				blocked := 0
				for _, ed := range page.Edges {
					if ed.Node.Blocked {
						blocked++
					}
				}
				if len(page.Edges) != want || blocked == 0 {
					t.Fatalf("page of %d has %d users, %d blocked", want, len(page.Edges), blocked)
				}
			}
			return spent
		}
		search := `query($n: Int!) { searchUsers(query: "member", first: $n) { edges { node { id blocked friendship } } } }`
		blocked := `query($n: Int!) { blockedUsers(first: $n) { totalCount edges { node { id blocked friendship } } } }`
		for name, q := range map[string]string{"searchUsers": search, "blockedUsers": blocked} {
			small, large := cost(q, map[string]any{"n": 5}, 5), cost(q, map[string]any{"n": 50}, 50)
			t.Logf("%s: %d statements for 5 users, %d for 50", name, small, large)
			if small != large || large > 8 {
				t.Fatalf("%s costs %d statements for 5 users, %d for 50: something is loaded per user", name, small, large)
			}
		}

		// Sending: the block check of a direct room adds no statement.
		friend := e.signUp(t, "friend")
		direct := cm.createRoom(t, nil, friend.ID)
		group := cm.createRoom(t, wsPtr("group"), friend.ID)
		send := func(roomID string) int64 {
			before := counter.n.Load()
			cm.send(t, roomID, "hello")
			return counter.n.Load() - before
		}
		send(direct.ID)
		send(group.ID)
		d, g := send(direct.ID), send(group.ID)
		t.Logf("a send costs %d statements in a direct room, %d in a group", d, g)
		if d != g {
			t.Fatalf("a send costs %d statements in a direct room, %d in a group", d, g)
		}
	})
}

// A block racing the blocked user's friend request and message: each of
// those either lands before the block (and the request is then ended by
// it) or is refused; nothing fails otherwise, and nothing survives the
// block.
func TestBlockRacingRequestAndSend(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		for round := 0; round < 8; round++ {
			a, b := e.signUp(t, fmt.Sprintf("blocker %d", round)), e.signUp(t, fmt.Sprintf("pest %d", round))
			ca, cb := e.client(a), e.client(b)
			direct := cb.createRoom(t, nil, a.ID)
			rs := concurrently(t,
				request{cb, addFriendOp, map[string]any{"u": a.ID}},
				request{cb, sendOp, map[string]any{"r": direct.ID, "b": "race"}},
				request{ca, blockOp, map[string]any{"u": b.ID}},
			)
			for i, r := range rs[:2] {
				if c := r.Code(); c != "" && c != "FORBIDDEN" {
					t.Fatalf("round %d, request %d racing the block: %s", round, i, r.Raw)
				}
			}
			if rs[2].Code() != "" {
				t.Fatalf("round %d: blockUser: %s", round, rs[2].Raw)
			}
			wantStates(t, e, a, b, "NONE", "NONE")
			wantRefused(t, "posting after the block", cb.do(t, sendOp, map[string]any{"r": direct.ID, "b": "again"}), "FORBIDDEN", cannotMessage)
		}
	})
}

// While a block stands, neither member of the direct room changes what the
// other sees there: editing, reacting (adding or taking one back) and
// typing are refused with the FORBIDDEN of sending, both ways. Each may
// still delete their own messages (taking back what one said), and group
// rooms are untouched.
func TestBlockClosesDirectRoomToChanges(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "차단자"), e.signUp(t, "피차단자"), e.signUp(t, "제삼자")
		ca, cb := e.client(a), e.client(b)
		direct := cb.createRoom(t, nil, a.ID)
		mb := cb.send(t, direct.ID, "안녕")
		ma := ca.send(t, direct.ID, "반가워")
		ca.do(t, addReactionOp, map[string]any{"m": mb.ID, "e": "👍"}).Decode(t, &struct{}{})
		group := ca.createRoom(t, wsPtr("모임"), b.ID, c.ID)
		gb := cb.send(t, group.ID, "그룹 메시지")

		ca.block(t, blockOp, b.ID)
		youBlocked := "you blocked this user: unblock them to reach them"
		for _, x := range []struct {
			what string
			c    *client
			op   string
			vars map[string]any
			msg  string
		}{
			{"b edits", cb, editOp, map[string]any{"m": mb.ID, "b": "A가 읽을 새 글"}, cannotMessage},
			{"b reacts", cb, addReactionOp, map[string]any{"m": ma.ID, "e": "🖕"}, cannotMessage},
			{"b takes a reaction back", cb, removeReactionOp, map[string]any{"m": mb.ID, "e": "👍"}, cannotMessage},
			{"b types", cb, typingOp, map[string]any{"r": direct.ID, "t": true}, cannotMessage},
			{"a edits", ca, editOp, map[string]any{"m": ma.ID, "b": "마지막 말"}, youBlocked},
			{"a reacts", ca, addReactionOp, map[string]any{"m": mb.ID, "e": "❤️"}, youBlocked},
			{"a takes a reaction back", ca, removeReactionOp, map[string]any{"m": mb.ID, "e": "👍"}, youBlocked},
			{"a types", ca, typingOp, map[string]any{"r": direct.ID, "t": true}, youBlocked},
		} {
			wantRefused(t, x.what, x.c.do(t, x.op, x.vars), "FORBIDDEN", x.msg)
		}
		// Nothing changed: the bodies, and a's reaction only.
		var page struct {
			Room struct {
				Messages struct {
					Edges []struct {
						Node struct {
							Body      string
							Reactions []struct{ Emoji string }
						}
					}
				}
			}
		}
		ca.do(t, `query($r: ID!) { room(id: $r) { messages(last: 10) { edges { node { body reactions { emoji } } } } } }`,
			map[string]any{"r": direct.ID}).Decode(t, &page)
		got := ""
		for _, ed := range page.Room.Messages.Edges {
			got += ed.Node.Body + fmt.Sprint(ed.Node.Reactions) + ";"
		}
		if want := "안녕[{👍}];반가워[];"; got != want {
			t.Fatalf("the direct room after refused changes: %s, want %s", got, want)
		}

		// Group rooms work as before for both.
		var edited struct{ EditMessage struct{ Body string } }
		cb.do(t, editOp, map[string]any{"m": gb.ID, "b": "고친 그룹 메시지"}).Decode(t, &edited)
		ca.do(t, addReactionOp, map[string]any{"m": gb.ID, "e": "👍"}).Decode(t, &struct{}{})
		cb.do(t, typingOp, map[string]any{"r": group.ID, "t": true}).Decode(t, &struct{}{})

		// Each takes back what they said.
		for _, x := range []struct {
			c  *client
			id string
		}{{cb, mb.ID}, {ca, ma.ID}} {
			var del struct{ DeleteMessage struct{ DeletedAt *string } }
			x.c.do(t, deleteOp, map[string]any{"m": x.id}).Decode(t, &del)
			if del.DeleteMessage.DeletedAt == nil {
				t.Fatalf("deleting one's own message past the block: %+v", del)
			}
		}
	})
}
