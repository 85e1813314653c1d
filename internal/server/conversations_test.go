package server_test

// Conversations (issue #9, part A): editing and deleting messages, and the
// one resumable stream of a room (roomEvents) with typing, read markers
// and room changes, over the real handler and real WebSockets.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/pubsub"
	"github.com/chatty/chatty/internal/upload"
)

const (
	editOp         = `mutation($m: ID!, $b: String!) { editMessage(messageId: $m, body: $b) { id body kind editedAt deletedAt seq } }`
	deleteOp       = `mutation($m: ID!) { deleteMessage(messageId: $m) { id body kind editedAt deletedAt seq attachment { id } } }`
	typingOp       = `mutation($r: ID!, $t: Boolean!) { setTyping(roomId: $r, typing: $t) }`
	eventsCursorOp = `query($r: ID!) { room(id: $r) { eventsCursor } }`
	roomEventsOp   = `subscription($r: ID!, $after: Cursor) { roomEvents(roomId: $r, after: $after) { __typename
		... on MessageEvent { kind cursor message { id seq body kind editedAt deletedAt sender { id } attachment { id } room { id } } }
		... on TypingEvent { typing user { id nickname } }
		... on ReadEvent { receipt { user { id } lastRead { id seq } readAt } }
		... on RoomChangedEvent { room { id name members { id } } } } }`
)

// changedMessage is a message as edit, delete and roomEvents return it.
type changedMessage struct {
	ID, Body, Kind      string
	Seq                 int
	EditedAt, DeletedAt *string
	Sender              *struct{ ID string }
	Attachment          *struct{ ID string }
	Room                *struct{ ID string }
}

// roomEv is one roomEvents result.
type roomEv struct {
	Typename string `json:"__typename"`
	// MessageEvent
	Kind, Cursor string
	Message      *changedMessage
	// TypingEvent
	Typing bool
	User   *struct{ ID, Nickname string }
	// ReadEvent
	Receipt *struct {
		User     struct{ ID string }
		LastRead *struct {
			ID  string
			Seq int
		}
		ReadAt *string
	}
	// RoomChangedEvent
	Room *struct {
		ID, Name string
		Members  []struct{ ID string }
	}
}

func (e roomEv) String() string {
	switch e.Typename {
	case "MessageEvent":
		return fmt.Sprintf("%s %s %+v", e.Typename, e.Kind, *e.Message)
	case "TypingEvent":
		return fmt.Sprintf("%s %s %v", e.Typename, e.User.ID, e.Typing)
	}
	return e.Typename
}

// roomEvent returns the next roomEvents result of subscription id.
func (c *wsClient) roomEvent(id string) roomEv {
	c.t.Helper()
	var out struct{ RoomEvents roomEv }
	c.data(id, &out)
	return out.RoomEvents
}

// messageEvent returns the next MessageEvent of id, skipping typing, read
// and room events.
func (c *wsClient) messageEvent(id string) roomEv {
	c.t.Helper()
	for {
		if ev := c.roomEvent(id); ev.Typename == "MessageEvent" {
			return ev
		}
	}
}

func (c *client) eventsCursor(t *testing.T, roomID string) string {
	t.Helper()
	var out struct{ Room struct{ EventsCursor string } }
	c.do(t, eventsCursorOp, map[string]any{"r": roomID}).Decode(t, &out)
	if out.Room.EventsCursor == "" {
		t.Fatal("no eventsCursor")
	}
	return out.Room.EventsCursor
}

func (c *client) edit(t *testing.T, id, body string) changedMessage {
	t.Helper()
	var out struct{ EditMessage changedMessage }
	c.do(t, editOp, map[string]any{"m": id, "b": body}).Decode(t, &out)
	return out.EditMessage
}

func (c *client) deleteMsg(t *testing.T, id string) changedMessage {
	t.Helper()
	var out struct{ DeleteMessage changedMessage }
	c.do(t, deleteOp, map[string]any{"m": id}).Decode(t, &out)
	return out.DeleteMessage
}

