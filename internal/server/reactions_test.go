package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database/dbtest"
)

const (
	addReactionOp    = `mutation($m: ID!, $e: String!) { addReaction(messageId: $m, emoji: $e) { id reactions { emoji count viewerReacted users { id } } } }`
	removeReactionOp = `mutation($m: ID!, $e: String!) { removeReaction(messageId: $m, emoji: $e) { id reactions { emoji count viewerReacted users { id } } } }`
	reactionsPageOp  = `query($r: ID!, $n: Int) { room(id: $r) { messages(last: $n) { edges { node { id reactions { emoji count viewerReacted users { id } } } } } } }`
)

type reactionData struct {
	Emoji         string
	Count         int
	ViewerReacted bool
	Users         []struct{ ID string }
}

// reactionsText is reactions as "emoji:count:viewerReacted:user,user …"
// joined by " ", to compare in one line.
func reactionsText(rs []reactionData) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		ids := make([]string, len(r.Users))
		for j, u := range r.Users {
			ids[j] = u.ID
		}
		parts[i] = fmt.Sprintf("%s:%d:%t:%s", r.Emoji, r.Count, r.ViewerReacted, strings.Join(ids, ","))
	}
	return strings.Join(parts, " ")
}

func (c *client) react(t *testing.T, op, messageID, emoji string) string {
	t.Helper()
	var out map[string]struct{ Reactions []reactionData }
	c.do(t, op, map[string]any{"m": messageID, "e": emoji}).Decode(t, &out)
	for _, m := range out {
		return reactionsText(m.Reactions)
	}
	return ""
}

func (c *client) reactionsOn(t *testing.T, roomID, messageID string) string {
	t.Helper()
	var page struct {
		Room struct {
			Messages struct {
				Edges []struct {
					Node struct {
						ID        string
						Reactions []reactionData
					}
				}
			}
		}
	}
	c.do(t, reactionsPageOp, map[string]any{"r": roomID, "n": 100}).Decode(t, &page)
	for _, ed := range page.Room.Messages.Edges {
		if ed.Node.ID == messageID {
			return reactionsText(ed.Node.Reactions)
		}
	}
	t.Fatalf("message %s is not in room %s", messageID, roomID)
	return ""
}

// eventRecorder keeps the chat events of one kind a server publishes.
type eventRecorder struct {
	mu     sync.Mutex
	kind   chat.EventKind
	events []chat.Event
}

func (r *eventRecorder) option() envOption {
	return envOption{chat: []chat.Option{chat.WithPublisher(chat.PublisherFunc(func(_ context.Context, e chat.Event) {
		if e.Kind == r.kind {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
		}
	}))}}
}

func (r *eventRecorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.events) }

