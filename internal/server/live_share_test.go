package server_test

import (
	"fmt"
	"strings"
	"testing"
)

// wsRealisticOp is what a chat client subscribes with: the message with
// its sender, its attachment and its room, with the room's name (per
// viewer in a room without a name of its own) and members.
const wsRealisticOp = `subscription($r: ID!, $after: Cursor) { messageAdded(roomId: $r, after: $after) {
	id seq kind body clientId createdAt
	sender { id nickname avatarURL }
	room { id kind name members { id nickname } }
	attachment { id filename contentType size url }
} }`

type wsRealistic struct {
	MessageAdded struct {
		ID, Body string
		Seq      int
		Sender   *struct{ ID, Nickname string }
		Room     struct {
			ID, Name string
			Members  []struct{ ID, Nickname string }
		}
		Attachment *struct{ ID, Filename, URL string }
	}
}

// A message reaches any number of subscribers asking for its sender,
// attachment, room name and members for the same number of statements:
// what the selection reaches on the event is read once per event, not
// once per subscriber. Each subscriber still sees the room named as it
// sees it.
func TestLiveRealisticSelectionStatementsDoNotGrowWithSubscribers(t *testing.T) {
	pdf := []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a := e.signUp(t, "sender")
		ca := e.client(a)
		// room opens a room of a and n others (named, or not: then each
		// member sees it called after the others), each listening to it
		// with the realistic selection, and returns a function that sends a
		// message (with a file when file is set) and counts the statements
		// spent until every listener has it.
		room := func(n int, named bool) func(file bool) int64 {
			var ids []string
			var members []account
			for i := range n {
				m := e.signUp(t, fmt.Sprintf("member %d of %d", i, n))
				ids, members = append(ids, m.ID), append(members, m)
			}
			var name *string
			if named {
				s := fmt.Sprintf("%d listeners", n)
				name = &s
			}
			r := ca.createRoom(t, name, ids...)
			ca.send(t, r.ID, "opening")
			after := ca.wsLastCursor(t, r.ID)
			var sockets []*wsClient
			for _, m := range members {
				ws := e.wsConnect(t, protoTransportWS, m)
				ws.subscribe("m", wsRealisticOp, map[string]any{"r": r.ID, "after": after})
				sockets = append(sockets, ws)
			}
			return func(file bool) int64 {
				before := counter.n.Load()
				var sentID string
				if file {
					var out struct{ SendFile struct{ ID string } }
					ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil, "cap": "notes"}, "f", "notes.pdf", pdf).Decode(t, &out)
					sentID = out.SendFile.ID
				} else {
					sentID = ca.send(t, r.ID, "hello").ID
				}
				for i, ws := range sockets {
					var got wsRealistic
					ws.data("m", &got)
					m := got.MessageAdded
					if m.ID != sentID || m.Sender == nil || m.Sender.ID != a.ID || len(m.Room.Members) != n+1 {
						t.Fatalf("member %d got %+v, want message %s from %s in a room of %d", i, m, sentID, a.ID, n+1)
					}
					if file && (m.Attachment == nil || m.Attachment.Filename != "notes.pdf" || m.Attachment.URL == "") {
						t.Fatalf("member %d got attachment %+v, want notes.pdf", i, m.Attachment)
					}
					switch {
					case named && m.Room.Name != *name:
						t.Fatalf("member %d sees the room called %q, want %q", i, m.Room.Name, *name)
					case !named && (strings.Contains(m.Room.Name, members[i].Nickname) || !strings.Contains(m.Room.Name, a.Nickname)):
						t.Fatalf("member %q sees the room called %q: not named after the others", members[i].Nickname, m.Room.Name)
					}
				}
				return counter.n.Load() - before
			}
		}
		for _, named := range []bool{true, false} {
			two, eight := room(2, named), room(8, named) // groups both
			two(false)                                   // every stream is past its replay
			eight(false)
			for _, file := range []bool{false, true} {
				c2, c8 := two(file), eight(file)
				t.Logf("named room %v, file %v: statements per message: %d with 2 listeners, %d with 8", named, file, c2, c8)
				if c8 != c2 {
					t.Fatalf("named room %v, file %v: a message costs %d statements with 8 listeners, %d with 2: something is read per subscriber", named, file, c8, c2)
				}
			}
		}
	})
}

