package server_test

// Issue #9's seams between its two halves: reactions in the room change
// feed, deletions and reactions, the owner's deletions, and room events of
// renames and removals, over the real handler and real WebSockets.

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const roomEventsReactionsOp = `subscription($r: ID!, $after: Cursor) { roomEvents(roomId: $r, after: $after) { __typename
	... on MessageEvent { kind cursor message { id body editedAt deletedAt reactions { emoji count viewerReacted users { id } } } } } }`

type reactionEv struct {
	Typename string `json:"__typename"`
	Kind     string
	Cursor   string
	Message  *struct {
		ID, Body            string
		EditedAt, DeletedAt *string
		Reactions           []reactionData
	}
}

func (c *wsClient) reactionEvent(id string) reactionEv {
	c.t.Helper()
	for {
		var out struct{ RoomEvents reactionEv }
		c.data(id, &out)
		if out.RoomEvents.Typename == "MessageEvent" {
			return out.RoomEvents
		}
	}
}

// A reaction is a change of the room's feed: every member on roomEvents
// sees REACTIONS_CHANGED with the message's reactions as they are now (and
// whether they themselves reacted), live and on a resume; neither
// reactions nor edits notify anyone.
func TestReactionsInRoomEvents(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "alice"), e.signUp(t, "bobby"), e.signUp(t, "carol")
		ca, cb, cc := e.client(a), e.client(b), e.client(c)
		r := ca.createRoom(t, ptr("feed"), b.ID, c.ID)
		m := ca.send(t, r.ID, "react to me")
		from := cb.eventsCursor(t, r.ID)
		wb, wc := e.wsConnect(t, protoTransportWS, b), e.wsConnect(t, protoTransportWS, c)
		wb.subscribe("ev", roomEventsReactionsOp, map[string]any{"r": r.ID, "after": from})
		wc.subscribe("ev", roomEventsReactionsOp, map[string]any{"r": r.ID, "after": from})
		prober := wsNotificationsLive(t, e, wb, b, "n")

		expect := func(what, kind, forB, forC string) reactionEv {
			t.Helper()
			var got reactionEv
			for _, s := range []struct {
				ws   *wsClient
				want string
			}{{wb, forB}, {wc, forC}} {
				got = s.ws.reactionEvent("ev")
				if got.Kind != kind || got.Message == nil || got.Message.ID != m.ID || reactionsText(got.Message.Reactions) != s.want {
					t.Fatalf("%s: %+v %+v, want %s with %s", what, got, got.Message, kind, s.want)
				}
			}
			return got
		}
		cc.react(t, addReactionOp, m.ID, "👍")
		first := expect("carol's 👍", "REACTIONS_CHANGED", "👍:1:false:"+c.ID, "👍:1:true:"+c.ID)
		cb.react(t, addReactionOp, m.ID, "👍")
		expect("bobby's 👍", "REACTIONS_CHANGED", fmt.Sprintf("👍:2:true:%s,%s", c.ID, b.ID), fmt.Sprintf("👍:2:true:%s,%s", c.ID, b.ID))
		ca.react(t, addReactionOp, m.ID, "❤️")
		cc.react(t, removeReactionOp, m.ID, "👍")
		cc.react(t, removeReactionOp, m.ID, "👍") // nothing to remove: no event
		ca.react(t, addReactionOp, m.ID, "❤️")   // already there: no event
		expect("alice's ❤️", "REACTIONS_CHANGED",
			fmt.Sprintf("👍:2:true:%s,%s ❤️:1:false:%s", c.ID, b.ID, a.ID), fmt.Sprintf("👍:2:true:%s,%s ❤️:1:false:%s", c.ID, b.ID, a.ID))
		last := expect("carol's removal", "REACTIONS_CHANGED",
			fmt.Sprintf("👍:1:true:%s ❤️:1:false:%s", b.ID, a.ID), fmt.Sprintf("👍:1:false:%s ❤️:1:false:%s", b.ID, a.ID))
		wb.quiet("ev", 200*time.Millisecond)

		// A resume replays the message once, in its latest state, at the
		// place of its latest change: REACTIONS_CHANGED.
		for _, after := range []string{from, first.Cursor} {
			wr := e.wsConnect(t, protoTransportWS, b)
			wr.subscribe("re", roomEventsReactionsOp, map[string]any{"r": r.ID, "after": after})
			got := wr.reactionEvent("re")
			if got.Kind != "REACTIONS_CHANGED" || got.Message.ID != m.ID || got.Cursor != last.Cursor ||
				reactionsText(got.Message.Reactions) != fmt.Sprintf("👍:1:true:%s ❤️:1:false:%s", b.ID, a.ID) {
				t.Fatalf("resumed: %+v %+v, want the REACTIONS_CHANGED of %s", got, got.Message, m.ID)
			}
			wr.quiet("re", 100*time.Millisecond)
		}

		// An edit keeps the reactions.
		ca.edit(t, m.ID, "react to me, edited")
		expect("the edit", "EDITED", fmt.Sprintf("👍:1:true:%s ❤️:1:false:%s", b.ID, a.ID), fmt.Sprintf("👍:1:false:%s ❤️:1:false:%s", b.ID, a.ID))

		// None of it notified bobby: his next notification is the next message's.
		next := ca.send(t, r.ID, "next")
		if n := wsNextNotification(t, wb, "n", prober); n.Kind != "NEW_MESSAGE" || n.Message == nil || n.Message.ID != next.ID {
			t.Fatalf("after edits and reactions the next notification is %+v, want the NEW_MESSAGE of %s", n, next.ID)
		}
		if got := wb.reactionEvent("ev"); got.Kind != "ADDED" || got.Message.ID != next.ID || len(got.Message.Reactions) != 0 {
			t.Fatalf("the next message: %+v %+v", got, got.Message)
		}
	})
}

