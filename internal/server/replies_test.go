package server_test

import (
	"fmt"
	"testing"
)

const (
	replyOp = `mutation($r: ID!, $b: String!, $to: ID) { sendMessage(input: {roomId: $r, body: $b, replyToId: $to}) {
		id body replyTo { id body sender { id } } } }`
	replyFileOp = `mutation($r: ID!, $f: Upload!, $to: ID) { sendFile(input: {roomId: $r, file: $f, replyToId: $to}) {
		id kind replyTo { id body } } }`
	repliesPageOp = `query($r: ID!, $n: Int) { room(id: $r) { messages(last: $n) { edges { node { id body replyTo { id body seq } } } } } }`
)

type replyData struct {
	ID, Body, Kind string
	ReplyTo        *struct {
		ID, Body string
		Seq      int
		Sender   *struct{ ID string }
	}
}

func (c *client) reply(t *testing.T, roomID, body string, to any) gqlResponse {
	t.Helper()
	return c.do(t, replyOp, map[string]any{"r": roomID, "b": body, "to": to})
}

// A reply names a message of the same room and shows it; any other
// replyToId (another room's message, one from before the sender joined, an
// unknown or malformed id) is BAD_USER_INPUT with one message that tells
// nothing about what the id names, and nothing is sent.
func TestReplies(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c, d := e.signUp(t, "앨리스"), e.signUp(t, "밥밥"), e.signUp(t, "캐럴"), e.signUp(t, "데이브")
		ca, cb, cc, cd := e.client(a), e.client(b), e.client(c), e.client(d)
		group := ca.createRoom(t, ptr("모임"), b.ID)
		other := ca.createRoom(t, ptr("다른 방"), b.ID)
		secret := cc.createRoom(t, ptr("비밀"), d.ID)
		question := ca.send(t, group.ID, "점심 뭐 먹지?")
		elsewhere := ca.send(t, other.ID, "다른 방 이야기")
		hidden := cc.send(t, secret.ID, "아무도 모르는 이야기")

		var out struct{ SendMessage replyData }
		cb.reply(t, group.ID, "김치찌개!", question.ID).Decode(t, &out)
		if r := out.SendMessage.ReplyTo; r == nil || r.ID != question.ID || r.Body != "점심 뭐 먹지?" || r.Sender == nil || r.Sender.ID != a.ID {
			t.Fatalf("reply shows replyTo %+v", out.SendMessage.ReplyTo)
		}
		cb.reply(t, group.ID, "그냥 말", nil).Decode(t, &out)
		if out.SendMessage.ReplyTo != nil {
			t.Fatalf("a message without replyToId answers %+v", out.SendMessage.ReplyTo)
		}

		// Refused, all with the same words: the id's room stays untold.
		var refusal string
		for name, to := range map[string]string{
			"another room of the sender":  elsewhere.ID,
			"a room the sender is not in": hidden.ID,
			"an unknown id":               unknownID(t, question.ID),
			"a room id":                   group.ID,
		} {
			resp := cb.reply(t, group.ID, "답장", to)
			if resp.Code() != "BAD_USER_INPUT" || resp.Errors[0].Extensions["field"] != "replyToId" {
				t.Fatalf("reply to %s: %s", name, resp.Raw)
			}
			if refusal == "" {
				refusal = resp.Errors[0].Message
			} else if resp.Errors[0].Message != refusal {
				t.Fatalf("reply to %s is refused with %q, others with %q: the refusal tells ids apart", name, resp.Errors[0].Message, refusal)
			}
			mustNotContain(t, resp.Raw, "아무도 모르는", "비밀")
		}
		if resp := cb.reply(t, group.ID, "답장", "abc"); resp.Code() != "BAD_USER_INPUT" {
			t.Fatalf("reply to a malformed id: %s", resp.Raw)
		}
		// A non-member is NOT_FOUND before anything is said about replyToId.
		if resp := cc.reply(t, group.ID, "끼어들기", question.ID); resp.Code() != "NOT_FOUND" {
			t.Fatalf("outsider's reply: %s", resp.Raw)
		}

		// Dave joins later: what came before is not his to answer; a reply
		// that quotes it shows it to him (its sender chose to).
		ca.do(t, addMembersOp, map[string]any{"r": group.ID, "u": []string{d.ID}}).Decode(t, &struct{}{})
		if resp := cd.reply(t, group.ID, "뒤늦은 답", question.ID); resp.Code() != "BAD_USER_INPUT" || resp.Errors[0].Message != refusal {
			t.Fatalf("reply to a message from before joining: %s", resp.Raw)
		}
		var quoted struct{ SendMessage replyData }
		ca.reply(t, group.ID, "아까 질문 다시", question.ID).Decode(t, &quoted)
		var page struct {
			Room struct {
				Messages struct{ Edges []struct{ Node replyData } }
			}
		}
		cd.do(t, repliesPageOp, map[string]any{"r": group.ID, "n": 50}).Decode(t, &page)
		if n := len(page.Room.Messages.Edges); n != 2 {
			t.Fatalf("Dave sees %d messages, want his joining and the reply", n)
		}
		if got := page.Room.Messages.Edges[1].Node; got.ID != quoted.SendMessage.ID || got.ReplyTo == nil || got.ReplyTo.ID != question.ID {
			t.Fatalf("Dave reads the reply as %+v", got)
		}
		if resp := cd.do(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": question.ID}); resp.Code() != "NOT_FOUND" {
			t.Fatalf("the quoted message itself is still not Dave's: %s", resp.Raw)
		}

		// Files answer too, under the same rule.
		var file struct{ SendFile replyData }
		cb.upload(t, replyFileOp, map[string]any{"r": group.ID, "f": nil, "to": question.ID}, "f", "a.png", pngBytes(t, 4, 4)).Decode(t, &file)
		if file.SendFile.Kind != "IMAGE" || file.SendFile.ReplyTo == nil || file.SendFile.ReplyTo.ID != question.ID {
			t.Fatalf("sendFile reply: %+v", file.SendFile)
		}
		if resp := cb.upload(t, replyFileOp, map[string]any{"r": group.ID, "f": nil, "to": hidden.ID}, "f", "a.png", pngBytes(t, 4, 4)); resp.Code() != "BAD_USER_INPUT" || resp.Errors[0].Message != refusal {
			t.Fatalf("sendFile reply to a hidden message: %s", resp.Raw)
		}
	})
}

