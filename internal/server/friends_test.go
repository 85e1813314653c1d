package server_test

import (
	"fmt"
	"testing"
)

const (
	declineFriendOp  = `mutation($u: ID!) { declineFriendRequest(userId: $u) { id friendship } }`
	removeFriendOp   = `mutation($u: ID!) { removeFriend(userId: $u) { id friendship } }`
	userPageFields   = `totalCount edges { cursor node { id nickname friendship } } pageInfo { hasNextPage hasPreviousPage endCursor }`
	friendsOp        = `query($first: Int, $after: Cursor) { friends(first: $first, after: $after) { ` + userPageFields + ` } }`
	friendRequestsOp = `query($first: Int, $after: Cursor) { friendRequests(first: $first, after: $after) { ` + userPageFields + ` } }`
	deleteAccountOp  = `mutation($p: String) { deleteAccount(password: $p) }`
	friendshipOp     = `query($id: ID!) { node(id: $id) { id ... on User { friendship } } }`
)

// userPage is a page of friends or friendRequests.
type userPage struct {
	TotalCount int
	Edges      []struct {
		Cursor string
		Node   struct{ ID, Nickname, Friendship string }
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		EndCursor                    *string
	}
}

// friendMutation runs addFriend, declineFriendRequest or removeFriend (op) on
// userID and returns the friendship the answer shows.
func (c *client) friendMutation(t *testing.T, op, userID string) string {
	t.Helper()
	var out map[string]struct{ ID, Friendship string }
	c.do(t, op, map[string]any{"u": userID}).Decode(t, &out)
	for _, u := range out {
		if u.ID != userID {
			t.Fatalf("answered user %s, want %s", u.ID, userID)
		}
		return u.Friendship
	}
	t.Fatal("no answer")
	return ""
}

// users reads one page of friends or friendRequests (op).
func (c *client) users(t *testing.T, op string, vars map[string]any) userPage {
	t.Helper()
	var out map[string]userPage
	c.do(t, op, vars).Decode(t, &out)
	for _, p := range out {
		return p
	}
	t.Fatal("no answer")
	return userPage{}
}

// wantUsers checks a whole friends or friendRequests list: exactly ids (each
// once), each showing friendship state.
func wantUsers(t *testing.T, what string, c *client, op, state string, ids ...string) {
	t.Helper()
	p := c.users(t, op, nil)
	got := make([]string, len(p.Edges))
	for i, e := range p.Edges {
		got[i] = e.Node.ID
		if e.Node.Friendship != state {
			t.Errorf("%s: %s shows friendship %s, want %s", what, e.Node.Nickname, e.Node.Friendship, state)
		}
	}
	if p.TotalCount != len(ids) || sortedIDs(got...) != sortedIDs(ids...) {
		t.Fatalf("%s: %v (totalCount %d), want %v", what, got, p.TotalCount, ids)
	}
}

// wantNoUsers checks that a friends or friendRequests list is empty.
func wantNoUsers(t *testing.T, what string, c *client, op string) {
	t.Helper()
	wantUsers(t, what, c, op, "")
}

// wantStates checks how a and b stand towards each other, as each of them
// sees it through node(id:) and through searchUsers.
func wantStates(t *testing.T, e *env, a, b account, aSeesB, bSeesA string) {
	t.Helper()
	for _, v := range []struct {
		viewer, other account
		want          string
	}{{a, b, aSeesB}, {b, a, bSeesA}} {
		c := e.client(v.viewer)
		var n struct {
			Node struct{ ID, Friendship string }
		}
		c.do(t, friendshipOp, map[string]any{"id": v.other.ID}).Decode(t, &n)
		if n.Node.ID != v.other.ID || n.Node.Friendship != v.want {
			t.Fatalf("%s sees %s through node as %+v, want %s", v.viewer.Nickname, v.other.Nickname, n.Node, v.want)
		}
		var s searchData
		c.do(t, searchQuery, map[string]any{"q": v.other.Nickname}).Decode(t, &s)
		if len(s.SearchUsers.Edges) != 1 || s.SearchUsers.Edges[0].Node.ID != v.other.ID || s.SearchUsers.Edges[0].Node.Friendship != v.want {
			t.Fatalf("%s searching %s finds %+v, want them as %s", v.viewer.Nickname, v.other.Nickname, s.SearchUsers.Edges, v.want)
		}
	}
}

