package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatty/chatty/ent/room"
)

const (
	roleOp     = `query($r: ID!) { room(id: $r) { id name viewerRole lastMessage { kind body } members { id } } }`
	renameOp   = `mutation($r: ID!, $n: String!) { renameRoom(roomId: $r, name: $n) { id name viewerRole } }`
	removeOp   = `mutation($r: ID!, $u: ID!) { removeRoomMember(roomId: $r, userId: $u) { id members { id } } }`
	rolesOfOp  = `{ rooms { edges { node { id viewerRole } } } }`
	leaveOpStr = `mutation($r: ID!) { leaveRoom(roomId: $r) }`
)

type roleData struct {
	ID, Name, ViewerRole string
	LastMessage          *struct{ Kind, Body string }
	Members              []struct{ ID string }
}

func (c *client) role(t *testing.T, roomID string) roleData {
	t.Helper()
	var out struct{ Room *roleData }
	c.do(t, roleOp, map[string]any{"r": roomID}).Decode(t, &out)
	if out.Room == nil {
		t.Fatalf("room %s is not visible", roomID)
	}
	return *out.Room
}

// The creator of a group owns it: only they rename it and remove members
// (FORBIDDEN for other members, NOT_FOUND for non-members, as for a room
// that does not exist); a direct room has no owner. Renaming follows
// createRoom's name rules and posts a SYSTEM message.
func TestRoomOwnerRenames(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, eve := e.signUp(t, "owner"), e.signUp(t, "member"), e.signUp(t, "outsider")
		ca, cb, ce := e.client(a), e.client(b), e.client(eve)
		g := ca.createRoom(t, ptr("처음 이름"), b.ID)
		d := ca.createRoom(t, nil, b.ID)
		if got := ca.role(t, g.ID).ViewerRole; got != "OWNER" {
			t.Fatalf("creator's role %q", got)
		}
		if got := cb.role(t, g.ID).ViewerRole; got != "MEMBER" {
			t.Fatalf("member's role %q", got)
		}
		if ra, rb := ca.role(t, d.ID).ViewerRole, cb.role(t, d.ID).ViewerRole; ra != "MEMBER" || rb != "MEMBER" {
			t.Fatalf("direct room roles %q %q", ra, rb)
		}

		if r := cb.do(t, renameOp, map[string]any{"r": g.ID, "n": "멤버가 바꿈"}); r.Code() != "FORBIDDEN" {
			t.Fatalf("member renames: %s", r.Raw)
		}
		if r := ca.do(t, renameOp, map[string]any{"r": d.ID, "n": "직접"}); r.Code() != "FORBIDDEN" {
			t.Fatalf("rename a direct room: %s", r.Raw)
		}
		hidden := ce.do(t, renameOp, map[string]any{"r": g.ID, "n": "남이 바꿈"})
		unknown := ce.do(t, renameOp, map[string]any{"r": unknownID(t, g.ID), "n": "없는 방"})
		if hidden.Code() != "NOT_FOUND" || unknown.Code() != "NOT_FOUND" || hidden.Errors[0].Message != unknown.Errors[0].Message {
			t.Fatalf("outsider renames: %s; unknown room: %s", hidden.Raw, unknown.Raw)
		}
		mustNotContain(t, hidden.Raw, "처음 이름")
		if r := ca.do(t, renameOp, map[string]any{"r": g.ID, "n": strings.Repeat("가", 101)}); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("rename to 101 characters: %s", r.Raw)
		}
		if got := cb.role(t, g.ID); got.Name != "처음 이름" || got.LastMessage != nil {
			t.Fatalf("refused renames changed the room: %+v", got)
		}

		var out struct{ RenameRoom roleData }
		ca.do(t, renameOp, map[string]any{"r": g.ID, "n": "  새 이름 "}).Decode(t, &out)
		if out.RenameRoom.Name != "새 이름" || out.RenameRoom.ViewerRole != "OWNER" {
			t.Fatalf("renameRoom answered %+v", out.RenameRoom)
		}
		seen := cb.role(t, g.ID)
		if seen.Name != "새 이름" || seen.LastMessage == nil || seen.LastMessage.Kind != "SYSTEM" || !strings.Contains(seen.LastMessage.Body, "새 이름") {
			t.Fatalf("the member sees %+v", seen)
		}
		// The same name again changes nothing, posts nothing.
		ca.do(t, renameOp, map[string]any{"r": g.ID, "n": "새 이름"}).Decode(t, &out)
		if n := len(cb.allMessages(t, g.ID, 50)); n != 1 {
			t.Fatalf("renaming to the same name posted: %d messages", n)
		}
		// An empty name clears it: the members' names show again.
		ca.do(t, renameOp, map[string]any{"r": g.ID, "n": " "}).Decode(t, &out)
		if !strings.Contains(out.RenameRoom.Name, "member") {
			t.Fatalf("cleared name shows %q", out.RenameRoom.Name)
		}
	})
}

