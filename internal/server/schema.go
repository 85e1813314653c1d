package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/chatty/chatty/graph"
)

// SchemaSDL returns the served GraphQL schema as SDL (what `make schema`
// writes and GET /graphql/schema.graphql answers), for code generators.
var SchemaSDL = sync.OnceValue(func() string {
	var b bytes.Buffer
	formatter.NewFormatter(&b, formatter.WithIndent("  ")).FormatSchema(graph.NewSchema(&graph.Resolver{}).Schema())
	return b.String()
})

// serveSchema answers GET /graphql/schema.graphql with SchemaSDL. The text
// changes only with the binary: an ETag (its hash) lets clients revalidate
// for free. It is the schema introspection gives, so it is refused where
// introspection is (Config.NoIntrospection).
func (s *Server) serveSchema() http.Handler {
	sdl := SchemaSDL()
	sum := sha256.Sum256([]byte(sdl))
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.NoIntrospection {
			http.Error(w, "the schema is not published on this server (introspection is off)", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/graphql; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(sdl))
	})
}
