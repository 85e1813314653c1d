package server_test

import (
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/server"
)

func getSchema(t *testing.T, e *env, headers ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/graphql/schema.graphql", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// GET /graphql/schema.graphql is the schema as SDL, for code generators:
// it parses on its own, holds every type and field of the contract, and
// revalidates with its ETag.
func TestSchemaSDL(t *testing.T) {
	e := newEnv(t, "sqlite")
	resp, sdl := getSchema(t, e)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/graphql; charset=utf-8" {
		t.Fatalf("GET schema: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mustContain(t, resp.Header.Get("Cache-Control"), "max-age=")
	served, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: sdl})
	if err != nil {
		t.Fatalf("the served SDL does not parse: %v", err)
	}
	contract, err := os.ReadFile("../../../shared/api/contract.graphql")
	if os.IsNotExist(err) && os.Getenv("CHATTY_CI") != "1" {
		t.Skip("the contract lives in the shared folder beside the repository")
	}
	if err != nil {
		t.Fatal(err)
	}
	want, err := gqlparser.LoadSchema(&ast.Source{Name: "contract.graphql", Input: string(contract)})
	if err != nil {
		t.Fatal(err)
	}
	for name, def := range want.Types {
		if def.BuiltIn {
			continue
		}
		got := served.Types[name]
		if got == nil || got.Kind != def.Kind {
			t.Fatalf("served SDL lacks %s %s", def.Kind, name)
		}
		for _, f := range def.Fields {
			if g := got.Fields.ForName(f.Name); g == nil || g.Type.String() != f.Type.String() {
				t.Fatalf("served SDL: %s.%s is %v, contract says %s", name, f.Name, g, f.Type)
			}
		}
		for _, v := range def.EnumValues {
			if got.EnumValues.ForName(v.Name) == nil {
				t.Fatalf("served SDL lacks %s.%s", name, v.Name)
			}
		}
	}
	if served.Query.Fields.ForName("authProviders") == nil {
		t.Fatal("served SDL lacks Query.authProviders")
	}

	// A client that has it gets 304.
	again, body := getSchema(t, e, "If-None-Match", resp.Header.Get("ETag"))
	if resp.Header.Get("ETag") == "" || again.StatusCode != http.StatusNotModified || body != "" {
		t.Fatalf("revalidation with ETag %q: %d, %d bytes", resp.Header.Get("ETag"), again.StatusCode, len(body))
	}

	// `make schema` writes the same text (web/ reads it for codegen).
	if committed, err := os.ReadFile("../../web/schema.graphql"); err != nil || string(committed) != sdl {
		t.Fatalf("web/schema.graphql is missing or stale (%v): run make schema", err)
	}

	// Where introspection is off, the schema is not published either.
	closed := newEnv(t, "sqlite", envOption{server: func(c *server.Config, _ *auth.Options) { c.NoIntrospection = true }})
	if resp, _ := getSchema(t, closed); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("schema with introspection off: %d", resp.StatusCode)
	}
}