// The owner removes a member: NOT_FOUND for who is not a member, BAD_USER_INPUT
// for the owner themself, FORBIDDEN for anyone but the owner. The removed
// member's streams of the room end at once, their rooms list hears
// ROOM_REMOVED, and the room is gone for them; the others see a SYSTEM message.
func TestRoomOwnerRemovesMember(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c, eve := e.signUp(t, "owner"), e.signUp(t, "member"), e.signUp(t, "removed"), e.signUp(t, "outsider")
		ca, cb, cc, ce := e.client(a), e.client(b), e.client(c), e.client(eve)
		g, after := ca.wsOpenRoom(t, "removals", b.ID, c.ID)

		if r := cb.do(t, removeOp, map[string]any{"r": g.ID, "u": c.ID}); r.Code() != "FORBIDDEN" {
			t.Fatalf("member removes: %s", r.Raw)
		}
		if r := ce.do(t, removeOp, map[string]any{"r": g.ID, "u": c.ID}); r.Code() != "NOT_FOUND" {
			t.Fatalf("outsider removes: %s", r.Raw)
		}
		if r := ca.do(t, removeOp, map[string]any{"r": g.ID, "u": eve.ID}); r.Code() != "NOT_FOUND" {
			t.Fatalf("remove a non-member: %s", r.Raw)
		}
		if r := ca.do(t, removeOp, map[string]any{"r": g.ID, "u": a.ID}); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("owner removes themself: %s", r.Raw)
		}
		d := ca.createRoom(t, nil, b.ID)
		if r := ca.do(t, removeOp, map[string]any{"r": d.ID, "u": b.ID}); r.Code() != "FORBIDDEN" {
			t.Fatalf("remove from a direct room: %s", r.Raw)
		}

		wsC := e.wsConnect(t, protoTransportWS, c)
		wsC.subscribe("m", wsMessageAddedOp, map[string]any{"r": g.ID, "after": after})
		prober := wsNotificationsLive(t, e, wsC, c, "n")
		wsB := e.wsConnect(t, protoTransportWS, b)
		wsB.subscribe("m", wsMessageAddedOp, map[string]any{"r": g.ID, "after": after})
		ca.send(t, g.ID, "before")
		if m := wsC.message("m"); m.Body != "before" {
			t.Fatalf("removed-to-be member got %+v", m)
		}
		if m := wsB.message("m"); m.Body != "before" {
			t.Fatalf("member got %+v", m)
		}
		wsNextNotification(t, wsC, "n", prober) // NEW_MESSAGE of "before"

		var out struct{ RemoveRoomMember roleData }
		ca.do(t, removeOp, map[string]any{"r": g.ID, "u": c.ID}).Decode(t, &out)
		if got := memberIDs(roomData{Members: out.RemoveRoomMember.Members}); got != sortedIDs(a.ID, b.ID) {
			t.Fatalf("members after removal %s", got)
		}
		wsC.completed("m") // the stream ends: nothing more of the room reaches them
		n := wsNextNotification(t, wsC, "n", prober)
		if n.Kind != "ROOM_REMOVED" || n.Room == nil || n.Room.ID != g.ID || n.Actor == nil || n.Actor.ID != a.ID {
			t.Fatalf("removed member's notification %+v", n)
		}
		if m := wsB.message("m"); m.Kind != "SYSTEM" || !strings.Contains(m.Body, "removed") {
			t.Fatalf("member sees %+v", m)
		}
		if r := cc.do(t, roleOp, map[string]any{"r": g.ID}); r.Code() != "NOT_FOUND" {
			t.Fatalf("removed member reads the room: %s", r.Raw)
		}
		var rooms struct {
			Rooms struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		cc.do(t, rolesOfOp, nil).Decode(t, &rooms)
		for _, ed := range rooms.Rooms.Edges {
			if ed.Node.ID == g.ID {
				t.Fatal("the room is still in the removed member's list")
			}
		}
		if r := cc.do(t, sendOp, map[string]any{"r": g.ID, "b": "still here?"}); r.Code() != "NOT_FOUND" {
			t.Fatalf("removed member sends: %s", r.Raw)
		}
		// The removed member is told of no later message of the room.
		ca.send(t, g.ID, "after")
		wsC.quiet("n", 300*time.Millisecond)
	})
}

