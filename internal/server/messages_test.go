package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const (
	nodeOp  = `query($id: ID!) { node(id: $id) { id ... on Room { name } ... on Message { body kind sender { id } } } }`
	nodesOp = `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Room { name } ... on Message { body } } }`
)

// sendKeyed sends body with an idempotency key.
func (c *client) sendKeyed(t *testing.T, roomID, body, clientID string) messageData {
	t.Helper()
	var out struct{ SendMessage messageData }
	c.do(t, sendOp, map[string]any{"r": roomID, "b": body, "c": clientID}).Decode(t, &out)
	return out.SendMessage
}

// allMessages pages forward through a room, size messages at a time.
func (c *client) allMessages(t *testing.T, roomID string, size int) []messageData {
	t.Helper()
	var out []messageData
	vars := map[string]any{"first": size}
	for page := 0; ; page++ {
		conn := c.messages(t, roomID, vars)
		if page > conn.TotalCount/size+1 {
			t.Fatalf("paging through %d messages, %d at a time, does not end", conn.TotalCount, size)
		}
		for _, e := range conn.Edges {
			out = append(out, e.Node)
		}
		if !conn.PageInfo.HasNextPage {
			return out
		}
		vars = map[string]any{"first": size, "after": *conn.PageInfo.EndCursor}
	}
}

func TestSendMessageBody(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "보내는이"), e.signUp(t, "받는이")
		ca := e.client(a)
		r := ca.createRoom(t, nil, b.ID)

		if m := ca.send(t, r.ID, " \n\t 안녕하세요 \n "); m.Body != "안녕하세요" {
			t.Errorf("body %q, want it trimmed to 안녕하세요", m.Body)
		}
		mixed := "한글 English 😀 👨‍👩‍👧 ❤️ 끝"
		if m := ca.send(t, r.ID, mixed); m.Body != mixed {
			t.Errorf("body %q did not round-trip, want %q", m.Body, mixed)
		}
		longest := strings.Repeat("가", 4000) // 4000 characters, 12000 bytes
		if m := ca.send(t, r.ID, "  "+longest+"\n"); m.Body != longest {
			t.Errorf("a 4000-character body came back with %d characters", len([]rune(m.Body)))
		}
		emoji := strings.Repeat("😀", 4000) // 4000 characters, 16000 bytes
		if m := ca.send(t, r.ID, emoji); m.Body != emoji {
			t.Errorf("a 4000-emoji body came back with %d characters", len([]rune(m.Body)))
		}

		for name, body := range map[string]string{
			"empty":           "",
			"only whitespace": " \n\t ",
			"4001 characters": longest + "나",
			"4001 emoji":      emoji + "😀",
		} {
			resp := ca.do(t, sendOp, map[string]any{"r": r.ID, "b": body})
			if resp.Code() != "BAD_USER_INPUT" || string(resp.Data) != "null" {
				t.Errorf("%s body: %.300s", name, resp.Raw)
			}
		}
		if got := ca.messages(t, r.ID, nil); got.TotalCount != 4 {
			t.Errorf("the room holds %d messages after 4 good sends and 4 refused ones", got.TotalCount)
		}
	})
}

func TestSendMessageToNoRoom(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.signUp(t, "길잃은이")
		ca := e.client(a)
		unknown := unknownID(t, a.ID)
		for _, c := range []struct {
			name string
			r    gqlResponse
			code string
		}{
			{"unknown room", ca.do(t, sendOp, map[string]any{"r": unknown, "b": "hello"}), "NOT_FOUND"},
			{"a user's id", ca.do(t, sendOp, map[string]any{"r": a.ID, "b": "hello"}), "NOT_FOUND"},
			{"unknown room with a clientId", ca.do(t, sendOp, map[string]any{"r": unknown, "b": "hello", "c": "k"}), "NOT_FOUND"},
			{"malformed room id", ca.do(t, sendOp, map[string]any{"r": "room-1", "b": "hello"}), "BAD_USER_INPUT"},
			{"negative room id", ca.do(t, sendOp, map[string]any{"r": "-5", "b": "hello"}), "BAD_USER_INPUT"},
			{"anonymous", e.anon().do(t, sendOp, map[string]any{"r": unknown, "b": "hello"}), "UNAUTHENTICATED"},
			{"markRoomRead of an unknown room", ca.do(t, markReadOp, map[string]any{"r": unknown}), "NOT_FOUND"},
			{"markRoomRead of a malformed id", ca.do(t, markReadOp, map[string]any{"r": "x"}), "BAD_USER_INPUT"},
			{"anonymous markRoomRead", e.anon().do(t, markReadOp, map[string]any{"r": unknown}), "UNAUTHENTICATED"},
		} {
			if c.r.Code() != c.code || string(c.r.Data) != "null" {
				t.Errorf("%s: %s, want %s", c.name, c.r.Raw, c.code)
			}
		}
	})
}