// Who may edit what, with the codes of everything refused.
func TestEditMessage(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, eve := e.signUp(t, "writer"), e.signUp(t, "reader"), e.signUp(t, "eve")
		ca, cb := e.client(a), e.client(b)
		name := "edits"
		r := ca.createRoom(t, &name, b.ID)
		m := ca.send(t, r.ID, "helo")

		got := ca.edit(t, m.ID, "  hello 안녕 ")
		if got.ID != m.ID || got.Body != "hello 안녕" || got.EditedAt == nil || got.DeletedAt != nil || got.Seq != m.Seq {
			t.Fatalf("edited: %+v", got)
		}
		if page := cb.messages(t, r.ID, map[string]any{"last": 1}); page.Edges[0].Node.Body != "hello 안녕" {
			t.Fatalf("the other member reads %+v", page.Edges[0].Node)
		}
		for name, c := range map[string]struct {
			who  *client
			id   string
			body string
			code string
		}{
			"another member's message": {cb, m.ID, "mine now", "FORBIDDEN"},
			"outsider":                 {e.client(eve), m.ID, "x", "NOT_FOUND"},
			"no such message":          {ca, "999999", "x", "NOT_FOUND"},
			"empty text":               {ca, m.ID, "   ", "BAD_USER_INPUT"},
			"too long":                 {ca, m.ID, strings.Repeat("가", chat.MaxBodyLen+1), "BAD_USER_INPUT"},
			"anonymous":                {e.anon(), m.ID, "x", "UNAUTHENTICATED"},
		} {
			if code := c.who.do(t, editOp, map[string]any{"m": c.id, "b": c.body}).Code(); code != c.code {
				t.Errorf("%s: %q, want %s", name, code, c.code)
			}
		}
		// A SYSTEM message: nobody.
		cb.do(t, wsLeaveOp, map[string]any{"r": r.ID})
		sys := ca.messages(t, r.ID, map[string]any{"last": 1}).Edges[0].Node
		if sys.Kind != "SYSTEM" {
			t.Fatalf("want the SYSTEM message of the leave, got %+v", sys)
		}
		if code := ca.do(t, editOp, map[string]any{"m": sys.ID, "b": "x"}).Code(); code != "FORBIDDEN" {
			t.Errorf("editing a SYSTEM message: %q", code)
		}
		// A deleted message: CONFLICT.
		ca.deleteMsg(t, m.ID)
		if code := ca.do(t, editOp, map[string]any{"m": m.ID, "b": "back"}).Code(); code != "CONFLICT" {
			t.Errorf("editing a deleted message: %q", code)
		}
		// A file's caption, which may be emptied.
		var f struct{ SendFile fileMessage }
		ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil, "cap": "caption"}, "f", "a.png", pngBytes(t, 8, 8)).Decode(t, &f)
		if got := ca.edit(t, f.SendFile.ID, "new caption"); got.Body != "new caption" || got.Kind != "IMAGE" || got.EditedAt == nil {
			t.Fatalf("caption edit: %+v", got)
		}
		if got := ca.edit(t, f.SendFile.ID, ""); got.Body != "" {
			t.Fatalf("caption emptied: %+v", got)
		}
	})
}

// Deleting leaves a tombstone, removes the file's bytes (its URLs stop
// working), keeps unread counts and lastMessage right, and notifies
// nobody (nor does an edit); only the sender may.
func TestDeleteMessage(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			disk, err := upload.NewDisk(dir)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithUploads(upload.NewService(disk, upload.Limits{}))}})
			a, b, eve := e.signUp(t, "sender"), e.signUp(t, "other"), e.signUp(t, "eve")
			ca, cb := e.client(a), e.client(b)
			name := "deletes"
			r := ca.createRoom(t, &name, b.ID)
			keep := ca.send(t, r.ID, "stays")
			var f struct{ SendFile fileMessage }
			ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil, "cap": "photo"}, "f", "p.png", pngBytes(t, 64, 48)).Decode(t, &f)
			if n := len(filesUnder(t, dir)); n != 2 {
				t.Fatalf("%d files stored, want the image and its thumbnail", n)
			}
			unread := func() (int, *string) {
				var out struct {
					Room struct {
						UnreadCount int
						LastMessage *struct{ ID string }
					}
				}
				cb.do(t, `query($r: ID!) { room(id: $r) { unreadCount lastMessage { id } } }`, map[string]any{"r": r.ID}).Decode(t, &out)
				if out.Room.LastMessage == nil {
					return out.Room.UnreadCount, nil
				}
				return out.Room.UnreadCount, &out.Room.LastMessage.ID
			}
			if n, last := unread(); n != 2 || last == nil || *last != f.SendFile.ID {
				t.Fatalf("before: unread %d, last %v", n, last)
			}

			for name, c := range map[string]struct {
				who  *client
				id   string
				code string
			}{
				"another member's message": {cb, f.SendFile.ID, "FORBIDDEN"},
				"outsider":                 {e.client(eve), f.SendFile.ID, "NOT_FOUND"},
				"no such message":          {ca, "999999", "NOT_FOUND"},
				"anonymous":                {e.anon(), f.SendFile.ID, "UNAUTHENTICATED"},
			} {
				if code := c.who.do(t, deleteOp, map[string]any{"m": c.id}).Code(); code != c.code {
					t.Errorf("%s: %q, want %s", name, code, c.code)
				}
			}

			// b's notifications: the deletion creates none, and the next
			// one counts one unread message fewer.
			wb := e.wsConnect(t, protoTransportWS, b)
			prober := wsNotificationsLive(t, e, wb, b, "n")

			ca.edit(t, keep.ID, "stays, edited") // no notification either
			got := ca.deleteMsg(t, f.SendFile.ID)
			if got.DeletedAt == nil || got.Body != "" || got.Attachment != nil || got.Kind != "IMAGE" {
				t.Fatalf("tombstone: %+v", got)
			}
			if again := ca.deleteMsg(t, f.SendFile.ID); again.DeletedAt == nil || *again.DeletedAt != *got.DeletedAt {
				t.Fatalf("deleting again: %+v, want the same tombstone", again)
			}
			if n := len(filesUnder(t, dir)); n != 0 {
				t.Fatalf("files left after the deletion: %v", filesUnder(t, dir))
			}
			for _, u := range []string{f.SendFile.Attachment.URL, *f.SendFile.Attachment.ThumbnailURL} {
				if resp, _ := e.fetch(t, u); resp.StatusCode != http.StatusNotFound {
					t.Fatalf("a deleted file's URL answers %d", resp.StatusCode)
				}
			}
			if n, last := unread(); n != 1 || last == nil || *last != keep.ID {
				t.Fatalf("after: unread %d, last %v; want 1 and the message before", n, last)
			}
			page := cb.messages(t, r.ID, nil)
			if page.TotalCount != 2 || page.Edges[1].Node.Body != "" {
				t.Fatalf("the other member's page: %+v", page)
			}
			next := ca.send(t, r.ID, "after the deletion")
			n := wsNextNotification(t, wb, "n", prober)
			if n.Kind != "NEW_MESSAGE" || n.Message == nil || n.Message.ID != next.ID || n.TotalUnread != 2 {
				t.Fatalf("next notification: %+v, want NEW_MESSAGE of %s with 2 unread", n, next.ID)
			}
			// A SYSTEM message can't be deleted.
			cb.do(t, wsLeaveOp, map[string]any{"r": r.ID})
			sys := ca.messages(t, r.ID, map[string]any{"last": 1}).Edges[0].Node
			if code := ca.do(t, deleteOp, map[string]any{"m": sys.ID}).Code(); sys.Kind != "SYSTEM" || code != "FORBIDDEN" {
				t.Errorf("deleting a SYSTEM message (%s): %q", sys.Kind, code)
			}
		})
	}
}

