package server_test

// The real-time features over real WebSocket connections: messageAdded in
// both subprotocols, who may subscribe, leaving, resuming with after under
// concurrent senders, notifications, presence and slow consumers. The
// client and the protocol-level tests are in websocket_test.go.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/server"
)

const (
	wsLeaveOp      = `mutation($r: ID!) { leaveRoom(roomId: $r) }`
	wsAddMembersOp = `mutation($r: ID!, $u: [ID!]!) { addRoomMembers(roomId: $r, userIds: $u) { id } }`
	// wsHeavyMessageAddedOp asks for each body thirty times (the alias limit).
	wsHeavyMessageAddedOp = `subscription($r: ID!, $after: Cursor) { messageAdded(roomId: $r, after: $after) { id seq ` +
		`b1: body b2: body b3: body b4: body b5: body b6: body b7: body b8: body b9: body b10: body ` +
		`b11: body b12: body b13: body b14: body b15: body b16: body b17: body b18: body b19: body b20: body ` +
		`b21: body b22: body b23: body b24: body b25: body b26: body b27: body b28: body b29: body b30: body } }`
	wsPresenceOp = `query($id: ID!) { node(id: $id) { ... on User { id online lastSeenAt } } }`
)

// A message sent over HTTP by one member reaches another member's
// messageAdded subscription, in both subprotocols and with none (legacy
// graphql-ws), with what a chat window shows; ending the subscription from
// the client stops delivery and the connection stays usable.
func TestWebSocketMessageAdded(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "보내는이"), e.signUp(t, "받는이")
		ca, cb := e.client(a), e.client(b)
		for _, proto := range []string{protoTransportWS, protoLegacyWS, protoNone} {
			name := proto
			if name == "" {
				name = "no subprotocol"
			}
			t.Run(name, func(t *testing.T) {
				r, after := ca.wsOpenRoom(t, "room "+name, b.ID)
				ws := e.wsConnect(t, proto, b)
				if proto == protoTransportWS {
					ws.write(map[string]any{"type": "ping", "payload": map[string]any{"n": 1}})
					if f, err := ws.next(wsWait); err != nil || f.Type != "pong" {
						t.Fatalf("ping: got %v %v, want pong", f, err)
					}
				}
				ws.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})

				sent := ca.send(t, r.ID, "안녕 👋 over "+name)
				var got wsMessageAdded
				ws.data("m", &got)
				m := got.MessageAdded
				if m.ID != sent.ID || m.Body != sent.Body || m.Seq != 2 || m.Kind != "TEXT" || m.Room.ID != r.ID ||
					m.Sender == nil || m.Sender.ID != a.ID || m.Sender.Nickname != "보내는이" {
					t.Fatalf("received %+v (sender %+v), want %+v from %s", m, m.Sender, sent, a.ID)
				}
				// A burst from both members arrives whole and in seq order,
				// the subscriber's own messages included.
				var want []string
				for i := range 6 {
					c := ca
					if i%2 == 1 {
						c = cb
					}
					want = append(want, c.send(t, r.ID, fmt.Sprintf("burst %d", i)).ID)
				}
				for i, id := range want {
					if m := ws.message("m"); m.ID != id || m.Seq != 3+i {
						t.Fatalf("burst message %d: got %+v, want id %s seq %d", i, m, id, 3+i)
					}
				}

				ws.stop("m") // nothing comes for it afterwards, not even complete
				ws.synced()  // (the send below goes over HTTP: it must not overtake the stop)
				ca.send(t, r.ID, "after stop")
				ws.quiet("m", 300*time.Millisecond)

				// The connection is still good for a new subscription.
				ws.subscribe("m2", wsMessageAddedOp, map[string]any{"r": r.ID, "after": ca.wsLastCursor(t, r.ID)})
				sent = ca.send(t, r.ID, "second subscription")
				if m := ws.message("m2"); m.ID != sent.ID {
					t.Fatalf("got %+v, want %+v", m, sent)
				}
			})
		}
	})
}

