package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/introspection"

	"github.com/chatty/chatty/internal/server"
)

// fragmentBomb is a query of levels fragments, each spreading the next one
// twice: a few hundred bytes that expand to 2^levels fields.
func fragmentBomb(levels int) string {
	var b strings.Builder
	b.WriteString("query Bomb { ...F0 }")
	for i := range levels {
		fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on Query { __typename }", levels)
	return b.String()
}

// fragmentWide is the same doubling, each level one field deeper (within
// the depth limit once the field count is not checked).
func fragmentWide(levels int) string {
	var b strings.Builder
	b.WriteString("query Wide { ...W0 }")
	for i := range levels {
		fmt.Fprintf(&b, " fragment W%d on Query { a%d: __typename ...W%d ...W%d }", i, i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment W%d on Query { __typename }", levels)
	return b.String()
}

// A query whose fragments double at every level is refused with a code on
// every transport, without signing in, before anything walks its expansion.
func TestExponentialFragmentsAreRefused(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, levels := range []int{26, 60, 150} {
		for name, query := range map[string]string{"bomb": fragmentBomb(levels), "wide": fragmentWide(levels)} {
			t.Run(fmt.Sprintf("%s/%d levels", name, levels), func(t *testing.T) {
				t.Run("POST", func(t *testing.T) {
					r := e.anon().do(t, query, nil)
					assertShapeRefused(t, r)
				})
				t.Run("GET", func(t *testing.T) {
					req, _ := http.NewRequest(http.MethodGet, e.URL+"/graphql?query="+url.QueryEscape(query), nil)
					req.Header.Set("Accept", "application/json")
					assertShapeRefused(t, send(t, req))
				})
				t.Run("WebSocket", func(t *testing.T) {
					a := e.signUp(t, "bomber")
					c := e.wsConnect(t, "graphql-transport-ws", a)
					c.subscribe("1", query, nil)
					if code := c.refused("1"); code != "COMPLEXITY_LIMIT_EXCEEDED" {
						t.Fatalf("refused with %q, want COMPLEXITY_LIMIT_EXCEEDED", code)
					}
				})
			})
		}
	}
}

func assertShapeRefused(t *testing.T, r gqlResponse) {
	t.Helper()
	if r.Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("code %q, want COMPLEXITY_LIMIT_EXCEEDED: %.300s", r.Code(), r.Raw)
	}
	if len(r.Data) > 0 && string(r.Data) != "null" {
		t.Fatalf("the operation ran: %.300s", r.Data)
	}
	if msg := r.Errors[0].Message; !strings.Contains(msg, "expands to more than 10000 fields") && !strings.Contains(msg, "defines more than 100 fragments") {
		t.Fatalf("refused for %q, want the expansion or the fragment count", msg)
	}
}

// A document defining more than 100 fragments is refused before it is
// parsed; 100 are fine.
func TestFragmentCountLimit(t *testing.T) {
	e := newEnv(t, "sqlite")
	doc := func(n int) string {
		var b strings.Builder
		b.WriteString("query Many {")
		for i := range n {
			fmt.Fprintf(&b, " ...G%d", i)
		}
		b.WriteString(" }")
		for i := range n {
			fmt.Fprintf(&b, " fragment G%d on Query { g%d: __typename }", i, i)
		}
		return b.String()
	}
	c := e.as("")
	r := c.do(t, doc(101), nil)
	if r.Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("101 fragments: %.300s", r.Raw)
	}
	mustContain(t, r.Errors[0].Message, "defines more than 100 fragments")
	// 100 fragments pass this check (and then meet the alias limit, a
	// different refusal).
	if r := c.do(t, doc(100), nil); strings.Contains(r.Raw, "fragments") {
		t.Fatalf("100 fragments refused for their number: %.300s", r.Raw)
	}
	// The word in a string or a field name does not count.
	if r := c.do(t, `{ __typename }`+strings.Repeat(" # fragment", 200), nil); r.Code() != "" {
		t.Fatalf("comments saying fragment: %.300s", r.Raw)
	}
}

// Fragments spread many times still count each time: 99 spreads of a
// fragment of 101 fields is over the limit, 9 spreads of it are not.
func TestFieldLimitCountsEverySpread(t *testing.T) {
	e := newEnv(t, "sqlite", withLimits(server.Limits{MaxAliases: 1000, MaxComplexity: 1 << 30}))
	c := e.anon()
	fields := make([]string, 101)
	for i := range fields {
		fields[i] = fmt.Sprintf("f%d: __typename", i)
	}
	frag := " fragment Many on Query { " + strings.Join(fields, " ") + " }"
	spreads := func(n int) string {
		var b strings.Builder
		b.WriteString("{ ")
		for i := range n {
			fmt.Fprintf(&b, "s%d: __typename ...Many ", i)
		}
		return b.String() + "}" + frag
	}
	if r := c.do(t, spreads(99), nil); r.Code() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("99 spreads of 101 fields: code %q: %.300s", r.Code(), r.Raw)
	}
	r := c.do(t, spreads(9), nil)
	if r.Code() != "" {
		t.Fatalf("9 spreads of 101 fields refused: %.300s", r.Raw)
	}
	mustContain(t, string(r.Data), `"f100":"Query"`, `"s8":"Query"`)
}

// The introspection query GraphiQL and codegen tools send stays within
// every shape limit.
func TestIntrospectionQueryIsAllowed(t *testing.T) {
	e := newEnv(t, "sqlite")
	r := e.anon().do(t, introspection.Query, nil)
	if r.Code() != "" {
		t.Fatalf("introspection refused: %.300s", r.Raw)
	}
	mustContain(t, string(r.Data), `"queryType":{"name":"Query"}`)
}