// Two members on roomEvents see each other's messages, edits, deletions,
// typing, read markers and joins live, in order; messageAdded beside it
// still carries new messages only.
func TestRoomEventsLive(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "alice"), e.signUp(t, "bob"), e.signUp(t, "carol")
		ca, cb := e.client(a), e.client(b)
		name := "live"
		r := ca.createRoom(t, &name, b.ID)
		first := ca.send(t, r.ID, "first")
		wb := e.wsConnect(t, protoTransportWS, b)
		wb.subscribe("ev", roomEventsOp, map[string]any{"r": r.ID, "after": cb.eventsCursor(t, r.ID)})
		wb.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": cb.wsLastCursor(t, r.ID)})

		m := ca.send(t, r.ID, "hello")
		ev := wb.roomEvent("ev")
		if ev.Typename != "MessageEvent" || ev.Kind != "ADDED" || ev.Message.ID != m.ID || ev.Message.Body != "hello" ||
			ev.Message.Sender == nil || ev.Message.Sender.ID != a.ID || ev.Message.Room.ID != r.ID || ev.Cursor == "" {
			t.Fatalf("added: %v", ev)
		}
		ca.edit(t, m.ID, "hello, edited")
		if ev := wb.roomEvent("ev"); ev.Kind != "EDITED" || ev.Message.ID != m.ID || ev.Message.Body != "hello, edited" || ev.Message.EditedAt == nil {
			t.Fatalf("edited: %v", ev)
		}
		ca.deleteMsg(t, first.ID)
		if ev := wb.roomEvent("ev"); ev.Kind != "DELETED" || ev.Message.ID != first.ID || ev.Message.Body != "" || ev.Message.DeletedAt == nil {
			t.Fatalf("deleted: %v", ev)
		}

		// Typing: true, then false when the typer sends.
		var ok struct{ SetTyping bool }
		ca.do(t, typingOp, map[string]any{"r": r.ID, "t": true}).Decode(t, &ok)
		if ev := wb.roomEvent("ev"); ev.Typename != "TypingEvent" || !ev.Typing || ev.User.ID != a.ID || ev.User.Nickname != "alice" {
			t.Fatalf("typing: %v", ev)
		}
		sent := ca.send(t, r.ID, "typed")
		if ev := wb.roomEvent("ev"); ev.Typename != "TypingEvent" || ev.Typing || ev.User.ID != a.ID {
			t.Fatalf("after sending: %v, want typing false", ev)
		}
		if ev := wb.roomEvent("ev"); ev.Kind != "ADDED" || ev.Message.ID != sent.ID {
			t.Fatalf("the typed message: %v", ev)
		}
		// Typing, then stopping.
		ca.do(t, typingOp, map[string]any{"r": r.ID, "t": true}).Decode(t, &ok)
		ca.do(t, typingOp, map[string]any{"r": r.ID, "t": true}).Decode(t, &ok) // a renewal: no second "true"
		ca.do(t, typingOp, map[string]any{"r": r.ID, "t": false}).Decode(t, &ok)
		if ev := wb.roomEvent("ev"); ev.Typename != "TypingEvent" || !ev.Typing {
			t.Fatalf("typing again: %v", ev)
		}
		if ev := wb.roomEvent("ev"); ev.Typename != "TypingEvent" || ev.Typing {
			t.Fatalf("stopped: %v", ev)
		}
		// One's own typing is not echoed.
		cb.do(t, typingOp, map[string]any{"r": r.ID, "t": true}).Decode(t, &ok)

		// Read markers, forward only.
		ca.do(t, markReadOp, map[string]any{"r": r.ID})
		ev = wb.roomEvent("ev")
		if ev.Typename != "ReadEvent" || ev.Receipt.User.ID != a.ID || ev.Receipt.LastRead == nil || ev.Receipt.LastRead.ID != sent.ID || ev.Receipt.ReadAt == nil {
			t.Fatalf("read: %v %+v", ev, ev.Receipt)
		}
		ca.do(t, markReadOp, map[string]any{"r": r.ID, "m": m.ID}) // backwards: nothing

		// A join: the room changed, then its SYSTEM message.
		ca.do(t, wsAddMembersOp, map[string]any{"r": r.ID, "u": []string{c.ID}})
		var changed, system bool
		for !changed || !system {
			switch ev := wb.roomEvent("ev"); {
			case ev.Typename == "RoomChangedEvent" && len(ev.Room.Members) == 3:
				changed = true
			case ev.Typename == "MessageEvent" && ev.Message.Kind == "SYSTEM":
				system = true
			default:
				t.Fatalf("after a join: %v", ev)
			}
		}
		wb.quiet("ev", 200*time.Millisecond)

		// messageAdded: the new messages only, as before.
		for _, want := range []string{m.ID, sent.ID} {
			if got := wb.message("m"); got.ID != want {
				t.Fatalf("messageAdded: %+v, want %s", got, want)
			}
		}
		if got := wb.message("m"); got.Kind != "SYSTEM" {
			t.Fatalf("messageAdded: %+v, want the SYSTEM message", got)
		}
		wb.quiet("m", 100*time.Millisecond)
	})
}