// A user who is not in a room cannot subscribe to it and never sees its
// messages; neither can anyone subscribe to a room that doesn't exist.
func TestWebSocketOutsiderGetsNothing(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, eve := e.signUp(t, "alice"), e.signUp(t, "bob"), e.signUp(t, "eve")
		ca := e.client(a)
		r, after := ca.wsOpenRoom(t, "private", b.ID)
		own, ownAfter := e.client(eve).wsOpenRoom(t, "eve's own", a.ID)

		for _, proto := range []string{protoTransportWS, protoLegacyWS} {
			ws := e.wsConnect(t, proto, eve)
			ws.subscribe("no-after", wsMessageAddedOp, map[string]any{"r": r.ID})
			ws.subscribe("after", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
			ws.subscribe("no-room", wsMessageAddedOp, map[string]any{"r": "999999"})
			for _, id := range []string{"no-after", "after", "no-room"} {
				if code := ws.refused(id); code != "NOT_FOUND" {
					t.Errorf("%s: eve's subscription %q refused with %q, want NOT_FOUND", proto, id, code)
				}
			}
			// A cursor of another room on a room of her own is bad input,
			// and does not replay the other room.
			ws.subscribe("cross", wsMessageAddedOp, map[string]any{"r": own.ID, "after": after})
			if code := ws.refused("cross"); code != "BAD_USER_INPUT" {
				t.Errorf("%s: a cursor of another room: %q, want BAD_USER_INPUT", proto, code)
			}
			// Her own room works on the same connection; the private room's
			// messages never come, whatever the id.
			ws.subscribe("own", wsMessageAddedOp, map[string]any{"r": own.ID, "after": ownAfter})
			ca.send(t, r.ID, "secret "+proto)
			mine := ca.send(t, own.ID, "for eve "+proto)
			if m := ws.message("own"); m.ID != mine.ID {
				t.Fatalf("eve's own room: got %+v", m)
			}
			for _, id := range []string{"no-after", "after", "no-room", "cross"} {
				for _, f := range ws.pending[id] {
					if f.Type != "complete" {
						t.Fatalf("%s: after the refusal, %q got %v", proto, id, f)
					}
				}
				delete(ws.pending, id)
				ws.quiet(id, 50*time.Millisecond)
			}
			if strings.Contains(fmt.Sprint(ws.pending), "secret") {
				t.Fatalf("a private message reached eve: %v", ws.pending)
			}
			ownAfter = e.client(eve).wsLastCursor(t, own.ID)
		}
	})
}

// Leaving a room (over HTTP) completes the member's messageAdded
// subscription of that room: nothing sent afterwards reaches them, and they
// cannot subscribe again; their other subscriptions go on.
func TestWebSocketLeavingEndsDelivery(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "host"), e.signUp(t, "leaver"), e.signUp(t, "stayer")
		ca, cb := e.client(a), e.client(b)
		for _, proto := range []string{protoTransportWS, protoLegacyWS} {
			t.Run(proto, func(t *testing.T) {
				r, after := ca.wsOpenRoom(t, "leave "+proto, b.ID, c.ID)
				other, otherAfter := ca.wsOpenRoom(t, "other "+proto, b.ID)
				wb := e.wsConnect(t, proto, b)
				wc := e.wsConnect(t, proto, c)
				wb.subscribe("r", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
				wb.subscribe("other", wsMessageAddedOp, map[string]any{"r": other.ID, "after": otherAfter})
				wc.subscribe("r", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})

				before := ca.send(t, r.ID, "before leaving")
				for _, w := range []*wsClient{wb, wc} {
					if m := w.message("r"); m.ID != before.ID {
						t.Fatalf("got %+v", m)
					}
				}
				var left struct{ LeaveRoom string }
				cb.do(t, wsLeaveOp, map[string]any{"r": r.ID}).Decode(t, &left)

				// The subscription ends; the only thing it may still carry
				// is the SYSTEM message about the leaving.
				for {
					f := wb.mustNextFor("r")
					if f.Type == "complete" {
						break
					}
					var m wsMessageAdded
					data, errs := f.result()
					if f.Type != wb.dataType() || len(errs) > 0 || json.Unmarshal(data, &m) != nil || m.MessageAdded.Kind != "SYSTEM" {
						t.Fatalf("after leaving: got %v, want the subscription completed", f)
					}
				}
				secret := ca.send(t, r.ID, "after you left")
				marker := ca.send(t, other.ID, "marker")
				if m := wb.message("other"); m.ID != marker.ID {
					t.Fatalf("other room: got %+v, want the marker", m)
				}
				wb.quiet("r", 200*time.Millisecond)

				// The one who stayed sees the SYSTEM message, then the rest.
				if m := wc.message("r"); m.Kind != "SYSTEM" || m.Sender != nil {
					t.Fatalf("stayer: got %+v, want the SYSTEM message", m)
				}
				if m := wc.message("r"); m.ID != secret.ID {
					t.Fatalf("stayer: got %+v", m)
				}

				wb.subscribe("again", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
				if code := wb.refused("again"); code != "NOT_FOUND" && code != "FORBIDDEN" {
					t.Fatalf("subscribing to a room one left: %q", code)
				}
			})
		}
	})
}

