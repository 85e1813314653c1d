package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/server"
)

// A subscription sent as a plain HTTP request is refused at once with 400
// BAD_USER_INPUT pointing to the WebSocket, whichever HTTP transport
// carries it, and takes none of the user's subscription slots.
func TestSubscriptionOverHTTPIsRefused(t *testing.T) {
	e := newEnv(t, "sqlite", wsWithServer(func(c *server.Config) { c.DBTimeout = time.Minute }))
	a := e.signUp(t, "subscriber")
	sub := `subscription { notifications { kind } }`
	body, _ := json.Marshal(map[string]any{"query": sub})
	auth := []string{"Authorization", "Bearer " + a.AccessToken}

	check := func(name string, status int, errs []gqlError, raw string) {
		t.Helper()
		if status != http.StatusBadRequest || len(errs) != 1 || errs[0].Code() != "BAD_USER_INPUT" || !strings.Contains(errs[0].Message, "WebSocket") {
			t.Fatalf("subscription over %s: %d %s, want 400 BAD_USER_INPUT about the WebSocket", name, status, raw)
		}
	}
	for _, accept := range []string{"application/json", "application/graphql-response+json"} {
		x := call(t, e, http.MethodPost, string(body), append([]string{"Content-Type", "application/json", "Accept", accept}, auth...)...)
		check("POST ("+accept+")", x.Status, x.errors(t), x.Raw)
		if _, ok := x.Body["data"]; ok {
			t.Fatalf("a refused subscription has a data entry: %s", x.Raw)
		}
		x = call(t, e, http.MethodGet, "query="+url.QueryEscape(sub), append([]string{"Accept", accept}, auth...)...)
		check("GET ("+accept+")", x.Status, x.errors(t), x.Raw)
	}
	resp := e.client(a).upload(t, sub, map[string]any{"f": nil}, "f", "x.txt", []byte("x"))
	check("multipart", resp.Status, resp.Errors, resp.Raw)

	// Far more than a user's subscription slots, each answered at once:
	// none of them was left running.
	for range 5 {
		x := call(t, e, http.MethodPost, string(body), append([]string{"Content-Type", "application/json"}, auth...)...)
		check("POST", x.Status, x.errors(t), x.Raw)
	}
	ws := e.wsConnect(t, protoTransportWS, a)
	ws.subscribe("n", sub, nil)
	ws.quiet("n", 200*time.Millisecond) // live, not refused
}

// multipartRequest posts a hand-built multipart body to /graphql.
func multipartRequest(t *testing.T, e *env, token, contentType string, body []byte) gqlResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Apollo-Require-Preflight", "true")
	req.Header.Set("Authorization", "Bearer "+token)
	return send(t, req)
}

// A malformed multipart request is answered 400 BAD_USER_INPUT saying
// what is wrong, never an uncoded 422.
func TestBrokenMultipartIsBadUserInput(t *testing.T) {
	e := newEnv(t, "sqlite")
	a := e.signUp(t, "uploader")
	room := e.client(a).createRoom(t, ptr("files"), e.signUp(t, "peer").ID)
	ops, _ := json.Marshal(map[string]any{"query": sendFileOp, "variables": map[string]any{"r": room.ID, "f": nil}})

	// build writes the parts (name, filename, content; filename "" for a field).
	build := func(parts ...[3]string) (string, []byte) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for _, p := range parts {
			var w io.Writer
			if p[1] == "" {
				w, _ = mw.CreateFormField(p[0])
			} else {
				w, _ = mw.CreateFormFile(p[0], p[1])
			}
			_, _ = w.Write([]byte(p[2]))
		}
		_ = mw.Close()
		return mw.FormDataContentType(), b.Bytes()
	}
	good := func() (string, []byte) {
		return build([3]string{"operations", "", string(ops)}, [3]string{"map", "", `{"0":["variables.f"]}`}, [3]string{"0", "a.txt", "hello"})
	}
	ct, whole := good()
	boundary := ct[strings.Index(ct, "boundary=")+len("boundary="):]

	type badBody struct {
		contentType string
		body        []byte
		field       string // extensions.field expected, if any
	}
	withParts := func(field string, parts ...[3]string) badBody {
		ct, b := build(parts...)
		return badBody{ct, b, field}
	}
	nul := bytes.Replace(whole, []byte(`name="0"; filename="a.txt"`), []byte("name=\"0\x00\"; filename=\"a\x00.txt\"\x00"), 1)
	nul = bytes.Replace(nul, []byte("Content-Type: application/octet-stream"), []byte("Content-\x00Type: x"), 1)
	opsPart := [3]string{"operations", "", string(ops)}
	filePart := [3]string{"0", "a.txt", "x"}
	cases := map[string]badBody{
		"NUL in a part header":     {ct, nul, ""},
		"truncated body":           {ct, whole[:len(whole)-len(boundary)-10], ""},
		"no boundary":              {"multipart/form-data", whole, ""},
		"garbage":                  {ct, []byte("\x00\x01\x02 not multipart at all"), "operations"},
		"operations not JSON":      withParts("operations", [3]string{"operations", "", "{nope"}, [3]string{"map", "", `{}`}),
		"operations missing":       withParts("operations", [3]string{"map", "", `{}`}),
		"map not JSON":             withParts("map", opsPart, [3]string{"map", "", "\x00"}),
		"map names a missing file": withParts("map", opsPart, [3]string{"map", "", `{"0":["variables.f"]}`}),
		"map path to nowhere":      withParts("map", opsPart, [3]string{"map", "", `{"0":["variables.nothing.here"]}`}, filePart),
		"file not in the map":      withParts("map", opsPart, [3]string{"map", "", `{}`}, filePart),
		// Each path and file once held an open file: a 1 MiB map could
		// exhaust the process's descriptors.
		"too many paths": withParts("map", opsPart, [3]string{"map", "", `{"0":[` + strings.Repeat(`"variables.f",`, 50) + `"variables.f"]}`}, filePart),
		"too many files": withParts("map", opsPart, [3]string{"map", "", func() string {
			var keys []string
			for i := range 11 {
				keys = append(keys, fmt.Sprintf(`"%d":["variables.f"]`, i))
			}
			return "{" + strings.Join(keys, ",") + "}"
		}()}, filePart),
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			resp := multipartRequest(t, e, a.AccessToken, c.contentType, c.body)
			if resp.Status != http.StatusBadRequest || resp.Code() != "BAD_USER_INPUT" {
				t.Fatalf("%d %s, want 400 BAD_USER_INPUT", resp.Status, resp.Raw)
			}
			if c.field != "" && resp.Errors[0].Extensions["field"] != c.field {
				t.Fatalf("field %v, want %q: %s", resp.Errors[0].Extensions["field"], c.field, resp.Raw)
			}
			if len(resp.Data) > 0 {
				t.Fatalf("a refused request has data: %s", resp.Raw)
			}
		})
	}
	// Without signing in, nothing of the body is read: 401.
	for name, token := range map[string]string{"no token": "", "a bad token": "not-a-token"} {
		ct, whole := good()
		req, _ := http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(whole))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Apollo-Require-Preflight", "true")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if resp := send(t, req); resp.Status != http.StatusUnauthorized || resp.Code() != "UNAUTHENTICATED" {
			t.Fatalf("an upload with %s: %d %s, want 401 UNAUTHENTICATED", name, resp.Status, resp.Raw)
		}
	}
	// The well-formed request still goes through.
	ct, whole = good()
	var out struct{ SendFile fileMessage }
	multipartRequest(t, e, a.AccessToken, ct, whole).Decode(t, &out)
	if out.SendFile.Kind != "FILE" || out.SendFile.Attachment.Size != 5 {
		t.Fatalf("good upload = %+v", out.SendFile)
	}
}