// Typing ends by itself when not renewed in time, and when the typer
// leaves; a stream ends when its viewer leaves; outsiders, other rooms'
// cursors and made-up cursors are refused.
func TestRoomEventsTypingExpiryLeavingAndRefusals(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithTypingTimeout(300 * time.Millisecond)}})
			a, b, c, eve := e.signUp(t, "typer"), e.signUp(t, "watcher"), e.signUp(t, "leaver"), e.signUp(t, "eve")
			ca, cb, cc := e.client(a), e.client(b), e.client(c)
			name := "typing"
			r := ca.createRoom(t, &name, b.ID, c.ID)
			other := ca.createRoom(t, &name, b.ID)
			wb := e.wsConnect(t, protoTransportWS, b)
			wb.subscribe("ev", roomEventsOp, map[string]any{"r": r.ID, "after": cb.eventsCursor(t, r.ID)})
			wc := e.wsConnect(t, protoTransportWS, c)
			wc.subscribe("ev", roomEventsOp, map[string]any{"r": r.ID, "after": cc.eventsCursor(t, r.ID)})
			// Typing is live only, and nothing says a subscription is live:
			// once a change has arrived (replayed or live), it is.
			x := ca.send(t, r.ID, "x")
			for _, ws := range []*wsClient{wb, wc} {
				if ev := ws.roomEvent("ev"); ev.Typename != "MessageEvent" || ev.Message.ID != x.ID {
					t.Fatalf("first: %v", ev)
				}
			}

			ca.do(t, typingOp, map[string]any{"r": r.ID, "t": true})
			if ev := wb.roomEvent("ev"); ev.Typename != "TypingEvent" || !ev.Typing {
				t.Fatalf("typing: %v", ev)
			}
			if ev := wb.roomEvent("ev"); ev.Typename != "TypingEvent" || ev.Typing || ev.User.ID != a.ID {
				t.Fatalf("not renewed: %v, want typing false", ev)
			}

			// c types, then leaves: b sees c stop, the room change and the
			// SYSTEM message; c's stream ends.
			cc.do(t, typingOp, map[string]any{"r": r.ID, "t": true})
			if ev := wb.roomEvent("ev"); !ev.Typing || ev.User.ID != c.ID {
				t.Fatalf("c typing: %v", ev)
			}
			cc.do(t, wsLeaveOp, map[string]any{"r": r.ID})
			var stopped, changed, system bool
			for !stopped || !changed || !system {
				switch ev := wb.roomEvent("ev"); {
				case ev.Typename == "TypingEvent" && !ev.Typing && ev.User.ID == c.ID:
					stopped = true
				case ev.Typename == "RoomChangedEvent" && len(ev.Room.Members) == 2:
					changed = true
				case ev.Typename == "MessageEvent" && ev.Message.Kind == "SYSTEM":
					system = true
				default:
					t.Fatalf("after c left: %v", ev)
				}
			}
			for { // the leaver's stream ends; it never told c of c's own typing
				f := wc.mustNextFor("ev")
				if f.Type == "complete" {
					break
				}
				var ev struct{ RoomEvents roomEv }
				data, _ := f.result()
				if f.Type != "next" || json.Unmarshal(data, &ev) != nil || (ev.RoomEvents.User != nil && ev.RoomEvents.User.ID == c.ID) {
					t.Fatalf("the leaver's stream: %v", f)
				}
			}
			ca.send(t, r.ID, "after c left")
			wc.subscribe("again", roomEventsOp, map[string]any{"r": r.ID})
			if code := wc.refused("again"); code != "NOT_FOUND" {
				t.Fatalf("subscribing to a room one left: %q", code)
			}

			// Refusals.
			we := e.wsConnect(t, protoTransportWS, eve)
			we.subscribe("out", roomEventsOp, map[string]any{"r": r.ID})
			if code := we.refused("out"); code != "NOT_FOUND" {
				t.Errorf("outsider: %q", code)
			}
			if code := e.client(eve).do(t, typingOp, map[string]any{"r": r.ID, "t": true}).Code(); code != "NOT_FOUND" {
				t.Errorf("outsider typing: %q", code)
			}
			for name, cur := range map[string]string{
				"another room's cursor": cb.eventsCursor(t, other.ID),
				"a message page cursor": cb.wsLastCursor(t, r.ID),
				"a cursor from the future": func() string {
					var id int
					fmt.Sscan(r.ID, &id)
					return cursorString(ent.Cursor{ID: id, Value: int64(1 << 40)})
				}(),
				"garbage": "bm90IGEgY3Vyc29y",
			} {
				wb.subscribe(name, roomEventsOp, map[string]any{"r": r.ID, "after": cur})
				if code := wb.refused(name); code != "BAD_USER_INPUT" {
					t.Errorf("%s: %q, want BAD_USER_INPUT", name, code)
				}
			}
		})
	}
}