func TestClientIDMakesSendingIdempotent(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "재전송"), e.signUp(t, "상대")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, nil, b.ID)
		other := ca.createRoom(t, ptr("다른 방"), b.ID)

		first := ca.sendKeyed(t, r.ID, "처음", "key-1")
		if first.ClientID == nil || *first.ClientID != "key-1" || first.Seq != 1 {
			t.Fatalf("first send = %+v", first)
		}
		// A retry, even with another body, answers with the first message.
		again := ca.sendKeyed(t, r.ID, "다시", "key-1")
		if again.ID != first.ID || again.Seq != first.Seq || again.Body != "처음" {
			t.Fatalf("retry = %+v, want the first message %+v", again, first)
		}
		// The same key from someone else, or in another room, is another message.
		if m := cb.sendKeyed(t, r.ID, "b의 메시지", "key-1"); m.ID == first.ID || m.Seq != 2 || m.Sender.ID != b.ID {
			t.Fatalf("b's send with a's key = %+v", m)
		}
		if m := ca.sendKeyed(t, other.ID, "다른 방에서", "key-1"); m.ID == first.ID || m.Room.ID != other.ID || m.Seq != 1 {
			t.Fatalf("a's send with the same key in another room = %+v", m)
		}
		// The retry used no seq.
		if m := ca.send(t, r.ID, "셋째"); m.Seq != 3 {
			t.Fatalf("seq after a retried send = %d, want 3", m.Seq)
		}
		if got := cb.messages(t, r.ID, nil); seqs(got) != "1,2,3" || got.Edges[0].Node.Body != "처음" {
			t.Fatalf("room holds %s", seqs(got))
		}

	})
}

// clientId is limited to 64 characters, counted as characters, not bytes.
func TestClientIDLength(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "키쟁이"), e.signUp(t, "상대방")
		ca := e.client(a)
		r := ca.createRoom(t, nil, b.ID)
		if m := ca.sendKeyed(t, r.ID, "짧은 키", strings.Repeat("k", 64)); m.ClientID == nil || len(*m.ClientID) != 64 {
			t.Fatalf("a 64-letter clientId came back as %v", m.ClientID)
		}
		if m := ca.do(t, sendOp, map[string]any{"r": r.ID, "b": "긴 키", "c": strings.Repeat("k", 65)}); m.Code() != "BAD_USER_INPUT" {
			t.Errorf("a 65-letter clientId: %s", m.Raw)
		}
		korean := strings.Repeat("키", 64)
		// 64 Korean characters are 192 bytes: still a valid key.
		if m := ca.do(t, sendOp, map[string]any{"r": r.ID, "b": "한글 키", "c": korean}); m.Code() != "" {
			t.Errorf("a 64-character Korean clientId: %s", m.Raw)
		}
		if m := ca.do(t, sendOp, map[string]any{"r": r.ID, "b": "긴 한글 키", "c": korean + "키"}); m.Code() != "BAD_USER_INPUT" {
			t.Errorf("a 65-character Korean clientId: %s", m.Raw)
		}
	})
}

func TestConcurrentSendsWithOneClientID(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "급한이"), e.signUp(t, "기다리는이")
		ca := e.client(a)
		r := ca.createRoom(t, nil, b.ID)

		reqs := make([]request, 10)
		for i := range reqs {
			reqs[i] = request{ca, sendOp, map[string]any{"r": r.ID, "b": fmt.Sprintf("시도 %d", i), "c": "double-click"}}
		}
		var id string
		for i, resp := range concurrently(t, reqs...) {
			var out struct{ SendMessage messageData }
			resp.Decode(t, &out)
			if i == 0 {
				id = out.SendMessage.ID
			}
			if out.SendMessage.ID != id || out.SendMessage.Seq != 1 {
				t.Errorf("send %d answered %+v, want message %s at seq 1", i, out.SendMessage, id)
			}
		}
		if got := e.client(b).messages(t, r.ID, nil); got.TotalCount != 1 || got.Edges[0].Node.ID != id {
			t.Fatalf("after 10 sends with one key the room holds %d messages (%s)", got.TotalCount, seqs(got))
		}
		if m := ca.send(t, r.ID, "다음"); m.Seq != 2 {
			t.Fatalf("the next message has seq %d, want 2", m.Seq)
		}
	})
}

