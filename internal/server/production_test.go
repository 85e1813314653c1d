package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chatty/chatty/internal/server"
)

const schemaQuery = `{ __schema { queryType { name } } }`

// With introspection off, __schema and __type are refused before anything
// runs, with a coded validation error, over POST, GET and WebSocket, also
// when hidden in a fragment; __typename and ordinary queries still work.
func TestIntrospectionOff(t *testing.T) {
	e := newEnv(t, "sqlite", wsWithServer(func(c *server.Config) { c.NoIntrospection = true }))
	a := e.signUp(t, "운영자")

	for name, q := range map[string]string{
		"__schema":              schemaQuery,
		"__type":                `{ __type(name: "User") { name fields { name } } }`,
		"in a fragment":         `query { viewer { id } ...F } fragment F on Query { ...G } fragment G on Query { __type(name: "Room") { name } }`,
		"in an inline fragment": `{ ... on Query { __schema { types { name } } } }`,
	} {
		r := e.as(a.AccessToken).do(t, q, nil)
		if r.Code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(r.Errors[0].Message, "introspection is disabled") {
			t.Errorf("%s over POST: %s", name, r.Raw)
		}
		if len(r.Data) > 0 && string(r.Data) != "null" {
			t.Errorf("%s over POST was executed: %s", name, r.Raw)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, e.URL+"/graphql?query="+url.QueryEscape(schemaQuery), nil)
	req.Header.Set("Accept", "application/graphql-response+json")
	if r := send(t, req); r.Status != http.StatusBadRequest || r.Code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("__schema over GET: %d %s", r.Status, r.Raw)
	}

	ws := e.wsConnect(t, protoTransportWS, a)
	ws.subscribe("1", schemaQuery, nil)
	if code := ws.refused("1"); code != "GRAPHQL_VALIDATION_FAILED" {
		t.Errorf("__schema over WebSocket: %s", code)
	}

	var got struct {
		Typename string `json:"__typename"`
		Viewer   struct{ ID string }
	}
	e.as(a.AccessToken).do(t, `{ __typename viewer { id __typename } }`, nil).Decode(t, &got)
	if got.Typename != "Query" || got.Viewer.ID != a.ID {
		t.Errorf("__typename with introspection off: %+v", got)
	}
}

// By default (development) introspection answers, as GraphiQL needs.
func TestIntrospectionOnByDefault(t *testing.T) {
	e := newEnv(t, "sqlite")
	var got struct {
		Schema struct{ QueryType struct{ Name string } } `json:"__schema"`
	}
	e.anon().do(t, schemaQuery, nil).Decode(t, &got)
	if got.Schema.QueryType.Name != "Query" {
		t.Fatalf("__schema = %+v", got)
	}
}

// With MetricsApart, /metrics is not on the main handler; MetricsHandler
// serves it, counting the main handler's requests.
func TestMetricsApart(t *testing.T) {
	e := newEnv(t, "sqlite", wsWithServer(func(c *server.Config) { c.MetricsApart = true }))
	if code, _ := get(t, e.URL+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the main address = %d, want 404", code)
	}
	e.anon().do(t, `{ __typename }`, nil)
	ms := httptest.NewServer(e.Server.MetricsHandler())
	t.Cleanup(ms.Close)
	code, body := get(t, ms.URL+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `chatty_http_requests_total{code="200",method="post",route="graphql"} 1`) {
		t.Errorf("/metrics on its own address: %d\n%s", code, body)
	}
	if code, _ := get(t, ms.URL+"/graphql?query=%7B__typename%7D"); code != http.StatusNotFound {
		t.Errorf("the metrics address serves /graphql: %d", code)
	}
}