// Members react with one emoji each: grouped by emoji in first-use order,
// counted once per user (idempotent both ways), the earliest users first,
// viewerReacted per viewer. Each change (and only a change) is announced
// as one change of the room's feed, REACTIONS_CHANGED (MESSAGE_CHANGED).
func TestReactions(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			rec := &eventRecorder{kind: chat.EventMessageChanged} // only reactions change in this test
			e := newEnv(t, backend, rec.option())
			a, b, c := e.signUp(t, "alice"), e.signUp(t, "bobby"), e.signUp(t, "carol")
			ca, cb, cc := e.client(a), e.client(b), e.client(c)
			r := ca.createRoom(t, ptr("reactions"), b.ID, c.ID)
			m := ca.send(t, r.ID, "hello")

			if got := cb.react(t, addReactionOp, m.ID, "👍"); got != "👍:1:true:"+b.ID {
				t.Fatalf("first reaction: %s", got)
			}
			if got := cb.react(t, addReactionOp, m.ID, "👍"); got != "👍:1:true:"+b.ID {
				t.Fatalf("the same reaction again: %s", got)
			}
			if n := rec.count(); n != 1 {
				t.Fatalf("%d REACTIONS_CHANGED events after one change and one repeat", n)
			}
			ca.react(t, addReactionOp, m.ID, "❤️")
			ca.react(t, addReactionOp, m.ID, "👍")
			want := fmt.Sprintf("👍:2:true:%s,%s ❤️:1:true:%s", b.ID, a.ID, a.ID)
			if got := ca.reactionsOn(t, r.ID, m.ID); got != want {
				t.Fatalf("alice sees %s, want %s", got, want)
			}
			want = fmt.Sprintf("👍:2:false:%s,%s ❤️:1:false:%s", b.ID, a.ID, a.ID)
			if got := cc.reactionsOn(t, r.ID, m.ID); got != want {
				t.Fatalf("carol sees %s, want %s", got, want)
			}
			// First use counts among the reactions still there: without
			// bobby's, alice's 👍 came after her ❤️.
			if got := cb.react(t, removeReactionOp, m.ID, "👍"); got != fmt.Sprintf("❤️:1:false:%s 👍:1:false:%s", a.ID, a.ID) {
				t.Fatalf("after bobby's removal: %s", got)
			}
			if got := cb.react(t, removeReactionOp, m.ID, "👍"); got != fmt.Sprintf("❤️:1:false:%s 👍:1:false:%s", a.ID, a.ID) {
				t.Fatalf("removing again: %s", got)
			}
			// The last 👍 goes, and comes back after ❤️.
			ca.react(t, removeReactionOp, m.ID, "👍")
			if got := cb.react(t, addReactionOp, m.ID, "👍"); got != fmt.Sprintf("❤️:1:false:%s 👍:1:true:%s", a.ID, b.ID) {
				t.Fatalf("emoji used again after it was gone: %s", got)
			}
			if n := rec.count(); n != 6 {
				t.Fatalf("%d REACTIONS_CHANGED events after 6 changes", n)
			}
			ev := rec.events[0]
			if ev.RoomID == 0 || ev.Message == nil || fmt.Sprint(ev.Message.ID) != m.ID || fmt.Sprint(ev.ActorID) != b.ID ||
				ev.Message.LastChange != chat.ChangeReactionsChanged || ev.Message.Revision == nil {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

// Who may react, and what a reaction is: members only, on messages they
// can read (NOT_FOUND otherwise, as for an unknown id); not on SYSTEM
// messages; exactly one grapheme cluster of at most 16 bytes.
func TestReactionRules(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, eve, late := e.signUp(t, "alice"), e.signUp(t, "bobby"), e.signUp(t, "outsider"), e.signUp(t, "latecomer")
		ca, cb, ce, cl := e.client(a), e.client(b), e.client(eve), e.client(late)
		r := ca.createRoom(t, ptr("rules"), b.ID)
		m := ca.send(t, r.ID, "react to me")

		for _, emoji := range []string{"👍", "❤️", "👍🏽", "🇰🇷", "1️⃣", "👩‍💻", "😀", "ㅋ"} {
			if resp := cb.do(t, addReactionOp, map[string]any{"m": m.ID, "e": emoji}); resp.Code() != "" {
				t.Fatalf("%q refused: %s", emoji, resp.Raw)
			}
		}
		for name, emoji := range map[string]string{
			"empty":                 "",
			"two emoji":             "👍👍",
			"trailing space":        "👍 ",
			"a space":               " ",
			"a newline":             "\n",
			"a word":                "ok",
			"25 bytes (one family)": "👨‍👩‍👧‍👦",
		} {
			resp := cb.do(t, addReactionOp, map[string]any{"m": m.ID, "e": emoji})
			if resp.Code() != "BAD_USER_INPUT" || resp.Errors[0].Extensions["field"] != "emoji" {
				t.Fatalf("%s: %s", name, resp.Raw)
			}
			if resp := cb.do(t, removeReactionOp, map[string]any{"m": m.ID, "e": emoji}); resp.Code() != "BAD_USER_INPUT" {
				t.Fatalf("remove %s: %s", name, resp.Raw)
			}
		}

		hidden := ce.do(t, addReactionOp, map[string]any{"m": m.ID, "e": "👍"})
		unknown := ce.do(t, addReactionOp, map[string]any{"m": unknownID(t, m.ID), "e": "👍"})
		if hidden.Code() != "NOT_FOUND" || unknown.Code() != "NOT_FOUND" || hidden.Errors[0].Message != unknown.Errors[0].Message {
			t.Fatalf("outsider reacts: %s; unknown message: %s", hidden.Raw, unknown.Raw)
		}
		mustNotContain(t, hidden.Raw, "react to me")
		if resp := ce.do(t, removeReactionOp, map[string]any{"m": m.ID, "e": "👍"}); resp.Code() != "NOT_FOUND" {
			t.Fatalf("outsider removes: %s", resp.Raw)
		}
		if resp := cb.do(t, addReactionOp, map[string]any{"m": "not-an-id", "e": "👍"}); resp.Code() != "BAD_USER_INPUT" {
			t.Fatalf("malformed id: %s", resp.Raw)
		}

		// A latecomer can't reach what came before they joined; the SYSTEM
		// message of their joining takes no reactions.
		ca.do(t, addMembersOp, map[string]any{"r": r.ID, "u": []string{late.ID}}).Decode(t, &struct{}{})
		if resp := cl.do(t, addReactionOp, map[string]any{"m": m.ID, "e": "👍"}); resp.Code() != "NOT_FOUND" {
			t.Fatalf("latecomer reacts to an older message: %s", resp.Raw)
		}
		page := cl.messages(t, r.ID, nil)
		if len(page.Edges) != 1 || page.Edges[0].Node.Kind != "SYSTEM" {
			t.Fatalf("latecomer's page: %+v", page)
		}
		if resp := cl.do(t, addReactionOp, map[string]any{"m": page.Edges[0].Node.ID, "e": "👍"}); resp.Code() != "BAD_USER_INPUT" {
			t.Fatalf("reaction to a SYSTEM message: %s", resp.Raw)
		}
		// Who left can react no more.
		cb.do(t, leaveOpStr, map[string]any{"r": r.ID}).Decode(t, &struct{}{})
		if resp := cb.do(t, addReactionOp, map[string]any{"m": m.ID, "e": "🎉"}); resp.Code() != "NOT_FOUND" {
			t.Fatalf("former member reacts: %s", resp.Raw)
		}
		if resp := cb.do(t, removeReactionOp, map[string]any{"m": m.ID, "e": "👍"}); resp.Code() != "NOT_FOUND" {
			t.Fatalf("former member removes: %s", resp.Raw)
		}
	})
}

