package server_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/chatty/chatty/web/widget"
)

// /widget.js is a public classic script: any page may include it (also
// with crossorigin/integrity or under COEP), caches keep it for minutes
// and revalidate by ETag.
func TestWidgetScriptServed(t *testing.T) {
	e := newEnv(t, "sqlite")
	get := func(method string, h map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, e.URL+"/widget.js", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, body := get(http.MethodGet, map[string]string{"Origin": "https://shop.example"})
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, widget.Script) || len(body) == 0 {
		t.Fatalf("GET /widget.js: %d, %d bytes (embedded: %d)", res.StatusCode, len(body), len(widget.Script))
	}
	if !bytes.Contains(body, []byte("ChattyWidget")) {
		t.Error("the script does not define ChattyWidget")
	}
	for k, want := range map[string]string{
		"Content-Type":                 "text/javascript; charset=utf-8",
		"Cache-Control":                "public, max-age=300, stale-while-revalidate=86400",
		"Access-Control-Allow-Origin":  "*",
		"Cross-Origin-Resource-Policy": "cross-origin",
		"X-Content-Type-Options":       "nosniff",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	etag := res.Header.Get("ETag")
	if len(etag) < 10 {
		t.Fatalf("ETag %q", etag)
	}
	if res, body := get(http.MethodGet, map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("revalidation: %d with %d bytes, want 304 and none", res.StatusCode, len(body))
	}
	if res, body := get(http.MethodHead, nil); res.StatusCode != http.StatusOK || len(body) != 0 {
		t.Errorf("HEAD: %d with %d bytes", res.StatusCode, len(body))
	}
}

// totalUnread is a badge's first value: the viewer's unread messages over
// all rooms, the number notifications then carry.
func TestTotalUnread(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "에이스"), e.signUp(t, "비비")
		ca, cb := e.client(a), e.client(b)
		total := func(c *client) int {
			t.Helper()
			var d struct{ TotalUnread int }
			c.do(t, `{ totalUnread }`, nil).Decode(t, &d)
			return d.TotalUnread
		}
		if n := total(cb); n != 0 {
			t.Fatalf("a new account has %d unread", n)
		}
		direct := ca.createRoom(t, nil, b.ID)
		group := ca.createRoom(t, wsPtr("group"), b.ID)
		ca.send(t, direct.ID, "one")
		ca.send(t, direct.ID, "two")
		ca.send(t, group.ID, "three")
		cb.send(t, group.ID, "mine") // one's own messages are never unread
		if n := total(cb); n != 3 {
			t.Fatalf("B: %d unread, want 3", n)
		}
		if n := total(ca); n != 1 {
			t.Fatalf("A: %d unread, want 1 (B's message)", n)
		}
		cb.do(t, markReadOp, map[string]any{"r": direct.ID}).Decode(t, &struct{}{})
		if n := total(cb); n != 1 {
			t.Fatalf("B after reading the direct room: %d unread, want 1", n)
		}
		if r := e.anon().do(t, `{ totalUnread }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("anonymous: %s", r.Raw)
		}
	})
}