// wsTrySend sends a message without a *testing.T (for goroutines).
func wsTrySend(e *env, token, roomID, body string) (int, error) {
	b, _ := json.Marshal(map[string]any{"query": sendOp, "variables": map[string]any{"r": roomID, "b": body}})
	req, err := http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Data   struct{ SendMessage messageData }
		Errors []gqlError
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) > 0 || out.Data.SendMessage.Seq == 0 {
		return 0, fmt.Errorf("sendMessage: %s (%v)", raw, err)
	}
	return out.Data.SendMessage.Seq, nil
}

// A subscriber that drops its connection while others keep sending, and
// comes back with after = the cursor of the last message it got, receives
// every message exactly once, in order: no gap, no repeat.
func TestWebSocketResumeWithoutGapOrRepeat(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "sender-a"), e.signUp(t, "sender-b"), e.signUp(t, "reader")
		cc := e.client(c)
		r, after := e.client(a).wsOpenRoom(t, "resume", b.ID, c.ID)

		const senders, each = 4, 20 // 80 messages after the opening one
		const total = 1 + senders*each
		phase2 := make(chan struct{})
		errs := make(chan error, senders)
		var wg sync.WaitGroup
		for i := range senders {
			token := []string{a.AccessToken, b.AccessToken}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range each {
					if k == each/4 {
						<-phase2 // a quarter before the reader drops, the rest while it is away and back
					}
					if _, err := wsTrySend(e, token, r.ID, fmt.Sprintf("sender %d message %d", i, k)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		var once sync.Once
		release := func() { once.Do(func() { close(phase2) }) }
		defer func() { release(); wg.Wait() }()

		var got []int
		first := e.wsConnect(t, protoTransportWS, c)
		first.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
		for len(got) < 10 {
			got = append(got, first.message("m").Seq)
		}
		first.Close() // dropped mid-stream, no close frame
		release()
		split := len(got)

		var resumeFrom string
		away := cc.messages(t, r.ID, map[string]any{"first": 100}) // as a client would: the cursor of the last message it has
		for _, edge := range away.Edges {
			if edge.Node.Seq == got[len(got)-1] {
				resumeFrom = edge.Cursor
			}
		}
		if resumeFrom == "" {
			t.Fatalf("no cursor for seq %d", got[len(got)-1])
		}
		second := e.wsConnect(t, protoTransportWS, c)
		second.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": resumeFrom})
		deadline := time.Now().Add(20 * time.Second)
		for len(got) < total-1 && time.Now().Before(deadline) {
			f, err := second.nextFor("m", wsWait)
			if err != nil {
				t.Fatalf("after %d messages (%v): %v", len(got), got, err)
			}
			var m wsMessageAdded
			data, gerrs := f.result()
			if f.Type != "next" || len(gerrs) > 0 || json.Unmarshal(data, &m) != nil {
				t.Fatalf("got %v", f)
			}
			got = append(got, m.MessageAdded.Seq)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i, s := range got {
			if s != i+2 {
				t.Fatalf("seqs received (first session: %d of them) = %v, want 2..%d each once in order", split, got, total)
			}
		}
		second.quiet("m", 200*time.Millisecond) // and nothing more: no repeat at the end
		if page := cc.messages(t, r.ID, map[string]any{"last": 1}); page.TotalCount != total {
			t.Fatalf("the room holds %d messages, want %d", page.TotalCount, total)
		}
		t.Logf("first session %d messages; %d more stored when resuming; second session %d", split, away.TotalCount-1-split, len(got)-split)
	})
}

// wsNotification is the shape of a notifications result.
type wsNotification struct {
	Kind        string
	TotalUnread int
	CreatedAt   string
	Room        *struct{ ID string }
	Message     *struct{ ID, Body string }
	Actor       *struct{ ID, Nickname string }
}

// wsNotificationsLive subscribes ws (of user u) to notifications as id and
// returns once they are live: the protocol has no frame saying so, so a
// prober keeps writing to a room with u (bounded) until one NEW_MESSAGE of
// it arrives; then u reads that room, so that totals count only what the
// test does. Later notifications caused by the prober are skipped by
// wsNextNotification.
func wsNotificationsLive(t *testing.T, e *env, ws *wsClient, u account, id string) (prober account) {
	t.Helper()
	prober = e.signUp(t, "prober")
	pc := e.client(prober)
	pr := pc.createRoom(t, nil, u.ID)
	ws.subscribe(id, wsNotificationsOp, nil)
	deadline := time.Now().Add(wsWait)
	for time.Now().Before(deadline) {
		pc.send(t, pr.ID, "are you there?")
		f, err := ws.nextFor(id, 100*time.Millisecond)
		if errors.Is(err, errWSNoFrame) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var n struct{ Notifications wsNotification }
		data, _ := f.result()
		if json.Unmarshal(data, &n) != nil || n.Notifications.Actor == nil || n.Notifications.Actor.ID != prober.ID {
			t.Fatalf("while waiting for the prober: %v", f)
		}
		var mr struct{ MarkRoomRead struct{ UnreadCount int } }
		e.client(u).do(t, markReadOp, map[string]any{"r": pr.ID}).Decode(t, &mr)
		// That read comes back as ROOM_READ (u's badges clear); the
		// prober's messages still in flight come before it.
		for {
			n := wsNextNotification(t, ws, id, prober)
			if n.Kind == "ROOM_READ" && n.Room != nil && n.Room.ID == pr.ID {
				return prober
			}
			t.Fatalf("while waiting for the prober's room to be read: %+v", n)
		}
	}
	t.Fatalf("notifications not live after %v", wsWait)
	return prober
}

// wsNextNotification returns the next notification of id not caused by skip.
func wsNextNotification(t *testing.T, ws *wsClient, id string, skip account) wsNotification {
	t.Helper()
	for {
		var n struct{ Notifications wsNotification }
		ws.data(id, &n)
		if n.Notifications.Actor != nil && n.Notifications.Actor.ID == skip.ID {
			continue
		}
		return n.Notifications
	}
}

// Notifications carry what a badge or widget shows: friend requests and
// acceptances, rooms one is added to, and other people's messages with the
// running unread total (one's own messages notify nobody but the others).
func TestWebSocketNotifications(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		u, x, y := e.signUp(t, "유저"), e.signUp(t, "friend x"), e.signUp(t, "friend y")
		cu, cx, cy := e.client(u), e.client(x), e.client(y)
		ws := e.wsConnect(t, protoTransportWS, u)
		prober := wsNotificationsLive(t, e, ws, u, "n")
		next := func() wsNotification { t.Helper(); return wsNextNotification(t, ws, "n", prober) }
		want := func(n wsNotification, kind string, actor account, roomID string, unread int) {
			t.Helper()
			if n.Kind != kind || n.Actor == nil || n.Actor.ID != actor.ID || n.Actor.Nickname != actor.Nickname || n.TotalUnread != unread || n.CreatedAt == "" {
				t.Fatalf("got %+v (actor %+v), want %s by %s with %d unread", n, n.Actor, kind, actor.Nickname, unread)
			}
			if roomID == "" && n.Room != nil || roomID != "" && (n.Room == nil || n.Room.ID != roomID) {
				t.Fatalf("%s: room %+v, want %q", kind, n.Room, roomID)
			}
		}

		cx.do(t, addFriendOp, map[string]any{"u": u.ID}).Decode(t, &struct{}{})
		want(next(), "FRIEND_REQUEST", x, "", 0)

		cu.do(t, addFriendOp, map[string]any{"u": y.ID}).Decode(t, &struct{}{}) // u asks y: nothing for u
		cy.do(t, addFriendOp, map[string]any{"u": u.ID}).Decode(t, &struct{}{}) // y accepts
		want(next(), "FRIEND_ACCEPTED", y, "", 0)

		direct := cx.createRoom(t, nil, u.ID)
		want(next(), "ROOM_ADDED", x, direct.ID, 0)

		group := cy.createRoom(t, wsPtr("y's group"), x.ID) // without u
		cy.do(t, wsAddMembersOp, map[string]any{"r": group.ID, "u": []string{u.ID}}).Decode(t, &struct{}{})
		want(next(), "ROOM_ADDED", y, group.ID, 0) // the SYSTEM "added" message notifies nobody

		one := cx.send(t, direct.ID, "one")
		n := next()
		want(n, "NEW_MESSAGE", x, direct.ID, 1)
		if n.Message == nil || n.Message.ID != one.ID || n.Message.Body != "one" {
			t.Fatalf("NEW_MESSAGE carries %+v, want %+v", n.Message, one)
		}
		cx.send(t, direct.ID, "two")
		want(next(), "NEW_MESSAGE", x, direct.ID, 2)

		cu.send(t, direct.ID, "my own") // no notification for u
		three := cy.send(t, group.ID, "three")
		n = next()
		want(n, "NEW_MESSAGE", y, group.ID, 3)
		if n.Message == nil || n.Message.ID != three.ID {
			t.Fatalf("after u's own message the next wsNotification is %+v, want y's %q", n.Message, "three")
		}

		// Reading tells u's badges the new total at once (ROOM_READ, u
		// the actor), and lowers the total the next notification carries.
		cu.do(t, markReadOp, map[string]any{"r": direct.ID}).Decode(t, &struct{}{})
		want(next(), "ROOM_READ", u, direct.ID, 1)
		cu.do(t, markReadOp, map[string]any{"r": direct.ID}).Decode(t, &struct{}{}) // nothing moved: no notification
		cx.send(t, direct.ID, "four")
		want(next(), "NEW_MESSAGE", x, direct.ID, 2)

		// x's own widget heard about u's message.
		wx := e.wsConnect(t, protoLegacyWS, x)
		proberX := wsNotificationsLive(t, e, wx, x, "n")
		cu.send(t, direct.ID, "to x")
		n = wsNextNotification(t, wx, "n", proberX)
		if n.Kind != "NEW_MESSAGE" || n.Actor == nil || n.Actor.ID != u.ID || n.Message == nil || n.Message.Body != "to x" {
			t.Fatalf("x got %+v", n)
		}
		ws.quiet("n", 200*time.Millisecond) // and u did not
	})
}

