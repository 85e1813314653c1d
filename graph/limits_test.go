package graph_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/chatty/chatty/graph"
)

// BenchmarkRefuseFragmentBomb measures what refusing a query whose
// fragments double at every level costs: parse, validate and the shape
// check, the limits in the order the server uses them (over 100 fragments
// are refused before parsing). Before the shape check memoised fragments,
// 26 levels took about 10 s of CPU and every further level doubled it.
//
//	go test ./graph -run '^$' -bench RefuseFragmentBomb
func BenchmarkRefuseFragmentBomb(b *testing.B) {
	srv := handler.New(graph.NewSchema(&graph.Resolver{}))
	srv.AddTransport(transport.POST{})
	srv.Use(graph.FragmentLimit{Max: 100})
	srv.Use(graph.ShapeLimit{MaxFields: 10000, MaxDepth: 12, MaxAliases: 30})
	srv.Use(extension.Introspection{})
	srv.Use(&graph.ComplexityLimit{Max: 5000})
	for _, levels := range []int{26, 60, 150, 450} {
		body := fmt.Sprintf(`{"query":%q}`, fragmentBomb(levels))
		b.Run(fmt.Sprintf("levels=%d", levels), func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if !strings.Contains(rec.Body.String(), "COMPLEXITY_LIMIT_EXCEEDED") {
					b.Fatalf("not refused: %.300s", rec.Body.String())
				}
			}
		})
	}
}

func fragmentBomb(levels int) string {
	var s strings.Builder
	s.WriteString("query Bomb { ...F0 }")
	for i := range levels {
		fmt.Fprintf(&s, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	fmt.Fprintf(&s, " fragment F%d on Query { __typename }", levels)
	return s.String()
}
