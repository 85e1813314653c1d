package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const searchMessagesOp = `query($q: String!, $r: ID, $first: Int, $after: Cursor) {
	searchMessages(query: $q, roomId: $r, first: $first, after: $after) {
		totalCount edges { cursor node { id body kind room { id } attachment { filename } } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`

type searchPage struct {
	TotalCount int
	Edges      []struct {
		Cursor string
		Node   struct {
			ID, Body, Kind string
			Room           struct{ ID string }
			Attachment     *struct{ Filename string }
		}
	}
	PageInfo struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
}

// searchVars runs searchMessages as c.
func (c *client) searchMessages(t *testing.T, vars map[string]any) searchPage {
	t.Helper()
	var out struct{ SearchMessages searchPage }
	c.do(t, searchMessagesOp, vars).Decode(t, &out)
	return out.SearchMessages
}

// found runs searchMessages for q (in roomID when not "") and returns the
// bodies found, newest first.
func (c *client) found(t *testing.T, q, roomID string) []string {
	t.Helper()
	vars := map[string]any{"q": q, "first": 50}
	if roomID != "" {
		vars["r"] = roomID
	}
	p := c.searchMessages(t, vars)
	bodies := []string{}
	for _, e := range p.Edges {
		if e.Node.Kind == "SYSTEM" {
			t.Fatalf("search %q found a SYSTEM message %q", q, e.Node.Body)
		}
		bodies = append(bodies, e.Node.Body)
	}
	if p.TotalCount != len(bodies) {
		t.Errorf("search %q: totalCount %d, %d edges", q, p.TotalCount, len(bodies))
	}
	return bodies
}

func expectFound(t *testing.T, c *client, q, roomID string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := c.found(t, q, roomID); !slices.Equal(got, want) {
		t.Errorf("search %q found %q, want %q", q, got, want)
	}
}

// Substrings anywhere in a word, in any script, ignoring case; LIKE's
// wildcards are characters like any other; newest first.
func TestSearchMessagesMatchesSubstrings(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, eve := e.signUp(t, "민수"), e.signUp(t, "지영"), e.signUp(t, "eve")
		ca := e.client(a)
		r := ca.createRoom(t, ptr("팀"), b.ID)
		for _, body := range []string{
			"내일 회의는 10시",
			"회의실 예약했어요",
			"민수에게 전해줘",
			"Meeting at 3PM with 민수씨",
			"🎉파티 준비 완료🎉",
			"100% 완료",
			"snake_case 변수",
			`경로는 C:\temp 입니다`,
			"abc plain",
			"ÄRGER über Straße",
		} {
			ca.send(t, r.ID, body)
		}
		cb := e.client(b)
		expectFound(t, cb, "회의", "", "회의실 예약했어요", "내일 회의는 10시")
		expectFound(t, cb, "  회의는 ", "", "내일 회의는 10시")
		expectFound(t, cb, "민수", "", "Meeting at 3PM with 민수씨", "민수에게 전해줘")
		expectFound(t, cb, "수에게", "", "민수에게 전해줘")
		expectFound(t, cb, "meeting", "", "Meeting at 3PM with 민수씨")
		expectFound(t, cb, "3pm WITH 민", "", "Meeting at 3PM with 민수씨")
		expectFound(t, cb, "10", "", "100% 완료", "내일 회의는 10시")
		expectFound(t, cb, "🎉파", "", "🎉파티 준비 완료🎉")
		expectFound(t, cb, "료🎉", "", "🎉파티 준비 완료🎉")
		expectFound(t, cb, "0%", "", "100% 완료")
		expectFound(t, cb, "% 완", "", "100% 완료")
		expectFound(t, cb, "e_c", "", "snake_case 변수")
		expectFound(t, cb, "a_c", "") // not "abc"
		expectFound(t, cb, "a%c", "") // not "abc"
		expectFound(t, cb, "1%%", "") // not "100%"
		expectFound(t, cb, `:\t`, "", `경로는 C:\temp 입니다`)
		expectFound(t, cb, `\%`, "")
		expectFound(t, cb, "ärger", "", "ÄRGER über Straße")
		expectFound(t, cb, "ÜBER", "", "ÄRGER über Straße")
		expectFound(t, cb, "회의 예약", "") // every gram there, not in a row
		expectFound(t, cb, "없는말", "")
		// The group's SYSTEM message ("… created …" or the like) is never found.
		for _, m := range cb.allMessages(t, r.ID, 50) {
			if m.Kind == "SYSTEM" && len([]rune(m.Body)) >= 2 {
				expectFound(t, cb, string([]rune(m.Body)[:2]), "")
			}
		}
		// Outsiders see nothing.
		expectFound(t, e.client(eve), "회의", "")
		expectFound(t, e.client(eve), "민수", "")
	})
}