// Four members send ten messages each, all at once: every message gets its
// own seq, and together they are 1..40 with nothing missing.
func TestSeqUnderConcurrentSenders(t *testing.T) {
	const senders, each = 4, 10
	forEachDB(t, func(t *testing.T, e *env) {
		users := make([]account, senders)
		ids := make([]string, senders)
		for i := range users {
			users[i] = e.signUp(t, fmt.Sprintf("발신자%d", i))
			ids[i] = users[i].ID
		}
		r := e.client(users[0]).createRoom(t, nil, ids[1:]...)

		var reqs []request
		for i, u := range users {
			for j := range each {
				reqs = append(reqs, request{e.client(u), sendOp, map[string]any{"r": r.ID, "b": fmt.Sprintf("%d-%d", i, j)}})
			}
		}
		seen := map[int]string{}
		for _, resp := range concurrently(t, reqs...) {
			var out struct{ SendMessage messageData }
			resp.Decode(t, &out)
			if prev, dup := seen[out.SendMessage.Seq]; dup {
				t.Errorf("seq %d given to %q and %q", out.SendMessage.Seq, prev, out.SendMessage.Body)
			}
			seen[out.SendMessage.Seq] = out.SendMessage.Body
		}

		all := e.client(users[3]).allMessages(t, r.ID, 15)
		bodies := map[string]bool{}
		for i, m := range all {
			if m.Seq != i+1 {
				t.Fatalf("message %d of the room has seq %d; seqs are %v", i, m.Seq, seqsOf(all))
			}
			if seen[m.Seq] != m.Body || bodies[m.Body] {
				t.Fatalf("seq %d holds %q, the send was answered with %q", m.Seq, m.Body, seen[m.Seq])
			}
			bodies[m.Body] = true
		}
		if len(all) != senders*each {
			t.Fatalf("the room holds %d messages, want %d", len(all), senders*each)
		}
	})
}