// cursorRevision reads the revision out of a roomEvents cursor (opaque to
// clients; the test looks inside to check the order).
func cursorRevision(t *testing.T, s string) int64 {
	t.Helper()
	var c ent.Cursor
	if err := c.UnmarshalGQL(s); err != nil {
		t.Fatalf("cursor %q: %v", s, err)
	}
	switch v := c.Value.(type) {
	case nil:
		return 0
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case int64:
		return v
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint64:
		return int64(v)
	}
	t.Fatalf("cursor %q holds %T", s, c.Value)
	return 0
}

func cursorString(c ent.Cursor) string {
	var b strings.Builder
	c.MarshalGQL(&b)
	return strings.Trim(b.String(), `"`)
}

// msgState is what a client knows of one message.
type msgState struct {
	Body    string
	Deleted bool
}

// A reader that disconnects at random moments while others add, edit and
// delete messages, and resumes each time with the cursor of the last event
// it got, ends with exactly the server's state of every message, having
// seen the changes in revision order and none twice.
func TestRoomEventsResumeUnderConcurrentChanges(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) { resumeUnderChanges(t, e) })
}

// The same across two instances sharing a database and a Redis: writers
// write through both, the reader comes back through either, so changes
// reach it out of order across the broker; and typing crosses over.
func TestRoomEventsAcrossInstances(t *testing.T) {
	url := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, backend)
			prefix := testRedisPrefix(t)
			one, two := redisInstance(t, db, url, prefix), redisInstance(t, db, url, prefix)
			a, b := one.signUp(t, "typer"), one.signUp(t, "watcher")
			name := "typing across"
			r := one.client(a).createRoom(t, &name, b.ID)
			ws := one.wsConnect(t, protoTransportWS, b)
			ws.subscribe("ev", roomEventsOp, map[string]any{"r": r.ID, "after": one.client(b).eventsCursor(t, r.ID)})
			// The first event may come by replay; once one has, the stream is live.
			m := two.client(a).send(t, r.ID, "probe")
			if ev := ws.messageEvent("ev"); ev.Message.ID != m.ID {
				t.Fatalf("probe: %v", ev)
			}
			two.client(a).do(t, typingOp, map[string]any{"r": r.ID, "t": true})
			if ev := ws.roomEvent("ev"); ev.Typename != "TypingEvent" || !ev.Typing || ev.User.ID != a.ID {
				t.Fatalf("typing across instances: %v", ev)
			}
			two.client(a).do(t, typingOp, map[string]any{"r": r.ID, "t": false})
			if ev := ws.roomEvent("ev"); ev.Typename != "TypingEvent" || ev.Typing {
				t.Fatalf("stopped across instances: %v", ev)
			}
			resumeUnderChanges(t, one, two)
		})
	}
}

