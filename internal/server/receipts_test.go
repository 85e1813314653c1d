package server_test

import (
	"fmt"
	"strings"
	"testing"
)

const receiptsOp = `query($r: ID!) { room(id: $r) { readReceipts { user { id } lastRead { id body } readAt } } }`

type receiptData struct {
	User     struct{ ID string }
	LastRead *struct{ ID, Body string }
	ReadAt   *string
}

func (c *client) receipts(t *testing.T, roomID string) []receiptData {
	t.Helper()
	var out struct {
		Room *struct{ ReadReceipts []receiptData }
	}
	c.do(t, receiptsOp, map[string]any{"r": roomID}).Decode(t, &out)
	if out.Room == nil {
		t.Fatalf("room %s is not visible", roomID)
	}
	return out.Room.ReadReceipts
}

// receiptsText is receipts as "user:lastRead body|-:readAt set?" in order.
func receiptsText(rs []receiptData) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		last := "-"
		if r.LastRead != nil {
			last = r.LastRead.Body
		}
		parts[i] = fmt.Sprintf("%s:%s:%t", r.User.ID, last, r.ReadAt != nil)
	}
	return strings.Join(parts, " ")
}

// Each current member's newest read message and when they read it, in the
// order members joined: nothing before they mark anything; never moving
// back; a member who joined later does not see, through others' receipts,
// messages from before they joined; who left is no longer listed.
func TestReadReceipts(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c, d := e.signUp(t, "alice"), e.signUp(t, "bobby"), e.signUp(t, "carol"), e.signUp(t, "david")
		ca, cb, cc, cd := e.client(a), e.client(b), e.client(c), e.client(d)
		r := ca.createRoom(t, ptr("receipts"), b.ID, c.ID)
		ca.send(t, r.ID, "one")
		m2 := cb.send(t, r.ID, "two")
		ca.send(t, r.ID, "three")

		if got, want := receiptsText(cb.receipts(t, r.ID)), fmt.Sprintf("%s:-:false %s:-:false %s:-:false", a.ID, b.ID, c.ID); got != want {
			t.Fatalf("before anyone read: %s, want %s", got, want)
		}
		cb.do(t, markReadOp, map[string]any{"r": r.ID, "m": m2.ID}).Decode(t, &struct{}{})
		cc.do(t, markReadOp, map[string]any{"r": r.ID}).Decode(t, &struct{}{})
		want := fmt.Sprintf("%s:-:false %s:two:true %s:three:true", a.ID, b.ID, c.ID)
		if got := receiptsText(ca.receipts(t, r.ID)); got != want {
			t.Fatalf("after bobby and carol read: %s, want %s", got, want)
		}
		before := ca.receipts(t, r.ID)[1].ReadAt
		// Marking an older message moves nothing, read time included.
		first := ca.messages(t, r.ID, map[string]any{"first": 1}).Edges[0].Node
		cb.do(t, markReadOp, map[string]any{"r": r.ID, "m": first.ID}).Decode(t, &struct{}{})
		after := ca.receipts(t, r.ID)[1]
		if after.LastRead == nil || after.LastRead.ID != m2.ID || *after.ReadAt != *before {
			t.Fatalf("marking back moved bobby's receipt: %+v (read at %s before)", after, *before)
		}

		// David joins: what the others read before is not his to see.
		ca.do(t, addMembersOp, map[string]any{"r": r.ID, "u": []string{d.ID}}).Decode(t, &struct{}{})
		want = fmt.Sprintf("%s:-:false %s:-:true %s:-:true %s:-:false", a.ID, b.ID, c.ID, d.ID)
		if got := receiptsText(cd.receipts(t, r.ID)); got != want {
			t.Fatalf("david sees %s, want %s", got, want)
		}
		ca.send(t, r.ID, "four")
		cb.do(t, markReadOp, map[string]any{"r": r.ID}).Decode(t, &struct{}{})
		cd.do(t, markReadOp, map[string]any{"r": r.ID}).Decode(t, &struct{}{})
		want = fmt.Sprintf("%s:-:false %s:four:true %s:-:true %s:four:true", a.ID, b.ID, c.ID, d.ID)
		if got := receiptsText(cd.receipts(t, r.ID)); got != want {
			t.Fatalf("david sees %s, want %s", got, want)
		}
		// Carol leaves: her receipt goes.
		cc.do(t, leaveOpStr, map[string]any{"r": r.ID}).Decode(t, &struct{}{})
		want = fmt.Sprintf("%s:-:false %s:four:true %s:four:true", a.ID, b.ID, d.ID)
		if got := receiptsText(ca.receipts(t, r.ID)); got != want {
			t.Fatalf("after carol left: %s, want %s", got, want)
		}
		if resp := cc.do(t, receiptsOp, map[string]any{"r": r.ID}); resp.Code() != "NOT_FOUND" {
			t.Fatalf("former member reads receipts: %s", resp.Raw)
		}
	})
}

// A rooms page with read receipts costs the same statements for 5 rooms
// as for 50.
func TestReadReceiptsPageStatementsDoNotGrowWithPageSize(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, counter *statementCounter) {
		a, b := e.signUp(t, "alice"), e.signUp(t, "bobby")
		ca, cb := e.client(a), e.client(b)
		for i := 0; i < 50; i++ {
			r := ca.createRoom(t, ptr(fmt.Sprintf("room %02d", i)), b.ID)
			ca.send(t, r.ID, fmt.Sprintf("message %d", i))
			cb.do(t, markReadOp, map[string]any{"r": r.ID}).Decode(t, &struct{}{})
		}
		page := `query($n: Int!) { rooms(first: $n) { edges { node { id readReceipts { user { id nickname } lastRead { id body } readAt } } } } }`
		cost := func(n int) int64 {
			var out struct {
				Rooms struct {
					Edges []struct {
						Node struct{ ReadReceipts []receiptData }
					}
				}
			}
			before := counter.n.Load()
			ca.do(t, page, map[string]any{"n": n}).Decode(t, &out)
			spent := counter.n.Load() - before
			if len(out.Rooms.Edges) != n {
				t.Fatalf("page of %d has %d rooms", n, len(out.Rooms.Edges))
			}
			for _, ed := range out.Rooms.Edges {
				rs := ed.Node.ReadReceipts
				if len(rs) != 2 || rs[0].LastRead != nil || rs[1].LastRead == nil || rs[1].ReadAt == nil {
					t.Fatalf("receipts on the page: %+v", rs)
				}
			}
			return spent
		}
		small, large := cost(5), cost(50)
		t.Logf("statements: %d for 5 rooms, %d for 50", small, large)
		if small != large {
			t.Fatalf("a page of 5 rooms costs %d statements, a page of 50 costs %d: receipts are loaded per room", small, large)
		}
	})
}