func seqsOf(ms []messageData) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func TestMessagesPaging(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "수다쟁이"), e.signUp(t, "독자")
		cb := e.client(b)
		r := e.client(a).createRoom(t, nil, b.ID)
		for i := 1; i <= 25; i++ {
			e.client(a).send(t, r.ID, fmt.Sprintf("메시지 %d", i))
		}
		seqRange := func(from, to int) string {
			var s []string
			for i := from; i <= to; i++ {
				s = append(s, strconv.Itoa(i))
			}
			return strings.Join(s, ",")
		}
		check := func(name string, c connData, want string, hasPrev, hasNext bool) {
			t.Helper()
			if got := seqs(c); got != want {
				t.Fatalf("%s: seqs %s, want %s", name, got, want)
			}
			if c.TotalCount != 25 {
				t.Errorf("%s: totalCount %d, want 25", name, c.TotalCount)
			}
			if c.PageInfo.HasPreviousPage != hasPrev || c.PageInfo.HasNextPage != hasNext {
				t.Errorf("%s: hasPreviousPage %v hasNextPage %v, want %v %v", name,
					c.PageInfo.HasPreviousPage, c.PageInfo.HasNextPage, hasPrev, hasNext)
			}
			if len(c.Edges) > 0 && (*c.PageInfo.StartCursor != c.Edges[0].Cursor || *c.PageInfo.EndCursor != c.Edges[len(c.Edges)-1].Cursor) {
				t.Errorf("%s: start and end cursors are not those of the first and last edges", name)
			}
		}

		// Without arguments: the newest 20, oldest first.
		check("no arguments", cb.messages(t, r.ID, nil), seqRange(6, 25), true, false)

		// Forward.
		page := cb.messages(t, r.ID, map[string]any{"first": 10})
		check("first 10", page, seqRange(1, 10), false, true)
		page = cb.messages(t, r.ID, map[string]any{"first": 10, "after": *page.PageInfo.EndCursor})
		check("next 10", page, seqRange(11, 20), true, true)
		page = cb.messages(t, r.ID, map[string]any{"first": 10, "after": *page.PageInfo.EndCursor})
		check("last forward page", page, seqRange(21, 25), true, false)
		if page := cb.messages(t, r.ID, map[string]any{"after": *page.PageInfo.EndCursor}); len(page.Edges) != 0 || page.PageInfo.HasNextPage {
			t.Errorf("after the newest message: %s, hasNextPage %v", seqs(page), page.PageInfo.HasNextPage)
		}

		// Backward.
		page = cb.messages(t, r.ID, map[string]any{"last": 10})
		check("last 10", page, seqRange(16, 25), true, false)
		page = cb.messages(t, r.ID, map[string]any{"last": 10, "before": *page.PageInfo.StartCursor})
		check("10 before", page, seqRange(6, 15), true, true)
		page = cb.messages(t, r.ID, map[string]any{"last": 10, "before": *page.PageInfo.StartCursor})
		check("oldest page", page, seqRange(1, 5), false, true)

		check("first 100", cb.messages(t, r.ID, map[string]any{"first": 100}), seqRange(1, 25), false, false)
		check("last 100", cb.messages(t, r.ID, map[string]any{"last": 100}), seqRange(1, 25), false, false)

		// A cursor of one page reads the same from the other direction.
		mid := cb.messages(t, r.ID, map[string]any{"first": 12}).PageInfo.EndCursor
		check("after seq 12", cb.messages(t, r.ID, map[string]any{"first": 3, "after": *mid}), "13,14,15", true, true)
		check("before seq 12", cb.messages(t, r.ID, map[string]any{"last": 3, "before": *mid}), "9,10,11", true, true)

		for name, vars := range map[string]map[string]any{
			"first 101":           {"first": 101},
			"first -1":            {"first": -1},
			"last 101":            {"last": 101},
			"last -1":             {"last": -1},
			"first and last":      {"first": 5, "last": 5},
			"garbage cursor":      {"first": 5, "after": "not a cursor!"},
			"base64 of no cursor": {"first": 5, "after": "aGVsbG8gd29ybGQ"},
			"empty cursor":        {"last": 5, "before": ""},
			"cursor of a number":  {"first": 5, "after": 12},
		} {
			vars["r"] = r.ID
			resp := cb.do(t, roomMessages, vars)
			if resp.Code() != "BAD_USER_INPUT" || strings.Contains(resp.Raw, "메시지") {
				t.Errorf("%s: %.300s", name, resp.Raw)
			}
		}
	})
}