func resumeUnderChanges(t *testing.T, envs ...*env) {
	{
		e := envs[0]
		a, b, c := e.signUp(t, "writer-a"), e.signUp(t, "writer-b"), e.signUp(t, "reader")
		cc := e.client(c)
		name := "resume"
		r := e.client(a).createRoom(t, &name, b.ID, c.ID)
		start := cc.eventsCursor(t, r.ID)

		seed := uint64(time.Now().UnixNano()) // a new run of changes and drops each time
		t.Logf("seed %d", seed)
		const writers, each = 4, 25
		errs := make(chan error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			token := []string{a.AccessToken, b.AccessToken}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				var mine []string
				for k := range each {
					var q string
					var vars map[string]any
					switch p := rng.IntN(10); {
					case len(mine) == 0 || p < 5:
						q, vars = sendOp, map[string]any{"r": r.ID, "b": fmt.Sprintf("w%d m%d", i, k)}
					case p < 8:
						q, vars = editOp, map[string]any{"m": mine[rng.IntN(len(mine))], "b": fmt.Sprintf("w%d edit %d", i, k)}
					default:
						q, vars = deleteOp, map[string]any{"m": mine[rng.IntN(len(mine))]}
					}
					var out struct {
						Data struct {
							SendMessage struct{ ID string }
						}
						Errors []gqlError
					}
					if err := postJSON(envs[i%len(envs)], token, q, vars, &out); err != nil {
						errs <- err
						return
					}
					if len(out.Errors) > 0 && out.Errors[0].Code() != "CONFLICT" { // editing what the writer deleted
						errs <- fmt.Errorf("%s: %+v", q, out.Errors)
						return
					}
					if id := out.Data.SendMessage.ID; id != "" {
						mine = append(mine, id)
					}
				}
			}()
		}

		// Once the writers are done, one last message: the reader reads
		// until it has it.
		ended := make(chan struct{})
		go func() {
			defer close(ended)
			wg.Wait()
			var out struct{ Errors []gqlError }
			if err := postJSON(e, a.AccessToken, sendOp, map[string]any{"r": r.ID, "b": "the end"}, &out); err != nil || len(out.Errors) > 0 {
				errs <- fmt.Errorf("the last message: %v %+v", err, out.Errors)
			}
		}()
		defer func() { <-ended }()

		state := map[string]msgState{}
		cursor := start
		var rev int64 // of the last change received: strictly increasing, across sessions
		rng := rand.New(rand.NewPCG(seed, 1000))
		sessions, events := 0, 0
		for end := false; !end; {
			sessions++
			ws := envs[sessions%len(envs)].wsConnect(t, protoTransportWS, c)
			ws.subscribe("ev", roomEventsOp, map[string]any{"r": r.ID, "after": cursor})
			for n := 1 + rng.IntN(30); n > 0 && !end; n-- {
				ev := ws.messageEvent("ev")
				events++
				if got := cursorRevision(t, ev.Cursor); got <= rev {
					t.Fatalf("event %d (%v) at revision %d, after %d: out of order or repeated", events, ev, got, rev)
				} else {
					rev = got
				}
				state[ev.Message.ID] = msgState{Body: ev.Message.Body, Deleted: ev.Message.DeletedAt != nil}
				cursor = ev.Cursor
				end = ev.Message.Body == "the end"
			}
			ws.Close() // dropped at a random moment, no close frame
		}
		<-ended
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		// The server's state of every message.
		server := map[string]msgState{}
		for _, m := range cc.allMessagesFull(t, r.ID) {
			server[m.ID] = msgState{Body: m.Body, Deleted: m.DeletedAt != nil}
		}
		if len(server) != len(state) {
			t.Fatalf("the reader knows %d messages, the server holds %d", len(state), len(server))
		}
		for id, want := range server {
			if got := state[id]; got != want {
				t.Errorf("message %s: the reader has %+v, the server %+v", id, got, want)
			}
		}
		t.Logf("%d messages, %d events in %d sessions", len(server), events, sessions)
	}
}