func TestFriendRequestThenAccept(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "하늘"), e.signUp(t, "바다"), e.signUp(t, "구름")
		ca, cb := e.client(a), e.client(b)
		wantStates(t, e, a, b, "NONE", "NONE")

		if s := ca.friendMutation(t, addFriendOp, b.ID); s != "REQUEST_SENT" {
			t.Fatalf("asking: %s, want REQUEST_SENT", s)
		}
		wantStates(t, e, a, b, "REQUEST_SENT", "REQUEST_RECEIVED")
		// Asking twice changes nothing.
		if s := ca.friendMutation(t, addFriendOp, b.ID); s != "REQUEST_SENT" {
			t.Fatalf("asking twice: %s, want REQUEST_SENT", s)
		}
		wantUsers(t, "b's requests", cb, friendRequestsOp, "REQUEST_RECEIVED", a.ID)
		wantNoUsers(t, "a's requests", ca, friendRequestsOp)
		wantNoUsers(t, "a's friends", ca, friendsOp)
		wantNoUsers(t, "b's friends", cb, friendsOp)

		// b asking back accepts.
		if s := cb.friendMutation(t, addFriendOp, a.ID); s != "FRIENDS" {
			t.Fatalf("accepting: %s, want FRIENDS", s)
		}
		wantStates(t, e, a, b, "FRIENDS", "FRIENDS")
		wantNoUsers(t, "b's requests after accepting", cb, friendRequestsOp)
		wantUsers(t, "a's friends", ca, friendsOp, "FRIENDS", b.ID)
		wantUsers(t, "b's friends", cb, friendsOp, "FRIENDS", a.ID)

		// Asking once friends changes nothing either.
		for _, x := range []struct {
			c  *client
			id string
		}{{ca, b.ID}, {cb, a.ID}} {
			if s := x.c.friendMutation(t, addFriendOp, x.id); s != "FRIENDS" {
				t.Fatalf("asking a friend: %s, want FRIENDS", s)
			}
		}
		wantUsers(t, "a's friends after asking again", ca, friendsOp, "FRIENDS", b.ID)
		wantUsers(t, "b's friends after asking again", cb, friendsOp, "FRIENDS", a.ID)

		// A bystander stands at NONE with both, and SELF with themselves.
		wantStates(t, e, a, c, "NONE", "NONE")
		wantStates(t, e, b, c, "NONE", "NONE")
		var v viewerData
		e.client(c).do(t, viewerQuery, nil).Decode(t, &v)
		if v.Viewer.Friendship != "SELF" {
			t.Fatalf("c's friendship with themselves = %s", v.Viewer.Friendship)
		}
	})
}

func TestDeclineFriendRequest(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "산들"), e.signUp(t, "강물"), e.signUp(t, "들판")
		ca, cb := e.client(a), e.client(b)
		ca.friendMutation(t, addFriendOp, b.ID)

		// Only the one who received a request can decline it.
		if r := ca.do(t, declineFriendOp, map[string]any{"u": b.ID}); r.Code() != "NOT_FOUND" || string(r.Data) != "null" {
			t.Fatalf("the asker declining: %s", r.Raw)
		}
		wantStates(t, e, a, b, "REQUEST_SENT", "REQUEST_RECEIVED")

		if s := cb.friendMutation(t, declineFriendOp, a.ID); s != "NONE" {
			t.Fatalf("declining: %s, want NONE", s)
		}
		wantStates(t, e, a, b, "NONE", "NONE")
		wantNoUsers(t, "b's requests after declining", cb, friendRequestsOp)
		for name, id := range map[string]string{"the same request again": a.ID, "someone who never asked": c.ID} {
			if r := cb.do(t, declineFriendOp, map[string]any{"u": id}); r.Code() != "NOT_FOUND" || string(r.Data) != "null" {
				t.Errorf("declining %s: %s", name, r.Raw)
			}
		}

		// a may ask again; once friends, there is nothing to decline.
		if s := ca.friendMutation(t, addFriendOp, b.ID); s != "REQUEST_SENT" {
			t.Fatalf("asking after a decline: %s", s)
		}
		cb.friendMutation(t, addFriendOp, a.ID)
		if r := cb.do(t, declineFriendOp, map[string]any{"u": a.ID}); r.Code() != "NOT_FOUND" {
			t.Fatalf("declining a friend: %s", r.Raw)
		}
		wantStates(t, e, a, b, "FRIENDS", "FRIENDS")
	})
}