// A query is 2 to 100 characters after trimming; otherwise BAD_USER_INPUT
// naming the query. A room the viewer is not in is NOT_FOUND.
func TestSearchMessagesRejectsBadQueries(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, eve := e.signUp(t, "alice"), e.signUp(t, "eve")
		ca := e.client(a)
		r := ca.createRoom(t, nil, eve.ID)
		ca.send(t, r.ID, strings.Repeat("가", 100))
		for _, q := range []string{"", " ", "가", " 가\t", "%", strings.Repeat("가", 101)} {
			resp := ca.do(t, searchMessagesOp, map[string]any{"q": q})
			if resp.Code() != "BAD_USER_INPUT" || resp.Errors[0].Extensions["field"] != "query" {
				t.Errorf("query %q: %s", q, resp.Raw)
			}
		}
		expectFound(t, ca, strings.Repeat("가", 100), "", strings.Repeat("가", 100))
		for _, first := range []int{-1, 1000} {
			if resp := ca.do(t, searchMessagesOp, map[string]any{"q": "가가", "first": first}); resp.Code() != "BAD_USER_INPUT" {
				t.Errorf("first %d: %s", first, resp.Raw)
			}
		}
		other := e.client(eve).createRoom(t, ptr("eve's"), e.signUp(t, "xavier").ID)
		for _, room := range []string{other.ID, "999999"} {
			if resp := ca.do(t, searchMessagesOp, map[string]any{"q": "가가", "r": room}); resp.Code() != "NOT_FOUND" {
				t.Errorf("room %s not the viewer's: %s", room, resp.Raw)
			}
		}
		if resp := e.anon().do(t, searchMessagesOp, map[string]any{"q": "가가"}); resp.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous: %s", resp.Raw)
		}
	})
}

// Only what the viewer could read in the rooms they are in now: not before
// they joined, nothing after they left, never deleted messages; an edit
// is found by its new text only; roomId narrows to one room.
func TestSearchMessagesOnlyWhatTheViewerMayRead(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "alice"), e.signUp(t, "bob"), e.signUp(t, "carol")
		ca, cb, cc := e.client(a), e.client(b), e.client(c)
		g := ca.createRoom(t, ptr("group"), b.ID)
		ca.send(t, g.ID, "합류 전 회의록")
		ca.addMembers(t, g.ID, c.ID)
		ca.send(t, g.ID, "합류 후 회의록")
		expectFound(t, cc, "회의록", "", "합류 후 회의록")
		expectFound(t, cb, "회의록", "", "합류 후 회의록", "합류 전 회의록")

		other := ca.createRoom(t, nil, b.ID)
		ca.send(t, other.ID, "다른 방 회의록")
		expectFound(t, cb, "회의록", "", "다른 방 회의록", "합류 후 회의록", "합류 전 회의록")
		expectFound(t, cb, "회의록", other.ID, "다른 방 회의록")
		expectFound(t, cb, "회의록", g.ID, "합류 후 회의록", "합류 전 회의록")
		if resp := cc.do(t, searchMessagesOp, map[string]any{"q": "회의록", "r": other.ID}); resp.Code() != "NOT_FOUND" {
			t.Errorf("c searched a room they are not in: %s", resp.Raw)
		}

		// Edited: found by the new text, not the old.
		m := ca.send(t, g.ID, "오래된 문구 그대로")
		ca.edit(t, m.ID, "새로운 문구 그대로")
		expectFound(t, cb, "오래된", "")
		expectFound(t, cb, "새로운", "", "새로운 문구 그대로")
		expectFound(t, cb, "문구 그", "", "새로운 문구 그대로")

		// Deleted: never.
		d := ca.send(t, g.ID, "지울 메시지 회의록")
		expectFound(t, cb, "지울", "", "지울 메시지 회의록")
		ca.deleteMsg(t, d.ID)
		expectFound(t, cb, "지울", "")
		expectFound(t, ca, "지울", "")

		// Left: nothing of the room any more.
		cc.leave(t, g.ID)
		expectFound(t, cc, "회의록", "")
		if resp := cc.do(t, searchMessagesOp, map[string]any{"q": "회의록", "r": g.ID}); resp.Code() != "NOT_FOUND" {
			t.Errorf("c searched a room they left: %s", resp.Raw)
		}
	})
}

