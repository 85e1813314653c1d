package server_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime/metrics"
	"testing"
)

// The web app's history query: a page of messages with what MessageItem
// and UserAvatar select (web/src/components), %s for an extra node field.
const webHistoryPageOp = `query($id: ID!) { room(id: $id) { messages(last: 50) {
  edges { cursor node { id kind body seq createdAt editedAt deletedAt clientId
    sender { id nickname avatarURL online }
    attachment { id filename contentType size width height url thumbnailURL }
    replyTo { id kind body deletedAt sender { id nickname } attachment { id filename } }
    reactions { emoji count viewerReacted } %s } }
  pageInfo { hasPreviousPage startCursor } } } }`

// goroutinesCreated is how many goroutines the process has started.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A page of history is written in the goroutine that reads it: gqlgen
// starts a goroutine per edge of a list (50 for a page, each growing its
// stack through the marshallers: a fifth of a page's CPU), graph.PageEdges
// writes the edges of a page whose reads were primed in order. The answer
// is the same as gqlgen's own (a page that also asks for each message's
// room, which no priming answers, is left to gqlgen).
func TestHistoryPageEdgesInOrder(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "alice"), e.signUp(t, "bobby")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, ptr("edges"), b.ID)
		var first string
		for i := range 60 {
			c := ca
			if i%2 == 0 {
				c = cb
			}
			in := map[string]any{"roomId": r.ID, "body": fmt.Sprint("line ", i)}
			if i%5 == 4 {
				in["replyToId"] = first
			}
			var out struct{ SendMessage struct{ ID string } }
			c.do(t, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`, map[string]any{"in": in}).Decode(t, &out)
			if i == 0 {
				first = out.SendMessage.ID
			}
			if i%7 == 0 {
				cb.do(t, addReactionOp, map[string]any{"m": out.SendMessage.ID, "e": "👍"}).Decode(t, &struct{}{})
			}
		}
		type page struct {
			Room struct {
				Messages struct {
					Edges []struct {
						Cursor string
						Node   map[string]any
					}
					PageInfo map[string]any
				}
			}
		}
		read := func(op string) (page, uint64) {
			t.Helper()
			ca.do(t, `{ viewer { id } }`, nil) // the connection is open: its goroutines are not counted
			before := goroutinesCreated()
			got := ca.do(t, op, map[string]any{"id": r.ID})
			created := goroutinesCreated() - before
			var p page
			got.Decode(t, &p)
			if n := len(p.Room.Messages.Edges); n != 50 {
				t.Fatalf("a page of %d messages, want 50: %s", n, got.Raw)
			}
			return p, created
		}
		// chatbench's page (the sender's id, nickname and avatar): every
		// object's fields resolve in line, so what goroutines the page
		// starts are gqlgen's per edge, if any.
		// The fewest of three reads, under 40: the process's other
		// goroutines (with Redis and MariaDB, the clients' and earlier
		// tests' background work, 10 to 22 in a read's time under -race)
		// start some meanwhile; a page that starts one per edge starts 54
		// or more every time.
		fewest := uint64(1 << 62)
		for range 3 {
			_, created := read(historyPageOp)
			fewest = min(fewest, created)
		}
		if fewest >= 40 {
			t.Errorf("a page of 50 messages started %d goroutines (the fewest of 3 reads), want fewer than 40 (not one per edge: gqlgen's way starts 54 or more)", fewest)
		}
		inOrder, _ := read(fmt.Sprintf(webHistoryPageOp, ""))
		gqlgens, byEdge := read(fmt.Sprintf(webHistoryPageOp, "room { id }"))
		if byEdge < 50 { // the measure tells the two ways apart
			t.Errorf("gqlgen's way started %d goroutines for a page of 50, want one per edge at least", byEdge)
		}
		replies, reacted, online := 0, 0, 0
		for i, ed := range gqlgens.Room.Messages.Edges {
			delete(ed.Node, "room")
			mine := inOrder.Room.Messages.Edges[i]
			if ed.Cursor != mine.Cursor || !reflect.DeepEqual(ed.Node, mine.Node) {
				x, _ := json.Marshal(mine)
				y, _ := json.Marshal(ed)
				t.Fatalf("edge %d differs:\n in order %s\n gqlgen's %s", i, x, y)
			}
			if ed.Node["replyTo"] != nil {
				replies++
			}
			if rs, _ := ed.Node["reactions"].([]any); len(rs) > 0 {
				reacted++
			}
			if s, _ := ed.Node["sender"].(map[string]any); s != nil && s["online"] != nil {
				online++
			}
		}
		if replies == 0 || reacted == 0 || online != 50 {
			t.Fatalf("the page holds %d replies, %d messages with reactions, %d senders with presence: the test reads too little", replies, reacted, online)
		}
		if !reflect.DeepEqual(inOrder.Room.Messages.PageInfo, gqlgens.Room.Messages.PageInfo) {
			t.Fatalf("pageInfo %v, gqlgen's %v", inOrder.Room.Messages.PageInfo, gqlgens.Room.Messages.PageInfo)
		}
	})
}