// At most 20 different emoji on a message, also when members race for the
// last places; an emoji already there may still be added. Each emoji lists
// its first 20 users, earliest first, and counts them all.
func TestReactionLimits(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		owner := e.signUp(t, "owner")
		co := e.client(owner)
		var others []account
		var ids []string
		for i := 0; i < 22; i++ {
			u := e.signUp(t, fmt.Sprintf("member %d", i))
			others = append(others, u)
			ids = append(ids, u.ID)
		}
		r := co.createRoom(t, ptr("crowd"), ids...)
		m := co.send(t, r.ID, "react!")
		emoji := func(i int) string { return string(rune(0x1F600 + i)) } // 😀 …
		for i := 0; i < 18; i++ {
			co.react(t, addReactionOp, m.ID, emoji(i))
		}
		// Five members race for the last two places.
		var reqs []request
		for i := 0; i < 5; i++ {
			reqs = append(reqs, request{e.client(others[i]), addReactionOp, map[string]any{"m": m.ID, "e": emoji(18 + i)}})
		}
		won, refused := 0, 0
		for _, resp := range concurrently(t, reqs...) {
			switch resp.Code() {
			case "":
				won++
			case "BAD_USER_INPUT":
				refused++
				if resp.Errors[0].Extensions["field"] != "emoji" || resp.Errors[0].Extensions["limit"] != float64(20) {
					t.Fatalf("refusal: %s", resp.Raw)
				}
			default:
				t.Fatalf("racing reaction: %s", resp.Raw)
			}
		}
		if won != 2 || refused != 3 {
			t.Fatalf("%d of the racing emoji were added, %d refused; want 2 and 3", won, refused)
		}
		// 22 members all add the first emoji: the owner was first.
		for _, u := range others {
			e.client(u).react(t, addReactionOp, m.ID, emoji(0))
		}
		var out struct {
			AddReaction struct{ Reactions []reactionData }
		}
		co.do(t, addReactionOp, map[string]any{"m": m.ID, "e": emoji(0)}).Decode(t, &out)
		rs := out.AddReaction.Reactions
		if len(rs) != 20 || rs[0].Emoji != emoji(0) || rs[0].Count != 23 || !rs[0].ViewerReacted || len(rs[0].Users) != 20 {
			t.Fatalf("reactions: %d groups, first %s count %d, %d users", len(rs), rs[0].Emoji, rs[0].Count, len(rs[0].Users))
		}
		if rs[0].Users[0].ID != owner.ID || rs[0].Users[1].ID != others[0].ID || rs[0].Users[19].ID != others[18].ID {
			t.Fatalf("users are not the earliest 20 in order: %+v", rs[0].Users)
		}
	})
}

