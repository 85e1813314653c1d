package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatty/chatty/internal/server"
)

// What reading a socket did must go on while the socket idles (parked,
// with no goroutine reading it, on Linux: wspark.go). These tests idle
// sockets for several ping intervals, then check what a client sees.

// pingClient is a bare graphql-transport-ws client that counts the
// server's WebSocket pings and answers them only when answer is set.
type pingClient struct {
	conn   *websocket.Conn
	pings  atomic.Int32
	frames chan wsFrame
	done   chan error // the read's end (a *websocket.CloseError when the server closed)
}

func dialPingClient(t *testing.T, e *env, a account, answer bool) *pingClient {
	t.Helper()
	conn, resp, err := (&websocket.Dialer{HandshakeTimeout: wsWait, Subprotocols: []string{protoTransportWS}}).Dial(e.wsURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	c := &pingClient{conn: conn, frames: make(chan wsFrame, 64), done: make(chan error, 1)}
	conn.SetPingHandler(func(m string) error { // before the reader starts
		c.pings.Add(1)
		if !answer {
			return nil
		}
		return conn.WriteControl(websocket.PongMessage, []byte(m), time.Now().Add(wsWait))
	})
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				c.done <- err
				return
			}
			var f wsFrame
			if json.Unmarshal(b, &f) == nil {
				c.frames <- f
			}
		}
	}()
	c.send(t, map[string]any{"type": "connection_init", "payload": wsBearer(a.AccessToken)})
	if f := c.next(t); f.Type != "connection_ack" {
		t.Fatalf("got %v, want connection_ack", f)
	}
	return c
}

func (c *pingClient) send(t *testing.T, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil { // only the test goroutine writes frames
		t.Fatal(err)
	}
}

func (c *pingClient) next(t *testing.T) wsFrame {
	t.Helper()
	select {
	case f := <-c.frames:
		return f
	case err := <-c.done:
		t.Fatalf("closed: %v", err)
	case <-time.After(wsWait):
		t.Fatal("no frame")
	}
	return wsFrame{}
}

// A socket idle for many ping intervals, with nothing but the server's
// pings and the client's pongs on the wire, stays open (its pongs are read
// while it idles), gets its subscription's events and answers a
// graphql-transport-ws ping; a client that answers no ping is dropped
// once it has been silent for two intervals.
func TestWebSocketIdleSocketPingsAndDeliveries(t *testing.T) {
	const interval = 400 * time.Millisecond
	e := newEnv(t, "sqlite", wsWithServer(func(c *server.Config) { c.Limits.WSPingInterval = interval }))
	a, b := e.signUp(t, "pinged"), e.signUp(t, "sender")
	cb := e.client(b)
	r, after := cb.wsOpenRoom(t, "pings", a.ID)

	live := dialPingClient(t, e, a, true)
	live.send(t, map[string]any{"type": "subscribe", "id": "m", "payload": map[string]any{"query": wsMessageAddedOp, "variables": map[string]any{"r": r.ID, "after": after}}})
	mute := dialPingClient(t, e, a, false)

	// The mute one is closed with 1000 after two intervals without a
	// pong (and not before its first pings).
	select {
	case err := <-mute.done:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
			t.Fatalf("the client that answers no ping: closed with %v, want 1000", err)
		}
		if n := mute.pings.Load(); n < 1 {
			t.Fatalf("closed after %d pings, want at least one", n)
		}
	case <-time.After(10 * interval):
		t.Fatalf("the client that answers no ping is still open after %v", 10*interval)
	}

	// Meanwhile the live one idled for more than two intervals.
	for live.pings.Load() < 5 {
		select {
		case err := <-live.done:
			t.Fatalf("the client that answers pings was closed after %d pings: %v", live.pings.Load(), err)
		case <-time.After(interval / 4):
		}
	}
	m := cb.send(t, r.ID, "still with us?")
	f := live.next(t)
	var got wsMessageAdded
	data, _ := f.result()
	if f.Type != "next" || f.ID != "m" || json.Unmarshal(data, &got) != nil || got.MessageAdded.ID != m.ID {
		t.Fatalf("got %v, want message %s", f, m.ID)
	}
	live.send(t, map[string]any{"type": "ping", "payload": map[string]any{"n": 1}})
	if f := live.next(t); f.Type != "pong" || string(f.Payload) != `{"n":1}` {
		t.Fatalf("got %v, want the pong", f)
	}
}

// A client that vanishes while its socket idles, with a reset or a FIN,
// is noticed: the server lets go of the socket, the user goes offline, and
// the subscriptions' places (200 per account) are free again.
func TestWebSocketIdleSocketPeerVanishes(t *testing.T) {
	e := newEnv(t, "sqlite")
	a, b := e.signUp(t, "vanisher"), e.signUp(t, "talker")
	cb := e.client(b)
	r, after := cb.wsOpenRoom(t, "vanish", a.ID)
	vars := map[string]any{"r": r.ID, "after": after}
	online := func() bool {
		var p wsPresence
		cb.do(t, wsPresenceOp, map[string]any{"id": a.ID}).Decode(t, &p)
		return p.Node != nil && p.Node.Online
	}

	reset, fin := e.wsConnect(t, protoTransportWS, a), e.wsConnect(t, protoTransportWS, a)
	for _, c := range []*wsClient{reset, fin} {
		for i := range 100 { // the per-connection limit: both hold the account's 200
			c.subscribe(fmt.Sprintf("m%d", i), wsMessageAddedOp, vars)
		}
	}
	sent := cb.send(t, r.ID, "are you there?")
	for _, c := range []*wsClient{reset, fin} {
		for i := range 100 {
			if m := c.message(fmt.Sprintf("m%d", i)); m.ID != sent.ID {
				t.Fatalf("m%d: got %+v, want message %s", i, m, sent.ID)
			}
		}
	}
	if !online() {
		t.Fatal("offline with two open sockets")
	}
	time.Sleep(300 * time.Millisecond) // both idle (parked where sockets park)

	// A reset: close with SO_LINGER 0.
	if err := reset.conn.NetConn().(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	reset.Close()
	// A FIN: the client stops sending but still reads; the server closes
	// its side (1000) when it reads the end.
	if err := fin.conn.NetConn().(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	fin.expectClose(websocket.CloseNormalClosure, wsWait)

	wsWaitSockets(t, e, 0)
	for deadline := time.Now().Add(wsWait); online(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still online %v after both sockets went", wsWait)
		}
	}
	c1, c2 := e.wsConnect(t, protoTransportWS, a), e.wsConnect(t, protoTransportWS, a)
	for _, c := range []*wsClient{c1, c2} {
		for i := range 100 {
			c.subscribeUntilAccepted(t, fmt.Sprintf("again%d", i), vars, sent.ID)
		}
	}
}