// Deleting a message takes its reactions with it (live and on a page), and
// a deleted message takes no new ones: CONFLICT, as editing it.
func TestDeletionClearsReactions(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "alice"), e.signUp(t, "bobby")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, ptr("tombstones"), b.ID)
		m := ca.send(t, r.ID, "soon gone")
		ca.react(t, addReactionOp, m.ID, "👍")
		cb.react(t, addReactionOp, m.ID, "🎉")
		wb := e.wsConnect(t, protoTransportWS, b)
		wb.subscribe("ev", roomEventsReactionsOp, map[string]any{"r": r.ID, "after": cb.eventsCursor(t, r.ID)})

		ca.deleteMsg(t, m.ID)
		if got := wb.reactionEvent("ev"); got.Kind != "DELETED" || got.Message.ID != m.ID || got.Message.DeletedAt == nil || len(got.Message.Reactions) != 0 {
			t.Fatalf("deleted: %+v %+v, want no reactions", got, got.Message)
		}
		if got := cb.reactionsOn(t, r.ID, m.ID); got != "" {
			t.Fatalf("reactions of a deleted message: %s", got)
		}
		if code := cb.do(t, addReactionOp, map[string]any{"m": m.ID, "e": "👍"}).Code(); code != "CONFLICT" {
			t.Fatalf("reacting to a deleted message: %q, want CONFLICT", code)
		}
		if code := ca.do(t, editOp, map[string]any{"m": m.ID, "b": "back"}).Code(); code != "CONFLICT" {
			t.Fatalf("editing a deleted message: %q, want CONFLICT", code)
		}
		if got := cb.react(t, removeReactionOp, m.ID, "🎉"); got != "" { // nothing there: nothing changes
			t.Fatalf("removing from a deleted message: %s", got)
		}
		wb.quiet("ev", 200*time.Millisecond)
	})
}

