package server_test

// A benchmark of what one GraphQL request over HTTP costs through the real
// http.Handler (no network: httptest's recorder), with a real access token,
// on SQLite: the fixed cost every request pays (middleware, token check,
// gqlgen's parse cache, limits, loaders, the response's encoding) in
// typename (no resolver) and viewer (one read), and what grows with the
// work in send and rooms. Compare
// allocs/op and cpu-ns/op between runs, not absolute times.
//
//	go test ./internal/server/ -run '^$' -bench RequestOverhead -benchmem
//	go test ./internal/server/ -run '^$' -bench RequestOverhead/viewer -cpuprofile cpu.out -memprofile mem.out

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/chatty/chatty/internal/cputime"
)

func BenchmarkRequestOverhead(b *testing.B) {
	e := newEnv(b, "sqlite")
	a, f := benchSignUp(b, e, "overhead"), benchSignUp(b, e, "friend")
	var room struct{ CreateRoom struct{ ID string } }
	for i := range 10 {
		benchDo(b, e, a.AccessToken, createRoomOp, map[string]any{"ids": []string{f.ID}, "name": fmt.Sprintf("room %d", i)}, &room)
		benchDo(b, e, f.AccessToken, `mutation($r: ID!, $b: String!) { sendMessage(input: {roomId: $r, body: $b}) { id } }`,
			map[string]any{"r": room.CreateRoom.ID, "b": "hello"}, nil)
	}
	h := e.Server.Handler()
	for _, c := range []struct {
		name, query string
		vars        map[string]any
		check       func(b *testing.B, data json.RawMessage)
	}{
		{"typename", `{ __typename }`, nil, nil}, // the token is checked, nothing is read
		{"viewer", `{ viewer { id } }`, nil, func(b *testing.B, data json.RawMessage) {
			if want := `{"viewer":{"id":"` + a.ID + `"}}`; string(data) != want {
				b.Fatalf("viewer: %s, want %s", data, want)
			}
		}},
		{"send", `mutation($r: ID!, $b: String!) { sendMessage(input: {roomId: $r, body: $b}) { id seq createdAt } }`,
			map[string]any{"r": room.CreateRoom.ID, "b": "a line of chat, long enough to look like one"}, nil},
		{"rooms", `{ rooms(first: 10) { edges { cursor node { id name kind unreadCount members { id nickname } lastMessage { id body seq } } } } }`,
			nil, func(b *testing.B, data json.RawMessage) {
				var out struct{ Rooms struct{ Edges []any } }
				if err := json.Unmarshal(data, &out); err != nil || len(out.Rooms.Edges) != 10 {
					b.Fatalf("rooms: %v %s", err, data)
				}
			}},
	} {
		b.Run(c.name, func(b *testing.B) {
			body, _ := json.Marshal(map[string]any{"query": c.query, "variables": c.vars})
			header := http.Header{
				"Content-Type":  {"application/json"},
				"Authorization": {"Bearer " + a.AccessToken},
			}
			// serve runs one request as net/http would hand it over.
			serve := func() *httptest.ResponseRecorder {
				req := &http.Request{
					Method: http.MethodPost, URL: &url.URL{Path: "/graphql"}, Host: "chatty.test",
					Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, RemoteAddr: "192.0.2.1:1234",
					Header: header, ContentLength: int64(len(body)), Body: io.NopCloser(bytes.NewReader(body)),
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
					b.Fatalf("%s: %d %s", c.name, rec.Code, rec.Body.Bytes())
				}
				return rec
			}
			var out struct{ Data json.RawMessage }
			if err := json.Unmarshal(serve().Body.Bytes(), &out); err != nil { // the parse cache, the session cache
				b.Fatal(err)
			}
			if c.check != nil {
				c.check(b, out.Data)
			}
			cpu := cputime.Self()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				serve()
			}
			b.StopTimer()
			b.ReportMetric(float64((cputime.Self()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