// Captions and file names are searched like bodies; a deleted file's too
// stop being found.
func TestSearchMessagesFindsFilesAndCaptions(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "alice"), e.signUp(t, "bob")
		ca := e.client(a)
		r := ca.createRoom(t, nil, b.ID)
		var img struct{ SendFile struct{ ID string } }
		ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil, "cap": "바다 사진이에요"}, "f", "제주도 여행.png", pngBytes(t, 8, 8)).Decode(t, &img)
		var doc struct{ SendFile struct{ ID string } }
		ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "Quarterly_Report%.pdf", []byte("%PDF-1.4\n%%EOF\n")).Decode(t, &doc)
		cb := e.client(b)
		for q, want := range map[string]string{"제주도": img.SendFile.ID, "여행.P": img.SendFile.ID, "바다": img.SendFile.ID, "사진이": img.SendFile.ID,
			"report%": doc.SendFile.ID, "y_r": doc.SendFile.ID} {
			p := cb.searchMessages(t, map[string]any{"q": q})
			if len(p.Edges) != 1 || p.Edges[0].Node.ID != want || p.Edges[0].Node.Attachment == nil {
				t.Errorf("search %q found %+v, want message %s with its attachment", q, p.Edges, want)
			}
		}
		expectFound(t, cb, "사진이에요제주", "") // no match across caption and name
		ca.edit(t, img.SendFile.ID, "새 설명")
		expectFound(t, cb, "바다", "")
		expectFound(t, cb, "새 설", "", "새 설명")
		expectFound(t, cb, "제주도", "", "새 설명") // the name stays
		ca.deleteMsg(t, img.SendFile.ID)
		expectFound(t, cb, "제주도", "")
	})
}

// Pages go newest first; a cursor is a place in the results that new
// messages do not move; a cursor of another list is BAD_USER_INPUT.
func TestSearchMessagesPagesStayPut(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "alice"), e.signUp(t, "bob")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, nil, b.ID)
		for i := range 7 {
			ca.send(t, r.ID, fmt.Sprint("검색어 ", i))
			ca.send(t, r.ID, fmt.Sprint("다른 말 ", i))
		}
		p := cb.searchMessages(t, map[string]any{"q": "검색어", "first": 3})
		var got []string
		for _, ed := range p.Edges {
			got = append(got, ed.Node.Body)
		}
		if !slices.Equal(got, []string{"검색어 6", "검색어 5", "검색어 4"}) || !p.PageInfo.HasNextPage || p.PageInfo.HasPreviousPage || p.TotalCount != 7 {
			t.Fatalf("first page %q %+v total %d", got, p.PageInfo, p.TotalCount)
		}
		for i := 7; i < 10; i++ { // new messages arrive between pages
			ca.send(t, r.ID, fmt.Sprint("검색어 ", i))
		}
		after := *p.PageInfo.EndCursor
		for {
			p = cb.searchMessages(t, map[string]any{"q": "검색어", "first": 3, "after": after})
			if !p.PageInfo.HasPreviousPage {
				t.Errorf("a later page without hasPreviousPage")
			}
			for _, ed := range p.Edges {
				got = append(got, ed.Node.Body)
			}
			if !p.PageInfo.HasNextPage {
				break
			}
			after = *p.PageInfo.EndCursor
		}
		want := []string{"검색어 6", "검색어 5", "검색어 4", "검색어 3", "검색어 2", "검색어 1", "검색어 0"}
		if !slices.Equal(got, want) {
			t.Errorf("paged %q, want %q", got, want)
		}
		if p.TotalCount != 10 {
			t.Errorf("totalCount %d after the new messages, want 10", p.TotalCount)
		}
		page := cb.messages(t, r.ID, map[string]any{"first": 2})
		for _, c := range []string{*page.PageInfo.EndCursor, cb.eventsCursor(t, r.ID), "bm90IGEgY3Vyc29y"} {
			if resp := cb.do(t, searchMessagesOp, map[string]any{"q": "검색어", "after": c}); resp.Code() != "BAD_USER_INPUT" {
				t.Errorf("a foreign cursor %q: %s", c, resp.Raw)
			}
		}
	})
}

