package server_test

import (
	"strings"
	"testing"
)

// search runs searchUsers as c and returns the ids found.
func (c *client) search(t *testing.T, q string) []string {
	t.Helper()
	var s searchData
	c.do(t, searchQuery, map[string]any{"q": q, "first": 50}).Decode(t, &s)
	var ids []string
	for _, ed := range s.SearchUsers.Edges {
		if ed.Node.Email != nil {
			t.Fatalf("search for %q shows another user's email %q", q, *ed.Node.Email)
		}
		ids = append(ids, ed.Node.ID)
	}
	if s.SearchUsers.TotalCount != len(ids) {
		t.Fatalf("search for %q: totalCount %d, %d edges", q, s.SearchUsers.TotalCount, len(ids))
	}
	return ids
}

// A hidden email cannot be recovered through search a piece at a time:
// only the whole address finds its account.
func TestSearchUsersFindsWholeEmailsOnly(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		victim := e.signUp(t, "hidden")
		me := e.client(e.signUp(t, "seeker"))
		email := victim.Email
		at := strings.IndexByte(email, '@')
		for _, q := range []string{
			"@", "@example.com", "example.com", email[:at], email[:at+1], email[:len(email)-1], email[1:], email + "x", email[:3],
		} {
			if got := me.search(t, q); len(got) != 0 {
				t.Errorf("a part of an email, %q, found %v", q, got)
			}
		}
		for _, q := range []string{email, strings.ToUpper(email), "  " + email + "\t"} {
			if got := me.search(t, q); len(got) != 1 || got[0] != victim.ID {
				t.Errorf("the whole email %q found %v, want the victim %s", q, got, victim.ID)
			}
		}
	})
}

// Nicknames match by substring, ignoring case; LIKE's wildcards in the
// query are characters like any other.
func TestSearchUsersMatchesNicknamesLiterally(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		pct := e.signUp(t, "100%완료").ID
		under := e.signUp(t, "Snake_Case").ID
		back := e.signUp(t, `back\slash`).ID
		abc := e.signUp(t, "plain abc").ID
		me := e.client(e.signUp(t, "seeker"))
		cases := []struct {
			q    string
			want []string
		}{
			{"%", []string{pct}},
			{"_", []string{under}},
			{`\`, []string{back}},
			{"a_c", nil},           // not "abc"
			{"p%c", nil},           // not "plain abc"
			{`\s`, []string{back}}, // not an escape
			{`\%`, nil},
			{"0%완", []string{pct}},
			{"snake_", []string{under}},
			{"ABC", []string{abc}},
		}
		for _, c := range cases {
			if got := me.search(t, c.q); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("search %q found %v, want %v", c.q, got, c.want)
			}
		}
	})
}

// Searches are limited per user: 30, then one every 2 s, answered
// RATE_LIMITED with how long to wait; other users are not affected.
func TestSearchUsersIsRateLimited(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		me := e.client(e.signUp(t, "eager"))
		for i := 0; i < 30; i++ {
			if r := me.do(t, searchQuery, map[string]any{"q": "someone"}); r.Code() != "" {
				t.Fatalf("search %d: %s", i+1, r.Raw)
			}
		}
		r := me.do(t, searchQuery, map[string]any{"q": "someone"})
		if r.Code() != "RATE_LIMITED" || r.retryAfter() < 1 || r.retryAfter() > 2 {
			t.Fatalf("31st search: %s, want RATE_LIMITED with retryAfter 1-2", r.Raw)
		}
		other := e.client(e.signUp(t, "patient"))
		if r := other.do(t, searchQuery, map[string]any{"q": "someone"}); r.Code() != "" {
			t.Fatalf("another user's search was limited: %s", r.Raw)
		}
	})
}

// A cursor crafted to make the decoder allocate (11 characters claiming a
// map of 2³² entries) is refused like any malformed cursor.
func TestHostileCursorIsRefused(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		me := e.client(e.signUp(t, "pager"))
		for _, cur := range []string{"gaF23/////8", "gqFpAaF2kd//////"} {
			if r := me.do(t, searchQuery, map[string]any{"q": "x", "after": cur}); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("searchUsers(after: %q): %s", cur, r.Raw)
			}
			if r := me.do(t, `query($a: Cursor) { rooms(after: $a) { totalCount } }`, map[string]any{"a": cur}); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("rooms(after: %q): %s", cur, r.Raw)
			}
		}
	})
}