// serveWith runs e's handler behind a real http.Server with short
// timeouts (as cmd/chatty builds it), returning an env that talks to it.
func serveWith(t *testing.T, e *env) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := e.Server.HTTPServer(ln.Addr().String())
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	})
	out := *e
	out.URL = "http://" + ln.Addr().String()
	return &out
}

// shortTimeouts keep the tests short; the write timeout is also the time
// an upload's answer has once its body is in, so it leaves room for an
// 8 MiB sendFile under -race on a busy machine.
var shortTimeouts = server.Timeouts{ReadHeader: 300 * time.Millisecond, Read: time.Second, Write: 2 * time.Second, Idle: time.Second}

// A client that never finishes its headers is cut off; a WebSocket
// outlives the write and idle timeouts; a file download to a slow reader
// outlives the write timeout.
func TestHTTPServerTimeouts(t *testing.T) {
	// Set-up goes through base (the same server without http.Server
	// timeouts: an 8 MiB upload may take more than a second to send under
	// -race); what is tested goes through e.
	base := newEnv(t, "sqlite", wsWithServer(func(c *server.Config) { c.Timeouts = shortTimeouts }))
	e := serveWith(t, base)

	t.Run("slow headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("POST /graphql HTTP/1.1\r\nHost: x\r\n")) // and nothing more
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = bufio.NewReader(conn).ReadString('\n')
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Fatalf("a connection that never finished its headers was kept open (%v)", err)
		}
	})

	t.Run("websocket", func(t *testing.T) {
		a, b := base.signUp(t, "patient"), base.signUp(t, "later")
		room, cursor := base.client(a).wsOpenRoom(t, "slow", b.ID)
		ws := e.wsConnect(t, protoTransportWS, a)
		ws.subscribe("m", wsMessageAddedOp, map[string]any{"r": room.ID, "after": cursor})
		time.Sleep(max(shortTimeouts.Write, shortTimeouts.Idle) + 500*time.Millisecond) // past the write and idle timeouts
		sent := base.client(b).send(t, room.ID, "still there?")
		if got := ws.message("m"); got.ID != sent.ID {
			t.Fatalf("message after the timeouts: %+v, want %s", got, sent.ID)
		}
	})

	t.Run("slow download", func(t *testing.T) {
		a, b := base.signUp(t, "sender"), base.signUp(t, "slow reader")
		room := base.client(a).createRoom(t, ptr("big"), b.ID)
		content := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16) // 8 MiB, not an image
		var out struct{ SendFile fileMessage }
		base.client(a).upload(t, sendFileOp, map[string]any{"r": room.ID, "f": nil}, "f", "big.bin", content).Decode(t, &out)
		u, _ := url.Parse(out.SendFile.Attachment.URL)

		// A client with a tiny receive buffer that waits past the write
		// timeout before it reads.
		client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(256 << 10)
			}
			return c, err
		}}}
		resp, err := client.Get(e.URL + u.RequestURI())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		time.Sleep(shortTimeouts.Write + shortTimeouts.Write/2) // past the write timeout
		got, err := io.ReadAll(resp.Body)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("download to a slow reader: %d of %d bytes, err %v", len(got), len(content), err)
		}
	})
}