// Reactions never notify: the next notification a member gets after a
// reaction to their message is that of the next message.
func TestReactionsDoNotNotify(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "alice"), e.signUp(t, "bobby")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, ptr("quiet"), b.ID)
		mine := cb.send(t, r.ID, "bobby's message")
		ws := e.wsConnect(t, protoTransportWS, b)
		prober := wsNotificationsLive(t, e, ws, b, "n")
		ca.react(t, addReactionOp, mine.ID, "👍")
		ca.react(t, removeReactionOp, mine.ID, "👍")
		next := ca.send(t, r.ID, "after the reactions")
		n := wsNextNotification(t, ws, "n", prober)
		if n.Kind != "NEW_MESSAGE" || n.Message == nil || n.Message.ID != next.ID {
			t.Fatalf("after two reactions the next notification is %+v, want the NEW_MESSAGE of %s", n, next.ID)
		}
	})
}

// A page of messages with reactions costs the same statements for 10
// messages as for 100.
func TestReactionsPageStatementsDoNotGrowWithPageSize(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a, b := e.signUp(t, "alice"), e.signUp(t, "bobby")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, ptr("busy"), b.ID)
		for i := 0; i < 100; i++ {
			m := ca.send(t, r.ID, fmt.Sprintf("message %d", i))
			ca.react(t, addReactionOp, m.ID, "👍")
			cb.react(t, addReactionOp, m.ID, "❤️")
		}
		cost := func(n int) int64 {
			var page struct {
				Room struct {
					Messages struct {
						Edges []struct {
							Node struct{ Reactions []reactionData }
						}
					}
				}
			}
			before := counter.n.Load()
			ca.do(t, reactionsPageOp, map[string]any{"r": r.ID, "n": n}).Decode(t, &page)
			spent := counter.n.Load() - before
			for _, ed := range page.Room.Messages.Edges {
				if got := reactionsText(ed.Node.Reactions); got != fmt.Sprintf("👍:1:true:%s ❤️:1:false:%s", a.ID, b.ID) {
					t.Fatalf("reactions on the page: %s", got)
				}
			}
			if len(page.Room.Messages.Edges) != n {
				t.Fatalf("page of %d has %d messages", n, len(page.Room.Messages.Edges))
			}
			return spent
		}
		small, large := cost(10), cost(100)
		t.Logf("statements: %d for 10 messages, %d for 100", small, large)
		if small != large {
			t.Fatalf("a page of 10 messages costs %d statements, a page of 100 costs %d: reactions are loaded per message", small, large)
		}
	})
}