// A reply that arrives live on messageAdded, or by its replay, resolves
// its replyTo.
func TestReplyArrivesLive(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "alice"), e.signUp(t, "bobby")
		ca, cb := e.client(a), e.client(b)
		r, after := ca.wsOpenRoom(t, "live replies", b.ID)
		first := ca.send(t, r.ID, "first")
		ws := e.wsConnect(t, protoTransportWS, b)
		ws.subscribe("m", `subscription($r: ID!, $after: Cursor) { messageAdded(roomId: $r, after: $after) { id body replyTo { id body sender { id } } } }`,
			map[string]any{"r": r.ID, "after": after})
		var got struct{ MessageAdded replyData }
		ws.data("m", &got)
		if got.MessageAdded.ID != first.ID {
			t.Fatalf("first event %+v", got)
		}
		cb.reply(t, r.ID, "answer", first.ID).Decode(t, &struct{}{})
		ws.data("m", &got)
		if got.MessageAdded.Body != "answer" || got.MessageAdded.ReplyTo == nil || got.MessageAdded.ReplyTo.Body != "first" ||
			got.MessageAdded.ReplyTo.Sender == nil || got.MessageAdded.ReplyTo.Sender.ID != a.ID {
			t.Fatalf("live reply: %+v", got.MessageAdded)
		}
		ws.subscribe("again", `subscription($r: ID!, $after: Cursor) { messageAdded(roomId: $r, after: $after) { id body replyTo { id body sender { id } } } }`,
			map[string]any{"r": r.ID, "after": after})
		ws.data("again", &got)
		ws.data("again", &got)
		if got.MessageAdded.Body != "answer" || got.MessageAdded.ReplyTo == nil || got.MessageAdded.ReplyTo.Body != "first" {
			t.Fatalf("replayed reply: %+v", got.MessageAdded)
		}
	})
}

