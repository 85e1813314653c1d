package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/server"
)

func withLimits(l server.Limits) envOption {
	return envOption{server: func(c *server.Config, _ *auth.Options) { c.Limits = l }}
}

// An abusive query gets a coded error and never runs: no data comes back.
func TestAbusiveQueriesAreRefused(t *testing.T) {
	e := newEnv(t, "sqlite")
	a := e.signUp(t, "abuser")
	c := e.client(a)

	aliases := make([]string, 31)
	for i := range aliases {
		aliases[i] = fmt.Sprintf("a%d: __typename", i)
	}
	heavy := make([]string, 20)
	for i := range heavy {
		heavy[i] = fmt.Sprintf(`s%d: searchUsers(query: "x", first: 100) { edges { node { id nickname bio } } }`, i)
	}
	cases := []struct {
		name, query, code string
	}{
		{"31 aliases", "{ " + strings.Join(aliases, " ") + " }", "COMPLEXITY_LIMIT_EXCEEDED"},
		{"complexity", "{ " + strings.Join(heavy, " ") + " }", "COMPLEXITY_LIMIT_EXCEEDED"},
		{"too many tokens", "{ " + strings.Repeat("__typename ", 6000) + " }", "GRAPHQL_PARSE_FAILED"},
		{"syntax", "{ viewer { id ", "GRAPHQL_PARSE_FAILED"},
		{"unknown field", "{ viewer { password } }", "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tc := range cases {
		r := c.do(t, tc.query, nil)
		if r.Code() != tc.code {
			t.Errorf("%s: code %q, want %q: %.300s", tc.name, r.Code(), tc.code, r.Raw)
		}
		if len(r.Data) > 0 && string(r.Data) != "null" {
			t.Errorf("%s: the operation ran: data %s", tc.name, r.Data)
		}
	}

	// 30 aliases are fine.
	if r := c.do(t, "{ "+strings.Join(aliases[:30], " ")+" }", nil); r.Code() != "" {
		t.Errorf("30 aliases refused: %.300s", r.Raw)
	}
}

func TestDepthLimit(t *testing.T) {
	e := newEnv(t, "sqlite", withLimits(server.Limits{MaxDepth: 3}))
	a := e.signUp(t, "deep")
	c := e.client(a)
	deep := `{ searchUsers(query: "x") { edges { node { id } } } }` // 4 levels
	if r := c.do(t, deep, nil); r.Code() != "COMPLEXITY_LIMIT_EXCEEDED" || string(r.Data) != "null" && len(r.Data) > 0 {
		t.Fatalf("4 levels with a limit of 3: %s", r.Raw)
	}
	// Fragments count where they are spread.
	viaFragment := `{ searchUsers(query: "x") { ...E } } fragment E on UserConnection { edges { node { id } } }`
	if r := c.do(t, viaFragment, nil); r.Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("depth through a fragment: %s", r.Raw)
	}
	if r := c.do(t, `{ searchUsers(query: "x") { totalCount pageInfo { hasNextPage } } }`, nil); r.Code() != "" {
		t.Fatalf("3 levels refused: %s", r.Raw)
	}
	// GraphiQL's introspection nests deeper than any limit; it is not counted.
	intro := `{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }`
	if r := c.do(t, intro, nil); r.Code() != "" {
		t.Fatalf("introspection refused: %.300s", r.Raw)
	}
}
