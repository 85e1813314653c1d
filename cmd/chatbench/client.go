package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// sources hands out loopback source addresses (127.0.0.2, 127.0.0.3, …) in
// turn, so that many sockets do not run out of ephemeral ports of one
// address. Loopback only: chatbench never dials anything else.
type sources struct {
	n    int
	next atomic.Uint32
}

func (s *sources) dialer() *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if s != nil && s.n > 1 {
		i := int(s.next.Add(1)) % s.n
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
	}
	return d
}

func (s *sources) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return s.dialer().DialContext(ctx, network, addr)
}

// api is a GraphQL client of one chatty (or of the raw hub) over HTTP.
type api struct {
	base string // http://127.0.0.1:port
	http *http.Client
	src  *sources
}

func newAPI(base string, src *sources) (*api, error) {
	base = strings.TrimRight(base, "/")
	if err := loopbackOnly(base); err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext:         src.DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     30 * time.Second,
	}
	return &api{base: base, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}, src: src}, nil
}

// loopbackOnly refuses a URL whose host is not a loopback address: the
// bench is for this machine's own chatty.
func loopbackOnly(base string) error {
	rest, ok := strings.CutPrefix(base, "http://")
	if !ok {
		return fmt.Errorf("url %q: want http://127.0.0.1:port (loopback only)", base)
	}
	host, _, err := net.SplitHostPort(strings.SplitN(rest, "/", 2)[0])
	if err != nil {
		return fmt.Errorf("url %q: %w", base, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("url %q: not a loopback address (chatbench only drives this machine)", base)
	}
	return nil
}

func (a *api) wsURL() string { return "ws" + strings.TrimPrefix(a.base, "http") + "/graphql" }

// gqlError is one entry of a response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) Error() string {
	if c, _ := e.Extensions["code"].(string); c != "" {
		return c + ": " + e.Message
	}
	return e.Message
}

// codeOf is the extensions.code of err when it is a GraphQL error, else a
// short kind ("transport").
func codeOf(err error) string {
	var g gqlError
	if errors.As(err, &g) {
		if c, _ := g.Extensions["code"].(string); c != "" {
			return c
		}
		return "ERROR"
	}
	return "transport"
}

// do POSTs one operation and decodes data into out.
func (a *api) do(ctx context.Context, token, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, raw)
	}
	if len(r.Errors) > 0 {
		return r.Errors[0]
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// get fetches a plain path (for /metrics).
func (a *api) get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(b), err
}

// delivery is one message a subscriber received: its seq and when (on the
// bench's one monotonic clock).
type delivery struct {
	seq int64
	at  time.Duration
}

// subscriber is one WebSocket with one graphql-transport-ws subscription
// (operation id "1"), read by its own goroutine.
type subscriber struct {
	conn *websocket.Conn

	mu        sync.Mutex
	got       []delivery
	errs      []string
	closeCode int
	done      chan struct{}
	count     atomic.Int64 // messages received
	last      atomic.Int64 // seq of the newest
}

// frame is what the reader decodes of a server message; payload is read
// lazily only for what the bench needs.
type frame struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Payload json.RawMessage
}

type nextPayload struct {
	Data struct {
		MessageAdded *struct {
			Seq int64 `json:"seq"`
		} `json:"messageAdded"`
	} `json:"data"`
	Errors []gqlError `json:"errors"`
}

var wsDialerPool = &sync.Pool{}

// subscribe opens a socket to wsURL, initialises it with token and starts
// the subscription query. The returned subscriber records every message.
func subscribe(ctx context.Context, src *sources, wsURL, token, query string, vars map[string]any, clock *clock) (*subscriber, error) {
	d := websocket.Dialer{
		NetDialContext:   src.DialContext,
		HandshakeTimeout: 15 * time.Second,
		Subprotocols:     []string{"graphql-transport-ws"},
		ReadBufferSize:   2048,
		WriteBufferSize:  1024,
		WriteBufferPool:  wsDialerPool,
	}
	conn, _, err := d.DialContext(ctx, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	fail := func(err error) (*subscriber, error) { conn.Close(); return nil, err }
	_ = conn.SetWriteDeadline(time.Now().Add(15 * time.Second))
	if err := conn.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}); err != nil {
		return fail(fmt.Errorf("connection_init: %w", err))
	}
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	var ack frame
	if err := conn.ReadJSON(&ack); err != nil {
		return fail(fmt.Errorf("connection_ack: %w", err))
	}
	if ack.Type != "connection_ack" {
		return fail(fmt.Errorf("connection_init answered %q", ack.Type))
	}
	if err := conn.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}}); err != nil {
		return fail(fmt.Errorf("subscribe: %w", err))
	}
	_ = conn.SetReadDeadline(time.Time{})
	_ = conn.SetWriteDeadline(time.Time{})
	s := &subscriber{conn: conn, done: make(chan struct{})}
	go s.read(clock)
	return s, nil
}