func TestUnreadCountAndMarkRoomRead(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c, d := e.signUp(t, "읽는이"), e.signUp(t, "말하는이"), e.signUp(t, "떠나는이"), e.signUp(t, "새로온이")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, ptr("읽기 테스트"), b.ID, c.ID)
		other := ca.createRoom(t, nil, b.ID)

		first := cb.send(t, r.ID, "하나")
		cb.send(t, r.ID, "둘")
		ca.send(t, r.ID, "내 메시지")    // a's own: never unread for a
		ca.addMembers(t, r.ID, d.ID) // a SYSTEM message
		e.client(c).leave(t, r.ID)   // another
		elsewhere := cb.send(t, other.ID, "다른 방")

		unread := func(cl *client, roomID string) int {
			t.Helper()
			return cl.room(t, roomID).UnreadCount
		}
		if n := unread(ca, r.ID); n != 2 {
			t.Errorf("a's unread = %d, want 2 (b's two messages; not a's own, not the SYSTEM ones)", n)
		}
		if n := unread(cb, r.ID); n != 1 {
			t.Errorf("b's unread = %d, want 1 (a's message)", n)
		}
		if n := unread(e.client(d), r.ID); n != 0 {
			t.Errorf("the new member's unread = %d, want 0 (only SYSTEM messages since they joined)", n)
		}
		// The rooms list says the same as room(id).
		var rooms struct {
			Rooms struct {
				Edges []struct {
					Node struct {
						ID          string
						UnreadCount int
					}
				}
			}
		}
		ca.do(t, roomsOp, nil).Decode(t, &rooms)
		for _, ed := range rooms.Rooms.Edges {
			if want := map[string]int{r.ID: 2, other.ID: 1}[ed.Node.ID]; ed.Node.UnreadCount != want {
				t.Errorf("rooms: room %s has unreadCount %d, want %d", ed.Node.ID, ed.Node.UnreadCount, want)
			}
		}

		// A message of another room, or no message, is NOT_FOUND and moves nothing.
		for name, m := range map[string]string{"message of another room": elsewhere.ID, "unknown message": unknownID(t, elsewhere.ID), "a room's id": other.ID} {
			if resp := ca.do(t, markReadOp, map[string]any{"r": r.ID, "m": m}); resp.Code() != "NOT_FOUND" {
				t.Errorf("markRoomRead with a %s: %s", name, resp.Raw)
			}
		}
		if n := unread(ca, r.ID); n != 2 {
			t.Errorf("a's unread after refused markRoomRead = %d, want 2", n)
		}

		var mr struct {
			MarkRoomRead struct {
				ID          string
				UnreadCount int
			}
		}
		ca.do(t, markReadOp, map[string]any{"r": r.ID, "m": first.ID}).Decode(t, &mr)
		if mr.MarkRoomRead.ID != r.ID || mr.MarkRoomRead.UnreadCount != 1 {
			t.Errorf("after reading the first message: %+v, want unread 1", mr.MarkRoomRead)
		}
		ca.do(t, markReadOp, map[string]any{"r": r.ID}).Decode(t, &mr)
		if mr.MarkRoomRead.UnreadCount != 0 {
			t.Errorf("after reading everything: unread %d", mr.MarkRoomRead.UnreadCount)
		}
		if n := unread(ca, other.ID); n != 1 {
			t.Errorf("reading one room changed the other's unread to %d", n)
		}
		cb.send(t, r.ID, "셋")
		if n := unread(ca, r.ID); n != 1 {
			t.Errorf("after a new message: unread %d, want 1", n)
		}
	})
}

func TestLastMessage(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "첫째"), e.signUp(t, "둘째"), e.signUp(t, "셋째")
		ca, cc := e.client(a), e.client(c)
		r := ca.createRoom(t, ptr("마지막"), b.ID)
		if got := ca.room(t, r.ID).LastMessage; got != nil {
			t.Fatalf("a new room's lastMessage = %+v, want null", got)
		}
		ca.send(t, r.ID, "하나")
		m := e.client(b).send(t, r.ID, "둘")
		if got := ca.room(t, r.ID).LastMessage; got == nil || got.ID != m.ID || got.Body != "둘" || got.Sender.ID != b.ID {
			t.Fatalf("lastMessage = %+v, want %+v", got, m)
		}
		// A new member's last message is the first they may read.
		ca.addMembers(t, r.ID, c.ID)
		got := cc.room(t, r.ID).LastMessage
		if got == nil || got.Kind != "SYSTEM" || got.Sender != nil || got.Seq != 3 {
			t.Fatalf("the new member's lastMessage = %+v, want the SYSTEM message at seq 3", got)
		}
		mine := cc.send(t, r.ID, "안녕하세요")
		if got := ca.room(t, r.ID).LastMessage; got == nil || got.ID != mine.ID {
			t.Fatalf("lastMessage after c's message = %+v", got)
		}
	})
}

func TestSenderOfADeletedAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "남는이"), e.signUp(t, "탈퇴자")
		ca := e.client(a)
		r := ca.createRoom(t, nil, b.ID)
		gone := e.client(b).send(t, r.ID, "잘 있어요 👋")
		ca.send(t, r.ID, "잘 가요")

		var del struct{ DeleteAccount bool }
		e.client(b).do(t, deleteAccountOp, map[string]any{"p": b.Password}).Decode(t, &del)

		page := ca.messages(t, r.ID, nil)
		if seqs(page) != "1,2" {
			t.Fatalf("after b deleted their account a sees %s", seqs(page))
		}
		if m := page.Edges[0].Node; m.ID != gone.ID || m.Body != "잘 있어요 👋" || m.Kind != "TEXT" || m.Sender != nil {
			t.Errorf("b's message is now %+v, want the same text without a sender", m)
		}
		if m := page.Edges[1].Node; m.Sender == nil || m.Sender.ID != a.ID {
			t.Errorf("a's message lost its sender: %+v", m)
		}
		var n struct {
			Node *struct {
				Body   string
				Sender *struct{ ID string }
			}
		}
		ca.do(t, nodeOp, map[string]any{"id": gone.ID}).Decode(t, &n)
		if n.Node == nil || n.Node.Body != "잘 있어요 👋" || n.Node.Sender != nil {
			t.Errorf("node(id) of b's message = %+v", n.Node)
		}
		if got := ca.room(t, r.ID); len(got.Members) != 1 || got.Members[0].ID != a.ID {
			t.Errorf("members after b deleted their account: %+v", got.Members)
		}
	})
}