// The OWNER of a group deletes anyone's message (not a SYSTEM one); other
// members only their own; in a direct room only the sender.
func TestOwnerDeletesMessages(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "owner"), e.signUp(t, "member"), e.signUp(t, "other")
		ca, cb, cc := e.client(a), e.client(b), e.client(c)
		g := ca.createRoom(t, ptr("moderated"), b.ID, c.ID)
		wb := e.wsConnect(t, protoTransportWS, b)
		wb.subscribe("ev", roomEventsOp, map[string]any{"r": g.ID, "after": cb.eventsCursor(t, g.ID)})

		bs := cb.send(t, g.ID, "member's message")
		if ev := wb.messageEvent("ev"); ev.Kind != "ADDED" || ev.Message.ID != bs.ID {
			t.Fatalf("added: %v", ev)
		}
		if got := ca.deleteMsg(t, bs.ID); got.DeletedAt == nil || got.Body != "" {
			t.Fatalf("the owner deletes a member's message: %+v", got)
		}
		if ev := wb.messageEvent("ev"); ev.Kind != "DELETED" || ev.Message.ID != bs.ID || ev.Message.DeletedAt == nil {
			t.Fatalf("the member sees %v", ev)
		}
		cs := cc.send(t, g.ID, "other's message")
		if code := cb.do(t, deleteOp, map[string]any{"m": cs.ID}).Code(); code != "FORBIDDEN" {
			t.Fatalf("a member deletes another's message: %q, want FORBIDDEN", code)
		}
		if got := cc.deleteMsg(t, cs.ID); got.DeletedAt == nil {
			t.Fatalf("the sender deletes their own: %+v", got)
		}
		if code := cb.do(t, editOp, map[string]any{"m": ca.send(t, g.ID, "owner's").ID, "b": "x"}).Code(); code != "FORBIDDEN" {
			t.Fatalf("a member edits the owner's message: %q", code)
		}
		cb.do(t, wsLeaveOp, map[string]any{"r": g.ID})
		sys := ca.messages(t, g.ID, map[string]any{"last": 1}).Edges[0].Node
		if code := ca.do(t, deleteOp, map[string]any{"m": sys.ID}).Code(); sys.Kind != "SYSTEM" || code != "FORBIDDEN" {
			t.Fatalf("the owner deletes a SYSTEM message (%s): %q, want FORBIDDEN", sys.Kind, code)
		}

		d := ca.createRoom(t, nil, b.ID)
		ds := cb.send(t, d.ID, "direct")
		if code := ca.do(t, deleteOp, map[string]any{"m": ds.ID}).Code(); code != "FORBIDDEN" {
			t.Fatalf("deleting the other's message in a direct room: %q, want FORBIDDEN", code)
		}
		if got := cb.deleteMsg(t, ds.ID); got.DeletedAt == nil {
			t.Fatalf("the sender deletes in a direct room: %+v", got)
		}
	})
}