func (s *subscriber) read(clock *clock) {
	defer close(s.done)
	for {
		_, b, err := s.conn.ReadMessage()
		at := clock.now()
		if err != nil {
			var ce *websocket.CloseError
			s.mu.Lock()
			if errors.As(err, &ce) {
				s.closeCode = ce.Code
			} else if s.closeCode == 0 {
				s.closeCode = -1 // gone without a close frame (or closed by us)
			}
			s.mu.Unlock()
			return
		}
		if seq, ok := fastNext(b); ok { // the common case, without a JSON decode: the bench's own CPU stays small
			s.mu.Lock()
			s.got = append(s.got, delivery{seq: seq, at: at})
			s.mu.Unlock()
			s.count.Add(1)
			s.last.Store(seq)
			continue
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil {
			s.addErr("bad frame: " + string(b))
			continue
		}
		switch f.Type {
		case "next":
			var p nextPayload
			if err := json.Unmarshal(f.Payload, &p); err != nil || p.Data.MessageAdded == nil {
				s.addErr(fmt.Sprintf("next without messageAdded: %.200s", f.Payload))
				continue
			}
			if len(p.Errors) > 0 {
				s.addErr(p.Errors[0].Error())
			}
			s.mu.Lock()
			s.got = append(s.got, delivery{seq: p.Data.MessageAdded.Seq, at: at})
			s.mu.Unlock()
			s.count.Add(1)
			s.last.Store(p.Data.MessageAdded.Seq)
		case "ping":
			s.mu.Lock()
			_ = s.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
			s.mu.Unlock()
		case "pong":
		case "error", "complete":
			s.addErr(fmt.Sprintf("%s: %.200s", f.Type, f.Payload))
		default:
			s.addErr("unexpected " + f.Type)
		}
	}
}

func (s *subscriber) addErr(e string) {
	s.mu.Lock()
	if len(s.errs) < 5 {
		s.errs = append(s.errs, e)
	}
	s.mu.Unlock()
}

// close ends the socket politely and waits for the reader (bounded).
func (s *subscriber) close() {
	s.mu.Lock()
	_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-time.After(2 * time.Second):
	}
	s.conn.Close()
	<-s.done
}

// deliveries is a copy of what the subscriber received so far.
func (s *subscriber) deliveries() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivery(nil), s.got...)
}

// clock is the bench's one monotonic clock.
type clock struct{ t0 time.Time }

func newClock() *clock              { return &clock{t0: time.Now()} }
func (c *clock) now() time.Duration { return time.Since(c.t0) }
func ms(d time.Duration) float64    { return float64(d) / float64(time.Millisecond) }
func secs(d time.Duration) float64  { return d.Seconds() }

// fastNext reads the seq of a plain "next" frame of messageAdded (no
// errors) without decoding the JSON: a quote inside a JSON string is
// escaped, so `"seq":` and `"type":"next"` can only be keys here, and a
// messageAdded selection has one seq. Anything else goes the slow way.
func fastNext(b []byte) (int64, bool) {
	if !bytes.Contains(b, []byte(`"type":"next"`)) || bytes.Contains(b, []byte(`"errors"`)) {
		return 0, false
	}
	i := bytes.Index(b, []byte(`"seq":`))
	if i < 0 || bytes.Count(b, []byte(`"seq":`)) != 1 {
		return 0, false
	}
	var seq int64
	j := i + len(`"seq":`)
	for ; j < len(b) && b[j] == ' '; j++ {
	}
	start := j
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		seq = seq*10 + int64(b[j]-'0')
	}
	if j == start || j-start > 18 {
		return 0, false
	}
	return seq, true
}