func TestRemoveFriend(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "해님"), e.signUp(t, "달님")
		ca, cb := e.client(a), e.client(b)
		notFound := func(what string, c *client, id string) {
			t.Helper()
			if r := c.do(t, removeFriendOp, map[string]any{"u": id}); r.Code() != "NOT_FOUND" || string(r.Data) != "null" {
				t.Fatalf("%s: %s", what, r.Raw)
			}
		}
		notFound("removing a stranger", ca, b.ID)

		// A request is withdrawn by its asker, not by the one asked (they decline).
		ca.friendMutation(t, addFriendOp, b.ID)
		notFound("the one asked removing", cb, a.ID)
		wantStates(t, e, a, b, "REQUEST_SENT", "REQUEST_RECEIVED")
		if s := ca.friendMutation(t, removeFriendOp, b.ID); s != "NONE" {
			t.Fatalf("withdrawing: %s, want NONE", s)
		}
		wantStates(t, e, a, b, "NONE", "NONE")
		wantNoUsers(t, "b's requests after the withdrawal", cb, friendRequestsOp)
		notFound("withdrawing twice", ca, b.ID)

		// Either friend ends a friendship.
		ca.friendMutation(t, addFriendOp, b.ID)
		cb.friendMutation(t, addFriendOp, a.ID)
		if s := cb.friendMutation(t, removeFriendOp, a.ID); s != "NONE" {
			t.Fatalf("unfriending: %s, want NONE", s)
		}
		wantStates(t, e, a, b, "NONE", "NONE")
		wantNoUsers(t, "a's friends", ca, friendsOp)
		wantNoUsers(t, "b's friends", cb, friendsOp)
		notFound("unfriending twice", ca, b.ID)
	})
}

// friends and friendRequests page with first/after, with the total on
// every page.
func TestFriendListsPage(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		v := e.signUp(t, "인기인")
		cv := e.client(v)
		var askers []string
		for i := range 7 {
			u := e.signUp(t, fmt.Sprintf("팬%d", i))
			askers = append(askers, u.ID)
			e.client(u).friendMutation(t, addFriendOp, v.ID)
		}
		cv.friendMutation(t, addFriendOp, e.signUp(t, "짝사랑").ID) // sent by v: not among v's requests

		pageAll := func(op string, total int) []string {
			t.Helper()
			var ids []string
			vars := map[string]any{"first": 3}
			for page := 0; ; page++ {
				p := cv.users(t, op, vars)
				if p.TotalCount != total {
					t.Fatalf("page %d: totalCount %d, want %d", page, p.TotalCount, total)
				}
				more := len(ids)+len(p.Edges) < total
				if (more && len(p.Edges) != 3) || p.PageInfo.HasNextPage != more || p.PageInfo.HasPreviousPage != (page > 0) {
					t.Fatalf("page %d: %d users, hasNextPage %v, hasPreviousPage %v (%d of %d seen before)",
						page, len(p.Edges), p.PageInfo.HasNextPage, p.PageInfo.HasPreviousPage, len(ids), total)
				}
				for _, e := range p.Edges {
					ids = append(ids, e.Node.ID)
				}
				if !more {
					return ids
				}
				vars = map[string]any{"first": 3, "after": *p.PageInfo.EndCursor}
			}
		}
		if got := pageAll(friendRequestsOp, 7); sortedIDs(got...) != sortedIDs(askers...) {
			t.Fatalf("requests paged: %v, want %v", got, askers)
		}

		for _, id := range askers[:4] {
			cv.friendMutation(t, addFriendOp, id)
		}
		if got := pageAll(friendsOp, 4); sortedIDs(got...) != sortedIDs(askers[:4]...) {
			t.Fatalf("friends paged: %v, want %v", got, askers[:4])
		}
		if got := pageAll(friendRequestsOp, 3); sortedIDs(got...) != sortedIDs(askers[4:]...) {
			t.Fatalf("requests left paged: %v, want %v", got, askers[4:])
		}

		for name, vars := range map[string]map[string]any{
			"first 101":      {"first": 101},
			"first -1":       {"first": -1},
			"garbage cursor": {"first": 2, "after": "친구"},
		} {
			for _, op := range []string{friendsOp, friendRequestsOp} {
				if r := cv.do(t, op, vars); r.Code() != "BAD_USER_INPUT" {
					t.Errorf("%s: %s", name, r.Raw)
				}
			}
		}
	})
}