// A page of replies costs the same statements for 5 messages as for 50:
// replyTo is loaded for the whole page at once.
func TestRepliesPageStatementsDoNotGrowWithPageSize(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a, b := e.signUp(t, "alice"), e.signUp(t, "bobby")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, ptr("replies"), b.ID)
		for i := 0; i < 50; i++ {
			q := ca.send(t, r.ID, fmt.Sprintf("question %d", i))
			cb.reply(t, r.ID, fmt.Sprintf("answer %d", i), q.ID).Decode(t, &struct{}{})
		}
		cost := func(n int) int64 {
			var page struct {
				Room struct {
					Messages struct{ Edges []struct{ Node replyData } }
				}
			}
			before := counter.n.Load()
			ca.do(t, repliesPageOp, map[string]any{"r": r.ID, "n": n}).Decode(t, &page)
			spent := counter.n.Load() - before
			replies := 0
			for _, ed := range page.Room.Messages.Edges {
				if ed.Node.ReplyTo != nil {
					replies++
				}
			}
			if len(page.Room.Messages.Edges) != n || replies < n/2 {
				t.Fatalf("page of %d: %d messages, %d replies", n, len(page.Room.Messages.Edges), replies)
			}
			return spent
		}
		small, large := cost(10), cost(100)
		t.Logf("statements: %d for 10 messages, %d for 100", small, large)
		if small != large {
			t.Fatalf("a page of 10 messages costs %d statements, a page of 100 costs %d: replyTo is loaded per message", small, large)
		}
	})
}

// Replies delivered live cost no database read per subscriber: the message
// they answer travels with them.
func TestLiveRepliesStatementsDoNotGrowWithSubscribers(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a := e.signUp(t, "sender")
		ca := e.client(a)
		op := `subscription($r: ID!, $after: Cursor) { messageAdded(roomId: $r, after: $after) { id body replyTo { id body sender { id nickname } } } }`
		room := func(n int) func() int64 {
			var ids []string
			var members []account
			for i := range n {
				m := e.signUp(t, fmt.Sprintf("member %d", i))
				ids, members = append(ids, m.ID), append(members, m)
			}
			r, after := ca.wsOpenRoom(t, fmt.Sprintf("%d listeners", n), ids...)
			var sockets []*wsClient
			for _, m := range members {
				ws := e.wsConnect(t, protoTransportWS, m)
				ws.subscribe("m", op, map[string]any{"r": r.ID, "after": after})
				sockets = append(sockets, ws)
			}
			question := ca.send(t, r.ID, "question")
			for _, ws := range sockets {
				var got struct{ MessageAdded replyData }
				ws.data("m", &got) // past the replay
			}
			return func() int64 {
				before := counter.n.Load()
				var sent struct{ SendMessage replyData }
				ca.do(t, `mutation($r: ID!, $to: ID) { sendMessage(input: {roomId: $r, body: "answer", replyToId: $to}) { id } }`,
					map[string]any{"r": r.ID, "to": question.ID}).Decode(t, &sent)
				for _, ws := range sockets {
					var got struct{ MessageAdded replyData }
					ws.data("m", &got)
					if got.MessageAdded.ID != sent.SendMessage.ID || got.MessageAdded.ReplyTo == nil || got.MessageAdded.ReplyTo.ID != question.ID {
						t.Fatalf("got %+v", got.MessageAdded)
					}
				}
				return counter.n.Load() - before
			}
		}
		one, eight := room(1), room(8)
		c1, c8 := one(), eight()
		t.Logf("statements per reply: %d with 1 listener, %d with 8", c1, c8)
		if c8 != c1 {
			t.Fatalf("a reply costs %d statements with 8 listeners, %d with 1: something is read per subscriber", c8, c1)
		}
	})
}