// A database from before search: Migrate builds the index of the messages
// already there (not the deleted ones), and a half-done build resumes.
func TestSearchIndexBuiltOnUpgrade(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "alice"), e.signUp(t, "bob")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, nil, b.ID)
		ca.send(t, r.ID, "옛날 회의록")
		d := ca.send(t, r.ID, "지운 회의록")
		ca.deleteMsg(t, d.ID)
		var img struct{ SendFile struct{ ID string } }
		ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil, "cap": "캡션"}, "f", "회의록.png", pngBytes(t, 8, 8)).Decode(t, &img)
		ctx := context.Background()
		for _, q := range []string{"DROP TABLE message_grams", "DROP TABLE message_grams_built"} {
			if _, err := e.DB.SQL.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.DB.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		expectFound(t, cb, "회의록", "", "캡션", "옛날 회의록")
		var n int
		if err := e.DB.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM message_grams WHERE message_id = ?", d.ID).Scan(&n); err != nil || n != 0 {
			t.Errorf("the deleted message has %d grams (%v)", n, err)
		}
		// Interrupted halfway: the index emptied, the build recorded as not done.
		for _, q := range []string{"DELETE FROM message_grams", "UPDATE message_grams_built SET done = 0, upto = 0"} {
			if _, err := e.DB.SQL.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		expectFound(t, cb, "회의록", "") // the search reads the index only
		if err := e.DB.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		expectFound(t, cb, "회의록", "", "캡션", "옛날 회의록")
		if err := e.DB.Migrate(ctx); err != nil { // again: nothing changes
			t.Fatal(err)
		}
		expectFound(t, cb, "회의록", "", "캡션", "옛날 회의록")
	})
}

// Each search reads the index and checks its candidates: a viewer may run
// 30 at once, then one a second (RATE_LIMITED with a retry hint), and
// someone else's searches are not held back. The clock stands still (a
// loaded machine took 4 s over the 30 searches, and the bucket refilled).
func TestSearchMessagesIsRateLimited(t *testing.T) {
	forEachDBWith(t, func(t *testing.T, e *env, _ *statementCounter) {
		a, b := e.signUp(t, "eager"), e.signUp(t, "patient")
		ca := e.client(a)
		r := ca.createRoom(t, nil, b.ID)
		ca.send(t, r.ID, "회의는 내일")
		for i := 0; i < 30; i++ {
			if resp := ca.do(t, searchMessagesOp, map[string]any{"q": "회의"}); resp.Code() != "" {
				t.Fatalf("search %d: %s", i+1, resp.Raw)
			}
		}
		resp := ca.do(t, searchMessagesOp, map[string]any{"q": "회의"})
		if resp.Code() != "RATE_LIMITED" || resp.retryAfter() < 1 || resp.retryAfter() > 1 {
			t.Fatalf("31st search: %s, want RATE_LIMITED with retryAfter 1", resp.Raw)
		}
		expectFound(t, e.client(b), "회의", "", "회의는 내일")
	})
}