func TestFriendRefusals(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, asker, friend := e.signUp(t, "나야"), e.signUp(t, "떠날요청자"), e.signUp(t, "떠날친구")
		ca := e.client(a)
		e.client(asker).friendMutation(t, addFriendOp, a.ID)
		ca.friendMutation(t, addFriendOp, friend.ID)
		e.client(friend).friendMutation(t, addFriendOp, a.ID)
		room := ca.createRoom(t, nil, friend.ID)
		for _, u := range []account{asker, friend} {
			var del struct{ DeleteAccount bool }
			e.client(u).do(t, deleteAccountOp, map[string]any{"p": u.Password}).Decode(t, &del)
		}

		// Deleted accounts leave the lists.
		wantNoUsers(t, "requests after the asker deleted their account", ca, friendRequestsOp)
		wantNoUsers(t, "friends after the friend deleted their account", ca, friendsOp)

		unknown := unknownID(t, a.ID)
		cases := []struct {
			name, op, id, code string
		}{
			{"befriending yourself", addFriendOp, a.ID, "BAD_USER_INPUT"},
			{"accepting a deleted account's request", addFriendOp, asker.ID, "NOT_FOUND"},
			{"asking a deleted former friend", addFriendOp, friend.ID, "NOT_FOUND"},
			{"asking an unknown user", addFriendOp, unknown, "NOT_FOUND"},
			{"asking a room", addFriendOp, room.ID, "NOT_FOUND"},
			{"asking a malformed id", addFriendOp, "하나", "BAD_USER_INPUT"},
			{"asking id 0", addFriendOp, "0", "BAD_USER_INPUT"},
			{"declining yourself", declineFriendOp, a.ID, "NOT_FOUND"},
			{"declining an unknown user", declineFriendOp, unknown, "NOT_FOUND"},
			{"declining a malformed id", declineFriendOp, "", "BAD_USER_INPUT"},
			{"removing yourself", removeFriendOp, a.ID, "NOT_FOUND"},
			{"removing an unknown user", removeFriendOp, unknown, "NOT_FOUND"},
			{"removing a malformed id", removeFriendOp, "1.5", "BAD_USER_INPUT"},
		}
		for _, c := range cases {
			if r := ca.do(t, c.op, map[string]any{"u": c.id}); r.Code() != c.code || string(r.Data) != "null" {
				t.Errorf("%s: %s, want %s", c.name, r.Raw, c.code)
			}
		}
		wantNoUsers(t, "friends after the refusals", ca, friendsOp)
		wantNoUsers(t, "requests after the refusals", ca, friendRequestsOp)
	})
}

// Two users asking each other at the same moment end up friends, with one
// friendship between them.
func TestMutualAddFriendAtOnce(t *testing.T) {
	const pairs = 5
	forEachDB(t, func(t *testing.T, e *env) {
		type pair struct{ a, b account }
		var ps []pair
		var reqs []request
		for i := range pairs {
			p := pair{e.signUp(t, fmt.Sprintf("동시%dㄱ", i)), e.signUp(t, fmt.Sprintf("동시%dㄴ", i))}
			ps = append(ps, p)
			reqs = append(reqs,
				request{e.client(p.a), addFriendOp, map[string]any{"u": p.b.ID}},
				request{e.client(p.b), addFriendOp, map[string]any{"u": p.a.ID}})
		}
		resps := concurrently(t, reqs...)
		for i, p := range ps {
			states := map[string]bool{}
			for _, r := range resps[2*i : 2*i+2] {
				var out struct{ AddFriend struct{ Friendship string } }
				r.Decode(t, &out)
				states[out.AddFriend.Friendship] = true
			}
			if !states["FRIENDS"] || len(states) > 2 || (len(states) == 2 && !states["REQUEST_SENT"]) {
				t.Errorf("pair %d: the two answers show %v; one of them accepted, so at least one says FRIENDS", i, states)
			}
			wantStates(t, e, p.a, p.b, "FRIENDS", "FRIENDS")
			wantUsers(t, "a's friends", e.client(p.a), friendsOp, "FRIENDS", p.b.ID)
			wantUsers(t, "b's friends", e.client(p.b), friendsOp, "FRIENDS", p.a.ID)
			wantNoUsers(t, "a's requests", e.client(p.a), friendRequestsOp)
			wantNoUsers(t, "b's requests", e.client(p.b), friendRequestsOp)
		}
	})
}

func TestFriendsNeedSignIn(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "누군가")
		for name, r := range map[string]gqlResponse{
			"addFriend":            e.anon().do(t, addFriendOp, map[string]any{"u": a.ID}),
			"declineFriendRequest": e.anon().do(t, declineFriendOp, map[string]any{"u": a.ID}),
			"removeFriend":         e.anon().do(t, removeFriendOp, map[string]any{"u": a.ID}),
			"friends":              e.anon().do(t, friendsOp, nil),
			"friendRequests":       e.anon().do(t, friendRequestsOp, nil),
			"forged token":         e.as("not.a.token").do(t, friendsOp, nil),
		} {
			if r.Code() != "UNAUTHENTICATED" || string(r.Data) != "null" {
				t.Errorf("%s: %s", name, r.Raw)
			}
		}
	})
}