// A message of a room the viewer is not in is NOT_FOUND through node and
// nodes, and its text never shows.
func TestMessageNodeOfAnotherRoom(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, eve := e.signUp(t, "앨리스"), e.signUp(t, "밥이"), e.signUp(t, "이브")
		r := e.client(a).createRoom(t, ptr("비밀의 방"), b.ID)
		m := e.client(b).send(t, r.ID, "아무도 모르는 이야기")

		var n struct{ Node *struct{ Body string } }
		e.client(a).do(t, nodeOp, map[string]any{"id": m.ID}).Decode(t, &n)
		if n.Node == nil || n.Node.Body != "아무도 모르는 이야기" {
			t.Fatalf("a member's node(id) = %+v", n.Node)
		}

		ce := e.client(eve)
		resp := ce.do(t, nodeOp, map[string]any{"id": m.ID})
		if resp.Code() != "NOT_FOUND" || string(resp.Data) != `{"node":null}` {
			t.Errorf("eve's node(message): %s", resp.Raw)
		}
		mustNotContain(t, resp.Raw, "아무도 모르는", "비밀의 방")

		resp = ce.do(t, nodesOp, map[string]any{"ids": []string{m.ID, r.ID, a.ID}})
		var ns struct{ Nodes []*struct{ ID string } }
		resp.DecodeData(t, &ns)
		if len(ns.Nodes) != 3 || ns.Nodes[0] != nil || ns.Nodes[1] != nil || ns.Nodes[2] == nil || ns.Nodes[2].ID != a.ID {
			t.Errorf("eve's nodes(message, room, user): %s", resp.Raw)
		}
		if len(resp.Errors) != 2 || resp.Errors[0].Code() != "NOT_FOUND" || resp.Errors[1].Code() != "NOT_FOUND" {
			t.Errorf("eve's nodes(message, room, user) errors: %s", resp.Raw)
		}
		mustNotContain(t, resp.Raw, "아무도 모르는", "비밀의 방")
	})
}

// unknownID is an id of the same kind as id that names nothing.
func unknownID(t *testing.T, id string) string {
	t.Helper()
	n, err := strconv.Atoi(id)
	if err != nil {
		t.Fatalf("id %q is not a number: the test needs another way to make an unknown id", id)
	}
	return strconv.Itoa(n + 1_000_000)
}

func ptr[T any](v T) *T { return &v }

// sortedIDs is ids sorted and joined, to compare sets (duplicates kept).
func sortedIDs(ids ...string) string {
	s := append([]string(nil), ids...)
	sort.Strings(s)
	return strings.Join(s, ",")
}

// request is one operation by one client, for concurrently.
type request struct {
	c     *client
	query string
	vars  map[string]any
}

// concurrently sends all requests at once, each from its own goroutine,
// and returns the answers in the order of reqs.
func concurrently(t *testing.T, reqs ...request) []gqlResponse {
	t.Helper()
	out := make([]gqlResponse, len(reqs))
	errs := make([]error, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = r.c.try(r.query, r.vars)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

// try is do for goroutines other than the test's: a failure to talk to the
// server is returned, not reported.
func (c *client) try(query string, vars map[string]any) (gqlResponse, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return gqlResponse{}, err
	}
	req, err := http.NewRequest(http.MethodPost, c.e.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return gqlResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return gqlResponse{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return gqlResponse{}, err
	}
	out := gqlResponse{Raw: string(raw)}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("status %d, body %q is not JSON: %w", resp.StatusCode, raw, err)
	}
	out.Status = resp.StatusCode
	return out, nil
}