// postJSON runs one GraphQL operation without a *testing.T (for goroutines).
func postJSON(e *env, token, query string, vars map[string]any, out any) error {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, e.URL+"/graphql", strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// allMessagesFull pages through a room with editedAt and deletedAt.
func (c *client) allMessagesFull(t *testing.T, roomID string) []changedMessage {
	t.Helper()
	const op = `query($r: ID!, $after: Cursor) { room(id: $r) { messages(first: 100, after: $after) {
		edges { node { id body kind seq editedAt deletedAt } } pageInfo { hasNextPage endCursor } } } }`
	var out []changedMessage
	var after any
	for {
		var page struct {
			Room struct {
				Messages struct {
					Edges    []struct{ Node changedMessage }
					PageInfo struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
		}
		c.do(t, op, map[string]any{"r": roomID, "after": after}).Decode(t, &page)
		for _, e := range page.Room.Messages.Edges {
			out = append(out, e.Node)
		}
		if !page.Room.Messages.PageInfo.HasNextPage {
			return out
		}
		after = page.Room.Messages.PageInfo.EndCursor
	}
}

// A database written before the change feed existed (messages without a
// revision) is backfilled on start: old rooms replay from any cursor, and
// new changes go on from there.
func TestRevisionBackfill(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "old-a"), e.signUp(t, "old-b")
		ca, cb := e.client(a), e.client(b)
		name := "old"
		r := ca.createRoom(t, &name, b.ID)
		var ids []string
		for i := range 5 {
			ids = append(ids, ca.send(t, r.ID, fmt.Sprintf("old %d", i)).ID)
		}
		ctx := context.Background()
		// As an older chatty left them.
		for _, q := range []string{`UPDATE messages SET revision = NULL`, `UPDATE rooms SET revision = 0`} {
			if _, err := e.DB.SQL.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 { // the upgrade, then a restart: idempotent
			if err := e.DB.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		var roomID int
		fmt.Sscan(r.ID, &roomID)
		wb := e.wsConnect(t, protoTransportWS, b)
		wb.subscribe("ev", roomEventsOp, map[string]any{"r": r.ID, "after": cursorString(ent.Cursor{ID: roomID, Value: int64(2)})})
		for _, id := range ids[2:] {
			if ev := wb.messageEvent("ev"); ev.Kind != "ADDED" || ev.Message.ID != id {
				t.Fatalf("replay after the upgrade: %v, want %s", ev, id)
			}
		}
		ca.edit(t, ids[0], "edited after the upgrade")
		if ev := wb.messageEvent("ev"); ev.Kind != "EDITED" || ev.Message.ID != ids[0] {
			t.Fatalf("live after the upgrade: %v", ev)
		}
		next := ca.send(t, r.ID, "new")
		if ev := wb.messageEvent("ev"); ev.Kind != "ADDED" || ev.Message.ID != next.ID {
			t.Fatalf("live after the upgrade: %v", ev)
		}
		// Replaying the whole room: each message once, at its latest change.
		ws := e.wsConnect(t, protoTransportWS, b)
		ws.subscribe("all", roomEventsOp, map[string]any{"r": r.ID, "after": cursorString(ent.Cursor{ID: roomID, Value: int64(0)})})
		want := append(append([]string{}, ids[1:]...), ids[0], next.ID)
		for _, id := range want {
			if ev := ws.messageEvent("all"); ev.Message.ID != id {
				t.Fatalf("full replay: %v, want %s", ev, id)
			}
		}
		ws.quiet("all", 100*time.Millisecond)
		_ = cb
	})
}

// A change whose publish is lost is read from the database when the next
// one shows the gap; a lost change that was superseded since is skipped
// (its message comes at its newest change), not waited for.
func TestRoomEventsFillLostChanges(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var drop atomic.Bool
			broker := pubsub.NewMemory()
			t.Cleanup(func() { broker.Close() })
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithBroker(lossyBroker{broker, func(roomEvent) bool { return drop.Load() }})}})
			a, b := e.signUp(t, "writer"), e.signUp(t, "reader")
			ca, cb := e.client(a), e.client(b)
			name := "lossy"
			r := ca.createRoom(t, &name, b.ID)
			wb := e.wsConnect(t, protoTransportWS, b)
			wb.subscribe("ev", roomEventsOp, map[string]any{"r": r.ID, "after": cb.eventsCursor(t, r.ID)})
			m1 := ca.send(t, r.ID, "one")
			if ev := wb.messageEvent("ev"); ev.Message.ID != m1.ID {
				t.Fatalf("first: %v", ev)
			}

			drop.Store(true)
			ca.edit(t, m1.ID, "lost edit")
			drop.Store(false)
			ca.edit(t, m1.ID, "second edit")
			if ev := wb.messageEvent("ev"); ev.Kind != "EDITED" || ev.Message.Body != "second edit" {
				t.Fatalf("after a lost, superseded edit: %v", ev)
			}

			drop.Store(true)
			m2 := ca.send(t, r.ID, "lost message")
			drop.Store(false)
			m3 := ca.send(t, r.ID, "three")
			for _, want := range []string{m2.ID, m3.ID} {
				if ev := wb.messageEvent("ev"); ev.Kind != "ADDED" || ev.Message.ID != want {
					t.Fatalf("after a lost message: %v, want %s", ev, want)
				}
			}
			wb.quiet("ev", 300*time.Millisecond)
		})
	}
}