// When the owner leaves, the longest-standing remaining member owns the
// group (not one who joined later); when that one leaves, the next.
func TestRoomOwnershipPassesOnLeave(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "first"), e.signUp(t, "second"), e.signUp(t, "third")
		ca, cb, cc := e.client(a), e.client(b), e.client(c)
		g := ca.createRoom(t, ptr("relay"), b.ID)
		ca.do(t, addMembersOp, map[string]any{"r": g.ID, "u": []string{c.ID}}).Decode(t, &struct{}{})
		ca.do(t, leaveOpStr, map[string]any{"r": g.ID}).Decode(t, &struct{}{})
		if rb, rc := cb.role(t, g.ID).ViewerRole, cc.role(t, g.ID).ViewerRole; rb != "OWNER" || rc != "MEMBER" {
			t.Fatalf("after the owner left: second %s, third %s", rb, rc)
		}
		var out struct{ RenameRoom roleData }
		cb.do(t, renameOp, map[string]any{"r": g.ID, "n": "new owner"}).Decode(t, &out)
		// The first owner comes back: a newcomer now, not the owner.
		cb.do(t, addMembersOp, map[string]any{"r": g.ID, "u": []string{a.ID}}).Decode(t, &struct{}{})
		cb.do(t, leaveOpStr, map[string]any{"r": g.ID}).Decode(t, &struct{}{})
		if rc, ra := cc.role(t, g.ID).ViewerRole, ca.role(t, g.ID).ViewerRole; rc != "OWNER" || ra != "MEMBER" {
			t.Fatalf("after the second owner left: third %s, first (back) %s", rc, ra)
		}
		if r := ca.do(t, renameOp, map[string]any{"r": g.ID, "n": "mine again?"}); r.Code() != "FORBIDDEN" {
			t.Fatalf("former owner renames: %s", r.Raw)
		}
		// An owner who deletes their account hands the group on too.
		cc.do(t, `mutation($p: String) { deleteAccount(password: $p) }`, map[string]any{"p": c.Password}).Decode(t, &struct{}{})
		if got := ca.role(t, g.ID).ViewerRole; got != "OWNER" {
			t.Fatalf("after the owner deleted their account, the one left is %s", got)
		}
	})
}

// Groups from before owners get one on upgrade: the creator while still in
// the group (the first member written), else the longest-standing member;
// direct rooms stay ownerless. Running the upgrade again changes nothing.
func TestRoomOwnersUpgrade(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "creator"), e.signUp(t, "early"), e.signUp(t, "later")
		ca, cb, cc := e.client(a), e.client(b), e.client(c)
		kept := ca.createRoom(t, ptr("creator still in"), b.ID, c.ID)
		left := ca.createRoom(t, ptr("creator left"), b.ID, c.ID)
		back := ca.createRoom(t, ptr("creator came back"), b.ID)
		direct := ca.createRoom(t, nil, b.ID)
		ca.do(t, leaveOpStr, map[string]any{"r": left.ID}).Decode(t, &struct{}{})
		ca.do(t, leaveOpStr, map[string]any{"r": back.ID}).Decode(t, &struct{}{})
		cb.do(t, addMembersOp, map[string]any{"r": back.ID, "u": []string{a.ID, c.ID}}).Decode(t, &struct{}{})

		// As the rooms were before owners existed.
		ctx := context.Background()
		if err := e.DB.Client.Room.Update().ClearOwnerID().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if got := ca.role(t, kept.ID).ViewerRole; got != "MEMBER" {
			t.Fatalf("without an owner the creator is %s", got)
		}
		for run := 0; run < 2; run++ {
			if err := e.DB.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			want := []struct {
				c    *client
				room string
				role string
			}{
				{ca, kept.ID, "OWNER"}, {cb, kept.ID, "MEMBER"}, {cc, kept.ID, "MEMBER"},
				{cb, left.ID, "OWNER"}, {cc, left.ID, "MEMBER"},
				{cb, back.ID, "OWNER"}, {ca, back.ID, "MEMBER"}, {cc, back.ID, "MEMBER"},
				{ca, direct.ID, "MEMBER"}, {cb, direct.ID, "MEMBER"},
			}
			for _, w := range want {
				if got := w.c.role(t, w.room).ViewerRole; got != w.role {
					t.Fatalf("run %d, room %s: role %s, want %s", run, w.room, got, w.role)
				}
			}
		}
		n, err := e.DB.Client.Room.Query().Where(room.KindEQ(room.KindDIRECT), room.OwnerIDNotNil()).Count(ctx)
		if err != nil || n != 0 {
			t.Fatalf("direct rooms with an owner: %d %v", n, err)
		}
	})
}