// Renaming a group and removing a member are RoomChangedEvents on the
// remaining members' roomEvents; the removed member's roomEvents ends at
// once.
func TestRoomEventsOfRenameAndRemoval(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "owner"), e.signUp(t, "member"), e.signUp(t, "removed")
		ca, cb, cc := e.client(a), e.client(b), e.client(c)
		g := ca.createRoom(t, ptr("before"), b.ID, c.ID)
		wb, wc := e.wsConnect(t, protoTransportWS, b), e.wsConnect(t, protoTransportWS, c)
		wb.subscribe("ev", roomEventsOp, map[string]any{"r": g.ID, "after": cb.eventsCursor(t, g.ID)})
		wc.subscribe("ev", roomEventsOp, map[string]any{"r": g.ID, "after": cc.eventsCursor(t, g.ID)})

		// changedThenSystem reads the RoomChangedEvent and the SYSTEM
		// message of one change, in either order.
		changedThenSystem := func(ws *wsClient, what string, ok func(roomEv) bool, body string) {
			t.Helper()
			var changed, system bool
			for !changed || !system {
				switch ev := ws.roomEvent("ev"); {
				case ev.Typename == "RoomChangedEvent" && !changed && ok(ev):
					changed = true
				case ev.Typename == "MessageEvent" && ev.Message.Kind == "SYSTEM" && strings.Contains(ev.Message.Body, body) && !system:
					system = true
				default:
					t.Fatalf("%s: %v %+v", what, ev, ev.Room)
				}
			}
		}
		// Room changes are live only: once a stream has delivered
		// something, it is live.
		hello := ca.send(t, g.ID, "hello")
		for _, ws := range []*wsClient{wb, wc} {
			if ev := ws.messageEvent("ev"); ev.Kind != "ADDED" || ev.Message.ID != hello.ID {
				t.Fatalf("added: %v", ev)
			}
		}
		var out struct{ RenameRoom roleData }
		ca.do(t, renameOp, map[string]any{"r": g.ID, "n": "after"}).Decode(t, &out)
		for _, ws := range []*wsClient{wb, wc} {
			changedThenSystem(ws, "rename", func(ev roomEv) bool { return ev.Room.ID == g.ID && ev.Room.Name == "after" }, "named the room after")
		}

		ca.do(t, removeOp, map[string]any{"r": g.ID, "u": c.ID})
		wc.completed("ev") // the removed member's stream ends at once
		changedThenSystem(wb, "removal", func(ev roomEv) bool {
			return ev.Room.ID == g.ID && len(ev.Room.Members) == 2 && memberIDs(roomData{Members: ev.Room.Members}) == sortedIDs(a.ID, b.ID)
		}, "removed "+c.Nickname)
		wb.quiet("ev", 200*time.Millisecond)
	})
}

// A reactions change reaches any number of roomEvents subscribers asking
// for the message's reactions (viewerReacted included) for the same
// statements: the reactions travel with the event.
func TestReactionEventsStatementsDoNotGrowWithSubscribers(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a := e.signUp(t, "sender")
		ca := e.client(a)
		room := func(n int) func() [2]int64 {
			var ids []string
			var members []account
			for i := range n {
				m := e.signUp(t, fmt.Sprintf("reactor %d of %d", i, n))
				ids, members = append(ids, m.ID), append(members, m)
			}
			r := ca.createRoom(t, ptr(fmt.Sprintf("%d reactors", n)), ids...)
			m := ca.send(t, r.ID, "react")
			e.client(members[0]).react(t, addReactionOp, m.ID, "👍") // the first member's reaction stays
			var sockets []*wsClient
			for _, mb := range members {
				ws := e.wsConnect(t, protoTransportWS, mb)
				ws.subscribe("ev", roomEventsReactionsOp, map[string]any{"r": r.ID, "after": e.client(mb).eventsCursor(t, r.ID)})
				sockets = append(sockets, ws)
			}
			const emoji = "👍"
			return func() (spent [2]int64) {
				all := func(what, kind string, count int) {
					for i, ws := range sockets {
						ev := ws.reactionEvent("ev")
						if ev.Kind != kind || ev.Message.ID != m.ID || len(ev.Message.Reactions) != 1 || ev.Message.Reactions[0].Count != count ||
							ev.Message.Reactions[0].ViewerReacted != (i == 0) {
							t.Fatalf("%s, member %d: %+v %+v", what, i, ev, ev.Message)
						}
					}
				}
				before := counter.n.Load()
				ca.react(t, addReactionOp, m.ID, emoji)
				all("a's reaction", "REACTIONS_CHANGED", 2)
				spent[0] = counter.n.Load() - before
				before = counter.n.Load()
				ca.react(t, removeReactionOp, m.ID, emoji)
				all("its removal", "REACTIONS_CHANGED", 1)
				spent[1] = counter.n.Load() - before
				return spent
			}
		}
		one, eight := room(1), room(8)
		one() // every stream is past its replay
		eight()
		c1, c8 := one(), eight()
		t.Logf("statements for a reaction and its removal: %v with 1 subscriber, %v with 8", c1, c8)
		if c8 != c1 {
			t.Fatalf("statements %v with 8 subscribers, %v with 1: something is read per subscriber", c8, c1)
		}
	})
}
