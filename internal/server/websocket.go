package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
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
			// No read buffer of its own: gorilla reads through net/http's
			// (4 KiB), which the connection holds anyway while gqlgen's
			// loop runs in the handler.
			ReadBufferSize:  0,
			WriteBufferSize: 4096,
			WriteBufferPool: &sync.Pool{}, // idle connections hold no write buffer
			CheckOrigin:     func(r *http.Request) bool { return origins.allows(r.Header.Get("Origin"), r) },
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
		ops:      map[string]string{},
		owners:   map[string]string{},
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
	c.mu.Lock() // ping reads pingTimer under mu
	c.pingTimer = time.AfterFunc(g.opts.PingInterval, c.ping)
	c.mu.Unlock()
	c.initTimer = time.AfterFunc(g.opts.InitTimeout, func() {
		c.mu.Lock()
		seen := c.initSeen
		c.mu.Unlock()
		if !seen {
			c.closeWith(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	g.conns.add(c)
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

	mu       sync.Mutex
	initSeen bool
	acked    bool
	// Operation ids: gqlgen sees a fresh internal id for every subscribe
	// ("<client id>#<n>"), so a client reusing an id can never reach an
	// operation gqlgen is still ending (gqlgen forgets an operation by id
	// after it has written its complete, racing a new one of the same id).
	ops       map[string]string // client id → internal id, while the client has it open
	owners    map[string]string // internal id → client id; "" once the client completed it
	opCount   int
	onClose   []func()
	closed    bool
	initTimer *time.Timer
	pingTimer *time.Timer // a timer, not a goroutine per idle socket
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
		v := c.check(f)
		switch {
		case v.closeCode != 0:
			c.closeWith(v.closeCode, v.reason)
			return 0, nil, errClosedByServer
		case v.refuse != "":
			c.refuse(f.ID, v.refuse)
		case v.drop:
		case v.id != "":
			if data, err = withID(data, v.id); err != nil {
				c.closeWith(closeBadMessage, "Invalid message received")
				return 0, nil, errClosedByServer
			}
			return mt, bytes.NewReader(data), nil
		default:
			return mt, bytes.NewReader(data), nil
		}
	}
}

// withID returns the message data with its id replaced.
func withID(data []byte, id string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	m["id"], _ = json.Marshal(id)
	return json.Marshal(m)
}

// verdict is what check decides about an incoming message: pass it on
// (with its id replaced by id), drop it, answer it with an error
// (refuse), or close the connection.
type verdict struct {
	closeCode int
	reason    string
	refuse    string
	id        string
	drop      bool
}

// clientTypes are the messages a graphql-transport-ws client may send.
var clientTypes = map[string]bool{"connection_init": true, "ping": true, "pong": true, "subscribe": true, "complete": true}

// check applies the protocol's rules to an incoming message.
func (c *wsConn) check(f frame) verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.protocol == subprotocolTransportWS && !clientTypes[f.Type] {
		return verdict{closeCode: closeBadMessage, reason: "Invalid message received: unknown type " + strconv.Quote(f.Type)}
	}
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
		case c.ops[f.ID] != "":
			return verdict{closeCode: closeDuplicateID, reason: "Subscriber for " + f.ID + " already exists"}
		case len(c.ops) >= c.opts.MaxSubsPerConn:
			return verdict{refuse: "too many subscriptions on this connection (at most " + strconv.Itoa(c.opts.MaxSubsPerConn) + ")"}
		}
		c.opCount++
		internal := f.ID + "#" + strconv.Itoa(c.opCount)
		c.ops[f.ID] = internal
		c.owners[internal] = f.ID
		return verdict{id: internal}
	case "complete", "stop":
		internal := c.ops[f.ID]
		if internal == "" {
			return verdict{drop: true} // nothing of that id is open
		}
		delete(c.ops, f.ID)
		c.owners[internal] = "" // nothing more goes out for it
		return verdict{id: internal}
	}
	return verdict{}
}

// refuse answers a subscribe with an error of its own, RATE_LIMITED (the
// legacy protocol then completes the id too).
func (c *wsConn) refuse(id, message string) {
	payload := []any{map[string]any{"message": message, "extensions": map[string]any{"code": "RATE_LIMITED"}}}
	_ = c.WriteJSON(map[string]any{"type": "error", "id": id, "payload": payload})
	if c.protocol != subprotocolTransportWS {
		_ = c.WriteJSON(map[string]any{"type": "complete", "id": id})
	}
}

