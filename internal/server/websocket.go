package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
)

// Close codes of the graphql-transport-ws protocol
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md) and
// the ones chatty adds.
const (
	closeBadMessage         = 4400
	closeUnauthorized       = 4401 // subscribe before connection_ack
	closeForbidden          = 4403 // connection_init refused, or the access token expired
	closeInitTimeout        = 4408
	closeDuplicateID        = 4409
	closeTooManyInits       = 4429
	closeTryAgainLater      = 1013 // a subscriber fell behind: reconnect and resume with `after`
	closeGoingAway          = 1001 // the server shuts down
	subprotocolTransportWS  = "graphql-transport-ws"
	subprotocolLegacyWS     = "graphql-ws"
	wsControlWriteTimeout   = time.Second
	defaultWSMaxSubsPerConn = 100
)

// wsOptions tune the WebSocket side.
type wsOptions struct {
	PingInterval   time.Duration // WebSocket ping; a peer silent for two intervals is dropped
	WriteTimeout   time.Duration // a write that takes longer drops the peer
	InitTimeout    time.Duration // connection_init must come within this
	MaxSubsPerConn int
	ReadLimit      int64
}

// gorillaWS is gqlgen's transport.WebsocketImplementation on
// gorilla/websocket (gqlgen dropped its own gorilla support). Besides
// framing it closes the gaps between gqlgen's graphql-transport-ws handling
// and the protocol: 4400 for a message that is not one, 4401 for subscribe
// before ack, 4408 for a missing connection_init, 4409 for a duplicate
// operation id, 4429 for a second connection_init.
type gorillaWS struct {
	opts     wsOptions
	upgrader websocket.Upgrader
	conns    *wsRegistry
}

func newGorillaWS(o wsOptions, origins *originPolicy, conns *wsRegistry) *gorillaWS {
	return &gorillaWS{
		opts:  o,
		conns: conns,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   4096,
			WriteBufferSize:  4096,
			WriteBufferPool:  &sync.Pool{}, // idle connections hold no write buffer
			CheckOrigin:      func(r *http.Request) bool { return origins.allows(r.Header.Get("Origin"), r) },
		},
	}
}

// Accept implements transport.WebsocketImplementation.
func (g *gorillaWS) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	up := g.upgrader
	up.Subprotocols = o.Subprotocols
	ws, err := up.Upgrade(w, r, o.ResponseHeader)
	if err != nil {
		return nil, err // gorilla has answered the request (403 for a foreign origin)
	}
	c := &wsConn{
		ws:       ws,
		opts:     g.opts,
		protocol: ws.Subprotocol(),
		active:   map[string]bool{},
		done:     make(chan struct{}),
		registry: g.conns,
	}
	if slot, ok := r.Context().Value(wsSlotKey{}).(*wsSlot); ok {
		slot.conn = c
	}
	ws.SetReadLimit(g.opts.ReadLimit)
	_ = ws.SetReadDeadline(time.Now().Add(2 * g.opts.PingInterval))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(2 * g.opts.PingInterval))
	})
	c.initTimer = time.AfterFunc(g.opts.InitTimeout, func() {
		c.mu.Lock()
		seen := c.initSeen
		c.mu.Unlock()
		if !seen {
			c.closeWith(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	g.conns.add(c)
	go c.ping()
	return c, nil
}

// wsConn is one WebSocket connection. gqlgen reads from one goroutine and
// serialises its writes; chatty's own writes (errors it answers itself,
// pings, closes) take writeMu or use gorilla's concurrency-safe WriteControl.
type wsConn struct {
	ws       *websocket.Conn
	opts     wsOptions
	protocol string
	registry *wsRegistry

	writeMu sync.Mutex

	mu        sync.Mutex
	initSeen  bool
	acked     bool
	active    map[string]bool // operation ids running
	onClose   []func()
	closed    bool
	initTimer *time.Timer
	done      chan struct{}
}

var errClosedByServer = errors.New("websocket closed by the server")

// frame is the part of a protocol message chatty looks at.
type frame struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// NextReader implements transport.WebsocketConn: it hands gqlgen the next
// message after checking it against the protocol.
func (c *wsConn) NextReader() (int, io.Reader, error) {
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				return 0, nil, transport.ErrWebsocketClosed
			}
			return 0, nil, err
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(2 * c.opts.PingInterval))
		var f frame
		if json.Unmarshal(data, &f) != nil || f.Type == "" {
			c.closeWith(closeBadMessage, "Invalid message received")
			return 0, nil, errClosedByServer
		}
		switch v := c.check(f); {
		case v.closeCode != 0:
			c.closeWith(v.closeCode, v.reason)
			return 0, nil, errClosedByServer
		case v.refuse != "":
			c.refuse(f.ID, v.refuse)
		default:
			return mt, bytes.NewReader(data), nil
		}
	}
}

// verdict is what check decides about an incoming message: pass it on
// (zero), answer it with an error (refuse), or close the connection.
type verdict struct {
	closeCode int
	reason    string
	refuse    string
}