// Subscribers sharing one operation still see only what is theirs: the
// sender's friendship is SELF for the sender alone, and a room without a
// name of its own is named, for each member, after the others.
func TestLiveSharedResponsesKeepViewerFields(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "alice"), e.signUp(t, "bob"), e.signUp(t, "carol")
		ca := e.client(a)
		r := ca.createRoom(t, nil, b.ID, c.ID)
		ca.send(t, r.ID, "opening")
		after := ca.wsLastCursor(t, r.ID)
		friendship := `subscription($r: ID!, $after: Cursor) { messageAdded(roomId: $r, after: $after) { id sender { id friendship } } }`
		name := `subscription($r: ID!, $after: Cursor) { messageAdded(roomId: $r, after: $after) { id room { name } } }`
		// Each member twice: a viewer's second socket takes the response
		// made for their first (or for everyone) as it is.
		members := []account{a, b, c, a, b, c}
		sockets := map[int]*wsClient{}
		for i, m := range members {
			ws := e.wsConnect(t, protoTransportWS, m)
			ws.subscribe("f", friendship, map[string]any{"r": r.ID, "after": after})
			ws.subscribe("n", name, map[string]any{"r": r.ID, "after": after})
			sockets[i] = ws
		}
		for range 3 {
			sent := ca.send(t, r.ID, "hello")
			for i, m := range members {
				var f struct {
					MessageAdded struct {
						ID     string
						Sender struct{ ID, Friendship string }
					}
				}
				var n struct {
					MessageAdded struct {
						ID   string
						Room struct{ Name string }
					}
				}
				sockets[i].data("f", &f)
				sockets[i].data("n", &n)
				if f.MessageAdded.ID != sent.ID || n.MessageAdded.ID != sent.ID || f.MessageAdded.Sender.ID != a.ID {
					t.Fatalf("%s got %+v and %+v, want message %s from %s", m.Nickname, f, n, sent.ID, a.ID)
				}
				if got := f.MessageAdded.Sender.Friendship; (m.ID == a.ID) != (got == "SELF") {
					t.Fatalf("%s sees their friendship with the sender as %s", m.Nickname, got)
				}
				if got := n.MessageAdded.Room.Name; strings.Contains(got, m.Nickname) {
					t.Fatalf("%s sees the room called %q, after themselves", m.Nickname, got)
				}
			}
		}
	})
}

// roomEvents subscribers sharing one operation see what is theirs too:
// whether they reacted themselves, and a room without a name of its own
// named after the others; the room change of a rename reads the same for
// all.
func TestLiveSharedRoomEventsKeepViewerFields(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "alice"), e.signUp(t, "bob"), e.signUp(t, "carol")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, nil, b.ID, c.ID)
		m := ca.send(t, r.ID, "opening")
		op := `subscription($r: ID!, $after: Cursor) { roomEvents(roomId: $r, after: $after) { __typename
			... on MessageEvent { kind message { id room { name } reactions { emoji count viewerReacted } } }
			... on RoomChangedEvent { room { id name } } } }`
		members := []account{a, b, c}
		sockets := map[string]*wsClient{}
		for _, mb := range members {
			ws := e.wsConnect(t, protoTransportWS, mb)
			ws.subscribe("ev", op, map[string]any{"r": r.ID, "after": e.client(mb).eventsCursor(t, r.ID)})
			sockets[mb.ID] = ws
		}
		type event struct {
			RoomEvents struct {
				Typename string `json:"__typename"`
				Kind     string
				Message  *struct {
					ID        string
					Room      struct{ Name string }
					Reactions []struct {
						Emoji         string
						Count         int
						ViewerReacted bool
					}
				}
				Room *struct{ ID, Name string }
			}
		}
		for _, reactor := range []*client{cb, ca} {
			reactor.react(t, addReactionOp, m.ID, "👍")
			for _, mb := range members {
				var ev event
				sockets[mb.ID].data("ev", &ev)
				got := ev.RoomEvents
				if got.Kind != "REACTIONS_CHANGED" || got.Message == nil || got.Message.ID != m.ID || len(got.Message.Reactions) != 1 {
					t.Fatalf("%s got %+v", mb.Nickname, got)
				}
				mine := mb.ID == b.ID || (mb.ID == a.ID && reactor == ca)
				if rs := got.Message.Reactions[0]; rs.ViewerReacted != mine {
					t.Fatalf("%s sees viewerReacted %v (count %d)", mb.Nickname, rs.ViewerReacted, rs.Count)
				}
				if name := got.Message.Room.Name; strings.Contains(name, mb.Nickname) {
					t.Fatalf("%s sees the room called %q, after themselves", mb.Nickname, name)
				}
			}
		}
		ca.do(t, renameOp, map[string]any{"r": r.ID, "n": "named now"})
		for _, mb := range members {
			for seen := false; !seen; {
				var ev event
				sockets[mb.ID].data("ev", &ev)
				switch got := ev.RoomEvents; {
				case got.Typename == "RoomChangedEvent":
					if got.Room == nil || got.Room.ID != r.ID || got.Room.Name != "named now" {
						t.Fatalf("%s got %+v", mb.Nickname, got.Room)
					}
					seen = true
				case got.Typename != "MessageEvent" || got.Kind != "ADDED":
					t.Fatalf("%s got %+v", mb.Nickname, got)
				}
			}
		}
	})
}
