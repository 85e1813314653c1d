package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t, "sqlite")
	if code, _ := get(t, e.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	if code, _ := get(t, e.URL+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d with the database up", code)
	}
	e.DB.Close() // the database goes away
	if code, _ := get(t, e.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d with the database closed, want 503", code)
	}
	if code, _ := get(t, e.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d: the process still serves", code)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.anon().do(t, `{ viewer { id } }`, nil)
	e.anon().do(t, `{ searchUsers(query: "x") { totalCount } }`, nil) // UNAUTHENTICATED
	for _, method := range []string{http.MethodPut, "BREW"} {         // 405 from the transport
		req, _ := http.NewRequest(method, e.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	code, body := get(t, e.URL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	// An open WebSocket counts while it is open.
	ws := e.wsConnect(t, protoTransportWS, e.signUp(t, "metered"))
	if _, open := get(t, e.URL+"/metrics"); !strings.Contains(open, "chatty_websocket_connections 1\n") {
		t.Errorf("/metrics with one socket open lacks chatty_websocket_connections 1")
	}
	ws.CloseNormally()
	wsWaitSockets(t, e, 0)
	// An upgrade from a foreign browser origin is refused: counted as an upgrade too.
	if _, resp, err := wsTryDial(e, protoTransportWS, http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("upgrade from a foreign origin: %v %v", resp, err)
	}
	_, body = get(t, e.URL+"/metrics")
	for _, want := range []string{
		`chatty_http_requests_total{code="200",method="post",route="graphql"} 3`, // promhttp lower-cases methods
		`chatty_http_requests_total{code="405",method="put",route="graphql"} 1`,
		`chatty_http_requests_total{code="405",method="unknown",route="graphql"} 1`, // a method of nobody's standard
		`chatty_graphql_errors_total{code="UNAUTHENTICATED"} 1`,
		// Three POSTs and two refusals: the WebSocket's lifetime is not a request's latency.
		`chatty_http_request_duration_seconds_count{route="graphql"} 5`,
		`chatty_websocket_upgrades_total{code="101",route="graphql"} 1`,
		`chatty_websocket_upgrades_total{code="403",route="graphql"} 1`,
		`chatty_websocket_connections 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestGetQueryAndCORS(t *testing.T) {
	e := newEnv(t, "sqlite")
	code, body := get(t, e.URL+"/graphql?query=%7B__typename%7D")
	if code != http.StatusOK || !strings.Contains(body, `"__typename":"Query"`) {
		t.Fatalf("GET query: %d %s", code, body)
	}
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.URL+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight("http://chatty.test"); resp.Header.Get("Access-Control-Allow-Origin") != "http://chatty.test" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight from the public origin: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from a foreign origin was allowed: %v", resp.Header)
	}
}