// check applies the protocol's rules to an incoming message.
func (c *wsConn) check(f frame) verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch f.Type {
	case "connection_init":
		if c.initSeen {
			return verdict{closeCode: closeTooManyInits, reason: "Too many initialisation requests"}
		}
		c.initSeen = true
	case "subscribe", "start":
		switch {
		case f.Type == "subscribe" && !c.acked:
			return verdict{closeCode: closeUnauthorized, reason: "Unauthorized"}
		case f.ID == "":
			return verdict{closeCode: closeBadMessage, reason: "Invalid message received: subscribe without an id"}
		case c.active[f.ID]:
			return verdict{closeCode: closeDuplicateID, reason: "Subscriber for " + f.ID + " already exists"}
		case len(c.active) >= c.opts.MaxSubsPerConn:
			return verdict{refuse: "too many subscriptions on this connection (at most " + strconv.Itoa(c.opts.MaxSubsPerConn) + ")"}
		}
		c.active[f.ID] = true
	case "complete", "stop":
		delete(c.active, f.ID)
	}
	return verdict{}
}

// refuse answers a subscribe with an error of its own, RATE_LIMITED.
func (c *wsConn) refuse(id, message string) {
	typ := "error"
	payload := []any{map[string]any{"message": message, "extensions": map[string]any{"code": "RATE_LIMITED"}}}
	msg := map[string]any{"type": typ, "id": id, "payload": payload}
	if c.protocol != subprotocolTransportWS { // legacy graphql-ws: an error, then complete
		msg["payload"] = payload[0]
	}
	_ = c.WriteJSON(msg)
	if c.protocol != subprotocolTransportWS {
		_ = c.WriteJSON(map[string]any{"type": "complete", "id": id})
	}
}

// WriteJSON implements transport.WebsocketConn.
func (c *wsConn) WriteJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.observe(b)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// Data messages end in "type":"next"} or "type":"data"}: those need no
// look; acks and ends of operations update the protocol state.
var (
	suffixNext = []byte(`"type":"next"}`)
	suffixData = []byte(`"type":"data"}`)
)

func (c *wsConn) observe(b []byte) {
	if bytes.HasSuffix(b, suffixNext) || bytes.HasSuffix(b, suffixData) {
		return
	}
	var f frame
	if json.Unmarshal(b, &f) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch f.Type {
	case "connection_ack":
		c.acked = true
	case "complete", "error":
		delete(c.active, f.ID)
	}
}

// WriteClose implements transport.WebsocketConn.
func (c *wsConn) WriteClose(code int, message string) error {
	return c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, truncateReason(message)), time.Now().Add(wsControlWriteTimeout))
}

// truncateReason keeps a close reason within the 123 bytes a close frame allows.
func truncateReason(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

// Subprotocol implements transport.WebsocketConn.
func (c *wsConn) Subprotocol() string { return c.protocol }

// closeWith sends a close frame with code and drops the connection; gqlgen's
// reader then sees the connection end and cleans up its operations.
func (c *wsConn) closeWith(code int, reason string) {
	_ = c.WriteClose(code, reason)
	_ = c.Close()
}

// Close implements transport.WebsocketConn.
func (c *wsConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	hooks := c.onClose
	c.mu.Unlock()
	close(c.done)
	c.initTimer.Stop()
	err := c.ws.Close()
	c.registry.remove(c)
	for _, h := range hooks {
		h()
	}
	return err
}

// whenClosed runs f once the connection is closed (at once if it is).
func (c *wsConn) whenClosed(f func()) {
	c.mu.Lock()
	if !c.closed {
		c.onClose = append(c.onClose, f)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f()
}

// closeAt closes the connection with code at t unless it ends before.
func (c *wsConn) closeAt(t time.Time, code int, reason string) {
	timer := time.AfterFunc(time.Until(t), func() { c.closeWith(code, reason) })
	c.whenClosed(func() { timer.Stop() })
}

// ping keeps the read deadline honest: a peer that answers no ping within
// two intervals is dropped.
func (c *wsConn) ping() {
	t := time.NewTicker(c.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout)); err != nil {
				_ = c.Close()
				return
			}
		}
	}
}

// wsSlot lets the WebSocket InitFunc reach the connection its request became.
type wsSlot struct{ conn *wsConn }

type wsSlotKey struct{}

// withWSSlot gives a WebSocket upgrade request a slot for its connection.
func withWSSlot(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			r = r.WithContext(context.WithValue(r.Context(), wsSlotKey{}, &wsSlot{}))
		}
		next.ServeHTTP(w, r)
	})
}

func connOf(ctx context.Context) *wsConn {
	if slot, ok := ctx.Value(wsSlotKey{}).(*wsSlot); ok {
		return slot.conn
	}
	return nil
}

// wsRegistry knows the open connections, to close them on shutdown and count them.
type wsRegistry struct {
	mu    sync.Mutex
	conns map[*wsConn]struct{}
	gauge interface{ Set(float64) }
}

func (r *wsRegistry) add(c *wsConn) {
	r.mu.Lock()
	r.conns[c] = struct{}{}
	r.gauge.Set(float64(len(r.conns)))
	r.mu.Unlock()
}

func (r *wsRegistry) remove(c *wsConn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.gauge.Set(float64(len(r.conns)))
	r.mu.Unlock()
}

// closeAll closes every connection with code.
func (r *wsRegistry) closeAll(code int, reason string) {
	r.mu.Lock()
	conns := make([]*wsConn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.closeWith(code, reason)
	}
}