// A change reaches roomEvents subscribers without a query per subscriber:
// a message, an edit, a deletion and typing cost as many statements with
// eight subscribers as with one.
func TestRoomEventsStatementsDoNotGrowWithSubscribers(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a := e.signUp(t, "sender")
		ca := e.client(a)
		room := func(n int) func() [4]int64 {
			var ids []string
			var members []account
			for i := range n {
				m := e.signUp(t, fmt.Sprintf("member %d", i))
				ids, members = append(ids, m.ID), append(members, m)
			}
			name := fmt.Sprintf("%d listeners", n)
			r := ca.createRoom(t, &name, ids...)
			var sockets []*wsClient
			for _, m := range members {
				ws := e.wsConnect(t, protoTransportWS, m)
				ws.subscribe("ev", roomEventsOp, map[string]any{"r": r.ID, "after": e.client(m).eventsCursor(t, r.ID)})
				sockets = append(sockets, ws)
			}
			all := func(what string, ok func(roomEv) bool) {
				for _, ws := range sockets {
					if ev := ws.roomEvent("ev"); !ok(ev) {
						t.Fatalf("%s: got %v", what, ev)
					}
				}
			}
			return func() (spent [4]int64) {
				before := counter.n.Load()
				sent := ca.send(t, r.ID, "hello")
				all("send", func(ev roomEv) bool { return ev.Kind == "ADDED" && ev.Message.ID == sent.ID })
				spent[0] = counter.n.Load() - before
				before = counter.n.Load()
				ca.edit(t, sent.ID, "hello, edited")
				all("edit", func(ev roomEv) bool { return ev.Kind == "EDITED" && ev.Message.ID == sent.ID })
				spent[1] = counter.n.Load() - before
				before = counter.n.Load()
				ca.deleteMsg(t, sent.ID)
				all("delete", func(ev roomEv) bool { return ev.Kind == "DELETED" && ev.Message.ID == sent.ID })
				spent[2] = counter.n.Load() - before
				before = counter.n.Load()
				ca.do(t, typingOp, map[string]any{"r": r.ID, "t": true})
				all("typing", func(ev roomEv) bool { return ev.Typename == "TypingEvent" && ev.Typing })
				ca.do(t, typingOp, map[string]any{"r": r.ID, "t": false})
				all("stopped", func(ev roomEv) bool { return ev.Typename == "TypingEvent" && !ev.Typing })
				spent[3] = counter.n.Load() - before
				return spent
			}
		}
		one, eight := room(1), room(8)
		one() // every stream is past its replay
		eight()
		c1, c8 := one(), eight()
		t.Logf("statements for send, edit, delete, typing: %v with 1 subscriber, %v with 8", c1, c8)
		if c8 != c1 {
			t.Fatalf("statements %v with 8 subscribers, %v with 1: something is read per subscriber", c8, c1)
		}
	})
}

// Typing renewals are relayed at most once a second per user and room: a
// burst of setTyping(true) is one event on the broker; a stop and a start
// right after it are relayed.
func TestTypingIsRateLimited(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var relayed atomic.Int64
			broker := pubsub.NewMemory()
			t.Cleanup(func() { broker.Close() })
			count := func(e roomEvent) bool {
				if e.Type == "typing" {
					relayed.Add(1)
				}
				return false
			}
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithBroker(lossyBroker{broker, count})}})
			a, b := e.signUp(t, "fast typer"), e.signUp(t, "reader")
			ca := e.client(a)
			r := ca.createRoom(t, nil, b.ID)
			other := ca.createRoom(t, func() *string { s := "other"; return &s }(), b.ID)
			began := time.Now()
			for range 10 {
				var ok struct{ SetTyping bool }
				ca.do(t, typingOp, map[string]any{"r": r.ID, "t": true}).Decode(t, &ok)
				if !ok.SetTyping {
					t.Fatal("setTyping answered false")
				}
			}
			// One, and one more per second the burst took (on a slow machine).
			if n, most := relayed.Load(), 1+int64(time.Since(began)/time.Second); n < 1 || n > most {
				t.Fatalf("10 setTyping(true) in %v relayed %d times, want 1 to %d", time.Since(began), n, most)
			}
			relayed.Store(0)
			ca.do(t, typingOp, map[string]any{"r": other.ID, "t": true}) // another room counts apart
			ca.do(t, typingOp, map[string]any{"r": r.ID, "t": false})
			ca.do(t, typingOp, map[string]any{"r": r.ID, "t": false}) // already stopped
			ca.do(t, typingOp, map[string]any{"r": r.ID, "t": true})
			if n := relayed.Load(); n != 3 {
				t.Fatalf("relayed %d typing events, want 3 (another room, a stop, a start)", n)
			}
		})
	}
}