// wsWaitSockets polls (bounded) until the server counts n open sockets
// (chatty_websocket_connections on /metrics).
func wsWaitSockets(t *testing.T, e *env, n int) {
	t.Helper()
	want := fmt.Sprintf("\nchatty_websocket_connections %d\n", n)
	deadline := time.Now().Add(wsWait)
	for {
		resp, err := http.Get(e.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics does not show %d open sockets after %v", n, wsWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wsPtr[T any](v T) *T { return &v }

type wsPresence struct {
	Node *struct {
		ID         string
		Online     bool
		LastSeenAt *time.Time
	}
}

// User.online is true while the user has a socket (any number of them)
// and false once the last one closes, however it closes; lastSeenAt is then
// set.
func TestWebSocketPresence(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		u, other := e.signUp(t, "present"), e.signUp(t, "watcher")
		watch := e.client(other)
		look := func() wsPresence {
			t.Helper()
			var p wsPresence
			watch.do(t, wsPresenceOp, map[string]any{"id": u.ID}).Decode(t, &p)
			if p.Node == nil {
				t.Fatalf("user %s not found", u.ID)
			}
			return p
		}
		// waitFor polls (bounded) until ok holds. Going offline and stamping
		// lastSeenAt are two steps (chat.Service.Connected's release), so
		// a client may briefly see one without the other.
		waitFor := func(what string, ok func(wsPresence) bool) wsPresence {
			t.Helper()
			deadline := time.Now().Add(wsWait)
			for {
				p := look()
				if ok(p) {
					return p
				}
				if time.Now().After(deadline) {
					t.Fatalf("not %s after %v: %+v", what, wsWait, *p.Node)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		online := func(p wsPresence) bool { return p.Node.Online }
		goneSince := func(t0 time.Time) func(wsPresence) bool {
			return func(p wsPresence) bool {
				return !p.Node.Online && p.Node.LastSeenAt != nil && !p.Node.LastSeenAt.Before(t0)
			}
		}
		if p := look(); p.Node.Online || p.Node.LastSeenAt != nil {
			t.Fatalf("before any socket: %+v", *p.Node)
		}
		unacked := wsDial(t, e, protoTransportWS) // a socket without connection_init is nobody
		if look().Node.Online {
			t.Fatal("online before connection_init")
		}
		unacked.Close()

		one := e.wsConnect(t, protoTransportWS, u)
		if !look().Node.Online { // recorded before the ack
			t.Fatal("offline with an open socket")
		}
		two := e.wsConnect(t, protoLegacyWS, u)
		one.CloseNormally()
		wsWaitSockets(t, e, 1) // the server has let go of the first one
		if p := look(); !p.Node.Online || p.Node.LastSeenAt != nil {
			t.Fatalf("with a second socket still open: %+v", *p.Node)
		}
		start := time.Now().Add(-time.Second) // the clocks of test and database may differ a little
		two.Close()                           // dropped without a close frame
		p := waitFor("offline with lastSeenAt set", goneSince(start))
		if p.Node.LastSeenAt.After(time.Now().Add(time.Second)) {
			t.Fatalf("lastSeenAt = %v, in the future", p.Node.LastSeenAt)
		}

		// Closed by the server (a protocol error) counts as gone too, and
		// moves lastSeenAt on.
		three := e.wsConnect(t, protoTransportWS, u)
		waitFor("online", online)
		_ = three.writeRaw("garbage")
		three.expectClose(4400, wsWait)
		waitFor("offline again with a later lastSeenAt", goneSince(p.Node.LastSeenAt.Add(time.Microsecond)))
	})
}

// A subscriber that stops reading is dropped (1013, or the connection cut)
// without holding up the publisher or the other subscribers: a reading
// subscriber in the same room gets every message, in order.
func TestWebSocketSlowConsumer(t *testing.T) {
	e := newEnv(t, "sqlite",
		envOption{chat: []chat.Option{chat.WithSubscriberQueue(4)}},
		envOption{server: func(c *server.Config, _ *auth.Options) { c.Limits.WSWriteTimeout = 300 * time.Millisecond }},
	)
	a, slowU, fastU := e.signUp(t, "firehose"), e.signUp(t, "slow"), e.signUp(t, "fast")
	ca := e.client(a)
	r, after := ca.wsOpenRoom(t, "flood", slowU.ID, fastU.ID)
	vars := map[string]any{"r": r.ID, "after": after}

	fast := e.wsConnect(t, protoTransportWS, fastU)
	fast.subscribe("m", wsMessageAddedOp, vars)
	// The slow one asks for each body thirty times: 360 kB a frame, so
	// that the kernel's socket buffers (megabytes on loopback) fill after
	// a few messages.
	slow := e.wsConnect(t, protoTransportWS, slowU)
	slow.subscribe("m", wsHeavyMessageAddedOp, vars)
	ca.send(t, r.ID, "both live")
	fast.message("m")
	slow.message("m") // from here on the slow one reads nothing

	var fastSeqs []int
	fastDone := make(chan error, 1)
	const n = 60
	go func() { // the fast subscriber reads as messages come
		for len(fastSeqs) < n {
			f, err := fast.nextFor("m", wsWait)
			if err != nil {
				fastDone <- err
				return
			}
			var m wsMessageAdded
			data, _ := f.result()
			if f.Type != "next" || json.Unmarshal(data, &m) != nil {
				fastDone <- fmt.Errorf("got %v", f)
				return
			}
			fastSeqs = append(fastSeqs, m.MessageAdded.Seq)
		}
		fastDone <- nil
	}()
	start := time.Now()
	for i := range n {
		ca.send(t, r.ID, wsBody(chat.MaxBodyLen, fmt.Sprintf("%d ", i))) // 12 kB of UTF-8 each
	}
	sending := time.Since(start)
	if err := <-fastDone; err != nil {
		t.Fatalf("fast subscriber after %d messages: %v", len(fastSeqs), err)
	}
	for i, s := range fastSeqs {
		if s != i+3 {
			t.Fatalf("fast subscriber got seqs %v, want 3..%d in order", fastSeqs, n+2)
		}
	}

	// The server has let go of the slow one: it shows offline ...
	var p wsPresence
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.client(a).do(t, wsPresenceOp, map[string]any{"id": slowU.ID}).Decode(t, &p)
		if !p.Node.Online {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow subscriber still has its socket 5 s after the flood")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// ... and when it reads again it finds an in-order prefix, then the end.
	code, frames := slow.closed(5 * time.Second)
	if code != 1013 && code != websocket.CloseAbnormalClosure {
		t.Fatalf("slow subscriber closed with %d, want 1013 or a dropped connection", code)
	}
	for i, f := range frames {
		var m wsMessageAdded
		data, _ := f.result()
		if f.Type != "next" || json.Unmarshal(data, &m) != nil || m.MessageAdded.Seq != i+3 {
			t.Fatalf("slow subscriber's frame %d: %v, want seq %d", i, f, i+3)
		}
	}
	// Not held up: the fast subscriber got all n within wsWait each while
	// the slow one was stuck. (No wall-clock bound: under -race on a loaded
	// machine the whole flood took 13 s with nothing wrong.)
	t.Logf("sent %d messages in %v; slow subscriber got %d before being closed with %d (%v)", n, sending, len(frames), code, slow.err)
}

// A socket write that takes longer than WSWriteTimeout drops the peer
// (Limits, wsOptions.WriteTimeout), even when the subscriber's queue has
// room left: the client reconnects and resumes with after.
func TestWebSocketWriteTimeoutDropsPeer(t *testing.T) {
	e := newEnv(t, "sqlite", wsWithServer(func(c *server.Config) { c.Limits.WSWriteTimeout = 300 * time.Millisecond }))
	a, slowU := e.signUp(t, "firehose"), e.signUp(t, "stalled")
	ca := e.client(a)
	r, after := ca.wsOpenRoom(t, "stall", slowU.ID)
	slow := e.wsConnect(t, protoTransportWS, slowU)
	slow.subscribe("m", wsHeavyMessageAddedOp, map[string]any{"r": r.ID, "after": after})
	ca.send(t, r.ID, "live")
	slow.mustNextFor("m") // from here on it reads nothing
	for i := range 30 {   // 30 frames of 360 kB: more than the socket buffers hold
		ca.send(t, r.ID, wsBody(chat.MaxBodyLen, fmt.Sprint(i)))
	}
	// gqlgen only reports a failed write; the adapter drops the peer (it
	// once stayed "online", messages discarded, until a ping failed 25 s on).
	wsWaitSockets(t, e, 0)
}

// wsBody is a message body of n characters starting with tag.
func wsBody(n int, tag string) string {
	return tag + strings.Repeat("가", n-len([]rune(tag)))
}

// Ending a session closes its open sockets at once, not when their access
// token expires: signing out, a password change (other sessions), account
// deletion.
func TestWebSocketClosedWhenSessionEnds(t *testing.T) {
	e := newEnv(t, "sqlite")
	a := e.signUp(t, "leaver")
	var second signInData
	e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}).Decode(t, &second)

	first := e.wsConnect(t, protoTransportWS, a)
	other := e.wsConnect(t, protoTransportWS, account{AccessToken: second.SignIn.AccessToken})
	var out struct{ SignOut bool }
	e.anon().do(t, `mutation($t: String!) { signOut(refreshToken: $t) }`, map[string]any{"t": a.RefreshToken}).Decode(t, &out)
	first.expectClose(4403, wsWait)
	other.quiet("none", 300*time.Millisecond) // the other session goes on

	// Changing the password ends the other sessions: this one is the
	// second sign-in's, changed from a third.
	var third signInData
	e.anon().do(t, signInMutation, map[string]any{"e": a.Email, "p": a.Password}).Decode(t, &third)
	e.as(third.SignIn.AccessToken).do(t, updateProfile, map[string]any{"in": map[string]any{"password": "brand new password", "currentPassword": a.Password}})
	other.expectClose(4403, wsWait)

	last := e.wsConnect(t, protoTransportWS, account{AccessToken: third.SignIn.AccessToken})
	e.as(third.SignIn.AccessToken).do(t, `mutation($p: String) { deleteAccount(password: $p) }`, map[string]any{"p": "brand new password"})
	last.expectClose(4403, wsWait)
}