// WriteJSON implements transport.WebsocketConn. Frames of an operation
// get the client's id back; frames of an operation the client completed
// are not sent (the protocol allows nothing after the client's complete).
// A write that fails or times out drops the connection.
func (c *wsConn) WriteJSON(v any) error {
	if !c.outgoing(v) {
		return nil
	}
	b, err := encodeFrame(v)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		go c.Close() // not under writeMu: Close runs hooks
		return err
	}
	return nil
}

// encodeFrame encodes a frame as json.Marshal does. gqlgen's frames
// (payload, id and type; the payload is JSON gqlgen has just marshalled)
// are put together directly: json.Marshal would check and compact the
// payload once more for every subscriber.
func encodeFrame(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct || !isGQLFrame(rv.Elem().Type()) {
		return json.Marshal(v)
	}
	e := rv.Elem()
	payload, id, typ := e.Field(0).Bytes(), e.Field(1).String(), e.Field(2).String()
	if typ != "next" && typ != "data" {
		// Only results are worth it; the rest are rare, and a pong echoes
		// the client's own ping payload, which json.Marshal compacts and
		// escapes.
		return json.Marshal(v)
	}
	b := make([]byte, 0, len(payload)+len(id)+len(typ)+40)
	b = append(b, '{')
	if len(payload) > 0 {
		b = append(b, `"payload":`...)
		b = append(b, payload...)
		b = append(b, ',')
	}
	if id != "" {
		b = append(b, `"id":`...)
		b = appendJSONString(b, id)
		b = append(b, ',')
	}
	b = append(b, `"type":`...)
	b = appendJSONString(b, typ)
	return append(b, '}'), nil
}

// appendJSONString appends s as json.Marshal writes a string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // escapes needed: the slow way
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

var gqlFrameTypes sync.Map // reflect.Type → bool

// isGQLFrame reports whether t has the shape of gqlgen's frames: Payload
// json.RawMessage `json:"payload,omitempty"`, ID string
// `json:"id,omitempty"`, Type (a string kind) `json:"type"`, then only
// unexported fields.
func isGQLFrame(t reflect.Type) bool {
	if ok, seen := gqlFrameTypes.Load(t); seen {
		return ok.(bool)
	}
	ok := t.NumField() >= 3
	for i, want := range []struct {
		name, tag string
		kind      reflect.Kind
	}{{"Payload", "payload,omitempty", reflect.Slice}, {"ID", "id,omitempty", reflect.String}, {"Type", "type", reflect.String}} {
		if !ok {
			break
		}
		f := t.Field(i)
		ok = f.Name == want.name && f.Tag.Get("json") == want.tag && f.Type.Kind() == want.kind
	}
	if ok {
		ok = t.Field(0).Type == reflect.TypeFor[json.RawMessage]()
		for i := 3; i < t.NumField(); i++ {
			ok = ok && !t.Field(i).IsExported()
		}
	}
	gqlFrameTypes.Store(t, ok)
	return ok
}

// outgoing looks at a frame gqlgen writes (its message structs have ID
// and Type fields) and reports whether to send it.
func (c *wsConn) outgoing(v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return true // chatty's own frames
	}
	idField, typeField := rv.Elem().FieldByName("ID"), rv.Elem().FieldByName("Type")
	if !idField.IsValid() || !typeField.IsValid() || idField.Kind() != reflect.String || !idField.CanSet() {
		return true
	}
	typ, internal := typeField.String(), idField.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if typ == "connection_ack" {
		c.acked = true
	}
	if internal == "" {
		return true
	}
	client, known := c.owners[internal]
	if !known {
		return true
	}
	if typ == "complete" || typ == "error" { // the operation's last frame
		delete(c.owners, internal)
		if c.ops[client] == internal {
			delete(c.ops, client)
		}
	}
	if client == "" {
		return false
	}
	idField.SetString(client)
	return true
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
	c.pingTimer.Stop()
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
// two intervals is dropped. It runs from pingTimer every PingInterval
// until the connection closes.
func (c *wsConn) ping() {
	select {
	case <-c.done:
		return
	default:
	}
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout)); err != nil {
		_ = c.Close()
		return
	}
	c.mu.Lock()
	if !c.closed {
		c.pingTimer.Reset(c.opts.PingInterval)
	}
	c.mu.Unlock()
}

// wsSlot lets the WebSocket InitFunc reach the connection its request became.
type wsSlot struct{ conn *wsConn }

type wsSlotKey struct{}

// webSockets refuses upgrades from foreign browser origins (before gqlgen,
// which would answer a refused upgrade a second time) and gives the others
// a slot for their connection.
func (s *Server) webSockets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			if !s.origins.allows(r.Header.Get("Origin"), r) {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
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
