package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/chatty/chatty/graph"
	"github.com/chatty/chatty/internal/viewer"
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

// wsTransport is chatty's GraphQL WebSocket transport: graphql-transport-ws
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md) and the
// legacy graphql-ws (also when the client names no subprotocol), framed
// by gorilla/websocket, operations run by gqlgen's executor. It takes the
// place of gqlgen's transport.Websocket to hold little per idle socket:
//
//   - the HTTP handler returns after the upgrade (net/http's buffers and
//     its goroutine's stack go with it); a goroutine reads the socket
//     through a small read buffer while the client sends, and on Linux
//     none while it is idle (wspark.go); writes take a buffer from a pool;
//     pings, the silence that drops a dead peer, the init timeout and
//     token expiry are timers;
//   - a subscription whose stream can say when it has an event
//     (messageAdded, notifications: graph.Pull) holds no goroutine while it
//     waits: the stream wakes it, and a goroutine that lives while there is
//     something to send executes and writes (one at a time per
//     subscription, so its events go out in order). Other operations
//     (roomEvents, a query or mutation sent over the socket) run in a
//     goroutine of their own, as under gqlgen.
//
// Besides the protocol's rules it closes with 4400 a message that is not
// one, 4401 a subscribe before connection_ack, 4408 a missing
// connection_init, 4409 a duplicate operation id, 4429 a second
// connection_init, and refuses (RATE_LIMITED) an operation over the
// per-connection cap.
type wsTransport struct {
	opts       wsOptions
	opContexts opContexts
	upgrader   websocket.Upgrader
	conns      *wsRegistry
	initFunc   func(context.Context, transport.InitPayload) (context.Context, *transport.InitPayload, error)
	log        *slog.Logger
}

var _ graphql.Transport = (*wsTransport)(nil)

func newWSTransport(o wsOptions, origins *originPolicy, conns *wsRegistry, log *slog.Logger,
	init func(context.Context, transport.InitPayload) (context.Context, *transport.InitPayload, error)) *wsTransport {
	return &wsTransport{
		opts:     o,
		conns:    conns,
		initFunc: init,
		log:      log,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   0, // read through the wsNetConn's own reader (hijackCoarse)
			WriteBufferSize:  4096,
			WriteBufferPool:  &sync.Pool{}, // idle connections hold no write buffer
			Subprotocols:     []string{subprotocolLegacyWS, subprotocolTransportWS},
			CheckOrigin:      func(r *http.Request) bool { return origins.allows(r.Header.Get("Origin"), r) },
		},
	}
}

// Supports implements graphql.Transport.
func (t *wsTransport) Supports(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// Do implements graphql.Transport: it upgrades the request and returns,
// leaving the socket to a reader goroutine of its own.
func (t *wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ws, err := t.upgrader.Upgrade(hijackCoarse{w}, r, nil)
	if err != nil {
		return // gorilla has answered the request (403 for a foreign origin)
	}
	c := &wsConn{
		t:      t,
		ws:     ws,
		exec:   exec,
		legacy: ws.Subprotocol() != subprotocolTransportWS,
	}
	// The request's context ends with this handler. The connection's
	// starts afresh with what its operations read of the request's: the
	// client (address, user agent), over the connection itself (its
	// context methods: Close ends it; connOf finds it). Not derived from
	// the request's: an idle socket would keep its whole chain (net/http's
	// contexts, the middleware's values) while open.
	if slot, _ := r.Context().Value(wsSlotKey{}).(*wsSlot); slot != nil {
		slot.conn = c
	}
	c.ctx = viewer.WithClient(c, viewer.ClientFromContext(r.Context()))
	nc, _ := ws.NetConn().(*wsNetConn)
	if nc == nil || nc.br == nil { // (not what hijackCoarse hands over: cannot happen)
		_ = ws.Close()
		return
	}
	c.nc = nc
	nc.raw, nc.fd = wsParkable(nc.Conn)
	ws.SetReadLimit(t.opts.ReadLimit)
	c.heardNow()
	ws.SetPongHandler(c.pong) // (method values: 16 bytes each, less than closures over c, nc and ws)
	ws.SetPingHandler(c.pingReceived)
	c.mu.Lock() // ping and Close read the timers under mu
	c.nextPing = wsNow() + int64(t.opts.PingInterval)
	c.pingTimer = time.AfterFunc(t.opts.PingInterval, c.ping)
	c.initTimer = time.AfterFunc(t.opts.InitTimeout, func() {
		c.mu.Lock()
		seen := c.initSeen
		c.mu.Unlock()
		if !seen {
			c.closeWith(closeInitTimeout, "Connection initialisation timeout")
		}
	})
	c.mu.Unlock()
	t.conns.add(c)
	go c.read()
}

// pong is gorilla's pong handler: the peer is alive, and the frame ended.
func (c *wsConn) pong(string) error {
	c.heardNow()
	c.nc.frameDone()
	return nil
}

// pingReceived is gorilla's ping handler, and the frame's end.
func (c *wsConn) pingReceived(message string) error {
	err := c.ws.WriteControl(websocket.PongMessage, []byte(message), time.Now().Add(wsControlWriteTimeout))
	var ne net.Error
	if err != nil && err != websocket.ErrCloseSent && !(errors.As(err, &ne) && ne.Timeout()) {
		return err
	}
	c.nc.frameDone()
	return nil
}

// wsConn is one WebSocket connection. Its reader goroutine handles what
// the client sends (one at a time: a parked socket's next reader starts
// after the last one ended); frames go out under writeMu (close frames
// and pings through gorilla's concurrency-safe WriteControl).
type wsConn struct {
	t    *wsTransport // (its options, its registry)
	ws   *websocket.Conn
	nc   *wsNetConn
	exec graphql.GraphExecutor
	// ctx is the connection's context: values over the connection's
	// own context methods (Close ends it, and the operations'); once
	// connection_init is accepted, the one InitFunc returned (with the
	// viewer). Only the reader goroutine sets it. No context is derived
	// from it but values (wsInit, start): a cancellable child would need
	// a goroutine to watch it (a cancelCtx would keep a table of its
	// children and a channel while the socket is open).
	ctx context.Context

	writeMu sync.Mutex
	reading atomic.Int32 // readerRunning or readerParked
	heard   atomic.Int64 // wsNow when the client last sent a whole message or a pong

	mu        sync.Mutex
	initSeen  bool
	acked     bool
	legacy    bool  // graphql-ws (or no subprotocol named), not graphql-transport-ws
	ops       wsOps // while the client has them open
	onClose   []func()
	closed    bool
	done      chan struct{} // the context's Done, made when asked for; closed by Close
	initTimer *time.Timer   // until connection_ack
	pingTimer *time.Timer   // a timer, not a goroutine per idle socket
	nextPing  int64         // wsNow of the next ping
	expires   int64         // wsNow when the access token expires (0: not yet known)
}

// inFrame is a message from the client.
type inFrame struct {
	Type    string          `json:"type"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// clientTypes are the messages a graphql-transport-ws client may send.
var clientTypes = map[string]bool{"connection_init": true, "ping": true, "pong": true, "subscribe": true, "complete": true}

// read is the connection's reader goroutine: it handles each message in
// turn until the connection ends, then closes it; or, where sockets park
// (wspark.go), until the client has sent nothing more.
func (c *wsConn) read() {
	defer c.parked()
	c.nc.takeBuffer()
	for {
		c.nc.frameDone() // between messages
		_, r, err := c.ws.NextReader()
		var data []byte
		if err == nil {
			data, err = io.ReadAll(r)
		}
		if err != nil {
			c.mu.Lock()
			closed := c.closed
			c.mu.Unlock()
			if !closed && !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				c.t.log.DebugContext(c.ctx, "websocket", "err", err)
			}
			c.closeWith(websocket.CloseNormalClosure, "terminated")
			return
		}
		c.heardNow()
		if !c.handle(data) {
			return
		}
	}
}

// parked runs as the reader goroutine ends: when its read parked the
// socket, the poller takes it.
func (c *wsConn) parked() {
	if !c.nc.parking {
		return
	}
	c.nc.parking = false
	c.nc.releaseBuffer()
	if err := wsPark(c); err != nil {
		c.t.log.Warn("websocket: cannot watch an idle socket; closing it", "err", err)
		c.closeWith(websocket.CloseInternalServerErr, "internal server error")
	}
}

// handle takes one message from the client; false when it closed the
// connection.
func (c *wsConn) handle(data []byte) bool {
	var f inFrame
	if json.Unmarshal(data, &f) != nil || f.Type == "" {
		c.closeWith(closeBadMessage, "Invalid message received")
		return false
	}
	transportWS := !c.legacy
	if transportWS && !clientTypes[f.Type] {
		c.closeWith(closeBadMessage, "Invalid message received: unknown type "+strconv.Quote(f.Type))
		return false
	}
	switch f.Type {
	case "connection_init":
		c.mu.Lock()
		again := c.initSeen
		c.initSeen = true
		c.mu.Unlock()
		if again {
			c.closeWith(closeTooManyInits, "Too many initialisation requests")
			return false
		}
		return c.initialise(f.Payload)
	case "connection_terminate":
		if !transportWS {
			c.closeWith(websocket.CloseNormalClosure, "terminated")
			return false
		}
	case "ping":
		if transportWS {
			c.write(appendFrame(nil, "pong", "", pingPayload(f.Payload)))
			return true
		}
	case "pong":
		if transportWS {
			return true
		}
	}
	c.mu.Lock()
	acked := c.acked
	c.mu.Unlock()
	switch {
	case !acked && f.Type == "subscribe":
		c.closeWith(closeUnauthorized, "Unauthorized")
		return false
	case acked && (f.Type == "subscribe" || f.Type == "start"):
		return c.start(f.ID, f.Payload)
	case (acked || transportWS) && (f.Type == "complete" || f.Type == "stop"):
		// graphql-transport-ws: a complete is for an operation the server
		// may have finished already (or, before the ack, never started);
		// one it does not know is ignored, as graphql-ws's server does.
		c.stop(f.ID)
		return true
	}
	c.connectionError("unexpected message " + f.Type)
	c.closeWith(websocket.CloseProtocolError, "unexpected message")
	return false
}

// pingPayload is what a pong echoes of a ping's payload: the payload as
// it came when it is an object, else none.
func pingPayload(p json.RawMessage) []byte {
	if len(p) == 0 || p[0] != '{' {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, p) != nil {
		return nil
	}
	return b.Bytes()
}

// initialise runs InitFunc on connection_init and acknowledges it, or
// closes the connection with the code and reason InitFunc put in its
// context (refused).
func (c *wsConn) initialise(payload json.RawMessage) bool {
	var p transport.InitPayload
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, &p); err != nil {
			c.connectionError("invalid json")
			c.closeWith(closeBadMessage, "Invalid message received: the connection_init payload is not an object")
			return false
		}
	}
	// InitFunc (token check, session watch) runs in a goroutine of its
	// own: what its stack grows to goes with it, and the reader's, which
	// the socket keeps, stays small.
	var (
		ctx context.Context
		ack *transport.InitPayload
		err error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				c.t.log.ErrorContext(c.ctx, "panic in connection_init", "panic", r)
				ctx, err = withCloseReason(c.ctx, websocket.CloseInternalServerErr, "internal server error"), errors.New("internal server error")
			}
		}()
		ctx, ack, err = c.t.initFunc(c.ctx, p)
	}()
	<-done
	if err != nil {
		c.connectionError(err.Error())
		code, reason := closeReasonOf(ctx)
		c.closeWith(code, reason)
		return false
	}
	c.ctx = ctx
	c.mu.Lock()
	c.acked = true
	c.initTimer.Stop()
	c.initTimer = nil // what the socket need not keep
	c.mu.Unlock()
	var ackPayload []byte
	if ack != nil {
		if ackPayload, err = json.Marshal(*ack); err != nil {
			c.closeWith(websocket.CloseInternalServerErr, "internal server error")
			return false
		}
	}
	c.write(appendFrame(nil, "connection_ack", "", ackPayload))
	if c.legacy {
		c.write([]byte(`{"type":"ka"}`))
	}
	return true
}

// connectionError tells a legacy graphql-ws client why the connection
// ends (graphql-transport-ws has no such message: the close reason says it).
func (c *wsConn) connectionError(message string) {
	if !c.legacy {
		return
	}
	b, _ := json.Marshal(&gqlerror.Error{Message: message})
	c.write(appendFrame(nil, "connection_error", "", b))
}

// start begins operation id: it checks the id and the per-connection
// cap, then runs the operation.
func (c *wsConn) start(id string, payload json.RawMessage) bool {
	if id == "" {
		c.closeWith(closeBadMessage, "Invalid message received: subscribe without an id")
		return false
	}
	c.mu.Lock()
	if c.ops.get(id) != nil {
		c.mu.Unlock()
		c.closeWith(closeDuplicateID, "Subscriber for "+id+" already exists")
		return false
	}
	if len(c.ops) >= c.t.opts.MaxSubsPerConn {
		c.mu.Unlock()
		c.refuse(id, "too many subscriptions on this connection (at most "+strconv.Itoa(c.t.opts.MaxSubsPerConn)+")")
		return true
	}
	if c.closed {
		c.mu.Unlock()
		return false
	}
	// Not a child of the connection's context, which would keep a table
	// of its children (and a channel) for as long as the socket is open:
	// Close cancels every open operation itself.
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.ctx))
	op := &wsOp{c: c, id: id, ctx: ctx, cancel: cancel}
	op.state.Store(opRunning) // until its first run ends, a wake only marks it
	c.ops = append(c.ops, op)
	c.mu.Unlock()
	go op.run(payload, graphql.Now())
	return true
}

// stop ends operation id at the client's request: nothing more of it
// goes out, and the id is free again at once.
func (c *wsConn) stop(id string) {
	c.mu.Lock()
	op := c.ops.get(id)
	if op != nil {
		c.ops = c.ops.without(op)
		op.stopped.Store(true)
	}
	c.mu.Unlock()
	if op != nil {
		op.cancel()
	}
}

// refuse answers a subscribe with an error of its own, RATE_LIMITED (the
// legacy protocol then completes the id too).
func (c *wsConn) refuse(id, message string) {
	b, _ := json.Marshal([]any{map[string]any{"message": message, "extensions": map[string]any{"code": "RATE_LIMITED"}}})
	c.write(appendFrame(nil, "error", id, b))
	if c.legacy {
		c.write(appendFrame(nil, "complete", id, nil))
	}
}

// write sends one frame; a write that fails or times out drops the
// connection.
func (c *wsConn) write(b []byte) { c.writeUnless(nil, b) }

// writeUnless is write unless stopped (an operation's) is set, which it
// looks at under writeMu: once the reader has handled the client's
// complete (stop), no frame of that operation starts going out, and what
// the reader writes next (a pong) comes after any that had.
func (c *wsConn) writeUnless(stopped *atomic.Bool, b []byte) {
	c.writeMu.Lock()
	if stopped != nil && stopped.Load() {
		c.writeMu.Unlock()
		return
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.t.opts.WriteTimeout))
	err := c.ws.WriteMessage(websocket.TextMessage, b)
	c.writeMu.Unlock()
	if err != nil {
		_ = c.Close()
	}
}

// writeFrames is writeUnless for the frames of b: several go out in one
// write system call (coarseDeadlineConn gathers them).
func (c *wsConn) writeFrames(stopped *atomic.Bool, b *frameBatch) {
	if len(b.ends) == 1 {
		c.writeUnless(stopped, b.buf)
		return
	}
	c.writeMu.Lock()
	if stopped != nil && stopped.Load() {
		c.writeMu.Unlock()
		return
	}
	cc := &c.nc.coarseDeadlineConn
	cc.gather()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.t.opts.WriteTimeout))
	var err error
	start := 0
	for _, end := range b.ends {
		if err = c.ws.WriteMessage(websocket.TextMessage, b.buf[start:end]); err != nil {
			break
		}
		start = end
	}
	if ferr := cc.flush(); err == nil {
		err = ferr
	}
	c.writeMu.Unlock()
	if err != nil {
		_ = c.Close()
	}
}

// The states of an operation's run (wsOp.state).
const (
	opIdle    int32 = iota // waiting for a wake; no goroutine
	opRunning              // a goroutine runs it
	opWoken                // a goroutine runs it, and it was woken meanwhile: it looks again
	opEnded
)

// opContexts are the operation contexts of the operations running now,
// by their subscribe payload (query, operation name, variables,
// extensions), held weakly. An operation whose payload is byte for byte
// that of one running already takes its context instead of making one:
// the context is what parsing, validation, the variables' coercion and
// the limits made of the same input, and gqlgen only reads it while it
// executes (its collected-fields cache is safe for concurrent use). So
// sockets subscribed to the same thing (every client's notifications, a
// room's messages without a cursor) hold one between them: ~1 KiB less
// each, and no validation per subscribe.
type opContexts struct {
	mu sync.Mutex
	m  map[string]weak.Pointer[graphql.OperationContext]
}

// get returns the context made for payload, if an operation still holds it.
func (o *opContexts) get(payload []byte) *graphql.OperationContext {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[string(payload)].Value() // (the zero weak.Pointer's is nil)
}

// put records rc as payload's context while something holds it.
func (o *opContexts) put(payload []byte, rc *graphql.OperationContext) {
	key, w := string(payload), weak.Make(rc)
	o.mu.Lock()
	if o.m == nil {
		o.m = map[string]weak.Pointer[graphql.OperationContext]{}
	}
	o.m[key] = w
	o.mu.Unlock()
	runtime.AddCleanup(rc, func(key string) {
		o.mu.Lock()
		if o.m[key] == w {
			delete(o.m, key)
		}
		o.mu.Unlock()
	}, key)
}

// wsOps are a connection's open operations, found by the client's id: a
// slice, not a map (an idle socket has one or two, and a map's first
// table is 200 bytes).
type wsOps []*wsOp

func (s wsOps) get(id string) *wsOp {
	for _, op := range s {
		if op.id == id {
			return op
		}
	}
	return nil
}

// without returns s without op (s itself when op is not in it).
func (s wsOps) without(op *wsOp) wsOps {
	if i := slices.Index(s, op); i >= 0 {
		return slices.Delete(s, i, i+1)
	}
	return s
}

// wsOp is one operation of a connection.
type wsOp struct {
	c       *wsConn
	id      string
	ctx     context.Context
	cancel  context.CancelFunc
	stopped atomic.Bool // the client completed it: nothing more goes out
	state   atomic.Int32

	// Set by run before the operation can be woken into drain (its
	// operation context is rctx's: not kept apart, 96 bytes, not 112).
	pull      *graph.Pull
	responses graphql.ResponseHandler
	rctx      context.Context

	// out: frames queued by the goroutine running the operation, written
	// together by flush (nil while none wait).
	out *frameBatch
}

// run executes the operation. A subscription that graph.Pull can wake
// sends what is ready and returns (drain); any other operation is run to
// its end here, one response after the other.
func (op *wsOp) run(payload json.RawMessage, start time.Time) {
	c := op.c
	// The trace's start is read by CreateOperationContext alone (its
	// stats): the context the operation runs in, which an idle
	// subscription keeps, does not carry it.
	rc := c.t.opContexts.get(payload)
	if rc == nil {
		ctx := graphql.StartOperationTrace(op.ctx)
		params := &graphql.RawParams{}
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.UseNumber()
		if err := dec.Decode(params); err != nil {
			op.sendErrors(&gqlerror.Error{Message: "invalid json"})
			op.end()
			return
		}
		// No params.Headers: nothing in chatty reads an operation's headers,
		// and an idle socket need not keep its upgrade request's.
		params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
		var errs gqlerror.List
		rc, errs = c.exec.CreateOperationContext(ctx, params)
		if errs != nil {
			resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
			if errcode.GetErrorKind(errs) == errcode.KindProtocol {
				op.sendErrors(resp.Errors...)
			} else {
				op.sendResponse(&graphql.Response{Errors: errs})
			}
			op.end()
			return
		}
		c.t.opContexts.put(payload, rc)
	}
	op.pull = &graph.Pull{Wake: op.wake}
	ctx := graph.WithPull(op.ctx, op.pull) // (DispatchOperation adds rc)
	defer op.recover(rc)
	op.responses, op.rctx = c.exec.DispatchOperation(ctx, rc)
	op.rctx = doneOnce(op.rctx) // every response checks it
	if op.pull.Pullable() {
		op.drain()
		return
	}
	for {
		resp := op.responses(op.rctx)
		if resp == nil {
			op.end()
			return
		}
		op.sendResponse(resp)
	}
}

// wake is the operation's graph.Pull hook: it starts a goroutine to send
// what is ready, unless one runs (which then looks again).
func (op *wsOp) wake() {
	for {
		switch op.state.Load() {
		case opIdle:
			if op.state.CompareAndSwap(opIdle, opRunning) {
				drainers.run(op)
				return
			}
		case opRunning:
			if op.state.CompareAndSwap(opRunning, opWoken) {
				return
			}
		default:
			return
		}
	}
}

func (op *wsOp) drainRecovering() {
	defer op.recover(graphql.GetOperationContext(op.rctx))
	op.drain()
}

// drain sends every response that is ready, then leaves the operation
// idle (no goroutine) until the next wake. Responses that are ready
// together go out together: one write system call for all their frames.
func (op *wsOp) drain() {
	for {
		for op.pull.Ready() {
			if data := op.shared(); data != nil {
				op.queueData(data) // made for another subscription: nothing to execute
			} else if resp := op.responses(op.rctx); resp != nil {
				op.queueResponse(resp)
			} else {
				op.flush()
				op.end()
				return
			}
			if op.out != nil && op.out.full() {
				op.flush()
			}
		}
		op.flush()
		if op.state.CompareAndSwap(opRunning, opIdle) {
			return
		}
		op.state.Store(opRunning) // woken meanwhile: look again
	}
}

// recover answers a panic of the operation's execution (of rc) with an error.
func (op *wsOp) recover(rc *graphql.OperationContext) {
	r := recover()
	if r == nil {
		return
	}
	var gqlErr *gqlerror.Error
	if rc != nil {
		if err := rc.Recover(op.ctx, r); !errors.As(err, &gqlErr) {
			gqlErr = &gqlerror.Error{Message: "internal system error"}
		}
	} else {
		gqlErr = &gqlerror.Error{Message: "internal system error"}
	}
	op.flush() // what was ready before the panic
	op.sendErrors(gqlErr)
	op.end()
}

// end ends the operation: complete goes out unless the client completed
// it or the connection is closing.
func (op *wsOp) end() {
	if op.state.Swap(opEnded) == opEnded {
		return
	}
	c := op.c
	c.mu.Lock()
	c.ops = c.ops.without(op)
	closed := c.closed
	c.mu.Unlock()
	if !closed && !op.stopped.Load() && c.ctx.Err() == nil {
		c.writeUnless(&op.stopped, appendFrame(nil, "complete", op.id, nil))
	}
	op.stopped.Store(true)
	op.cancel()
}

// sendResponse sends one result: next (data in the legacy protocol).
func (op *wsOp) sendResponse(resp *graphql.Response) {
	op.queueResponse(resp)
	op.flush()
}

// queueResponse queues the frame of one result for flush.
func (op *wsOp) queueResponse(resp *graphql.Response) {
	if op.stopped.Load() {
		return
	}
	typ, b := op.frameType(), op.batch()
	if plainResponse(resp) { // the frame put together at once, data copied once
		b.add(appendDataFrame(b.buf, typ, op.id, resp.Data))
		return
	}
	payload, err := encodeResponse(resp)
	if err != nil {
		op.c.t.log.ErrorContext(op.ctx, "encode a subscription response", "err", err)
		return
	}
	b.add(appendFrame(b.buf, typ, op.id, payload))
}

// shared takes the next response when it was made for another
// subscription already (graph.Pull.Shared): its data, else nil.
func (op *wsOp) shared() []byte {
	if op.rctx.Err() != nil {
		return nil // the ResponseHandler ends it
	}
	return op.pull.Shared()
}

// queueData queues the frame of a result of data alone.
func (op *wsOp) queueData(data []byte) {
	if op.stopped.Load() {
		return
	}
	b := op.batch()
	b.add(appendDataFrame(b.buf, op.frameType(), op.id, data))
}

// frameType is the type of a result's frame: next (data in the legacy protocol).
func (op *wsOp) frameType() string {
	if op.c.legacy {
		return "data"
	}
	return "next"
}

// batch is op.out, taken from the pool if need be.
func (op *wsOp) batch() *frameBatch {
	if op.out == nil {
		op.out = frameBatches.Get().(*frameBatch)
	}
	return op.out
}

// flush writes the frames queueResponse queued.
func (op *wsOp) flush() {
	b := op.out
	if b == nil {
		return
	}
	op.out = nil
	if len(b.ends) > 0 {
		op.c.writeFrames(&op.stopped, b)
	}
	b.release()
}

// frameBatch is frames put one after the other in buf, each ending at
// its offset in ends.
type frameBatch struct {
	buf  []byte
	ends []int
}

var frameBatches = sync.Pool{New: func() any { return &frameBatch{buf: make([]byte, 0, 4096), ends: make([]int, 0, 8)} }}

// add takes buf, which the caller appended a frame to, as the batch's.
func (b *frameBatch) add(buf []byte) {
	b.buf = buf
	b.ends = append(b.ends, len(buf))
}

// full reports whether the batch should go out before more is added.
func (b *frameBatch) full() bool { return len(b.ends) >= 64 || len(b.buf) >= maxGathered/2 }

func (b *frameBatch) release() {
	if cap(b.buf) > maxGathered {
		return // a large response's: not kept
	}
	b.buf, b.ends = b.buf[:0], b.ends[:0]
	frameBatches.Put(b)
}

// plainResponse reports whether r is data alone (encodeResponse's direct case).
func plainResponse(r *graphql.Response) bool { return dataOnly(r) && len(r.Data) > 0 }

// dataOnly reports whether r carries nothing but its data (maybe none).
func dataOnly(r *graphql.Response) bool {
	return len(r.Errors) == 0 && r.Label == "" && r.Path == nil && r.HasNext == nil && r.Extensions == nil
}

// appendDataFrame appends the frame appendFrame makes of the payload
// {"data":data}.
func appendDataFrame(b []byte, typ, id string, data []byte) []byte {
	b = append(b, `{"payload":{"data":`...)
	b = append(b, data...)
	b = append(b, "},"...)
	return appendFrameEnd(b, typ, id)
}

// sendErrors sends an error message of the operation (its last).
func (op *wsOp) sendErrors(errs ...*gqlerror.Error) {
	if op.stopped.Load() {
		return
	}
	b, err := json.Marshal(errs)
	if err != nil {
		b = []byte(`[{"message":"internal system error"}]`)
	}
	op.c.writeUnless(&op.stopped, appendFrame(nil, "error", op.id, b))
	op.stopped.Store(true) // nothing after an error, complete included
}

// encodeResponse encodes a response as json.Marshal does (up to the
// escaping of <, > and & in the data, which JSON readers take the same):
// a plain result is put together directly, without json.Marshal checking
// and compacting its data once more for every subscriber.
func encodeResponse(r *graphql.Response) ([]byte, error) {
	if !dataOnly(r) {
		return json.Marshal(r)
	}
	if len(r.Data) == 0 {
		return []byte(`{"data":null}`), nil
	}
	b := make([]byte, 0, len(r.Data)+9)
	b = append(b, `{"data":`...)
	b = append(b, r.Data...)
	return append(b, '}'), nil
}

// appendFrame appends the protocol message {"payload":…,"id":…,"type":…}
// to b, leaving out an empty payload and id, as json.Marshal writes
// gqlgen's messages.
func appendFrame(b []byte, typ, id string, payload []byte) []byte {
	b = append(b, '{')
	if len(payload) > 0 {
		b = append(b, `"payload":`...)
		b = append(b, payload...)
		b = append(b, ',')
	}
	return appendFrameEnd(b, typ, id)
}

// appendFrameEnd appends the rest of a frame after its payload: the id
// (unless empty), the type and the closing brace.
func appendFrameEnd(b []byte, typ, id string) []byte {
	if id != "" {
		b = append(b, `"id":`...)
		b = appendJSONString(b, id)
		b = append(b, ',')
	}
	b = append(b, `"type":`...)
	b = appendJSONString(b, typ)
	return append(b, '}')
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

// closeReasonKey carries the close code and reason of a refused
// connection_init (withCloseReason).
type closeReasonKey struct{}

type closeReason struct {
	code   int
	reason string
}

// withCloseReason marks ctx so a refused connection_init closes the socket
// with code and reason.
func withCloseReason(ctx context.Context, code int, reason string) context.Context {
	return context.WithValue(ctx, closeReasonKey{}, closeReason{code, truncateReason(reason)})
}

func closeReasonOf(ctx context.Context) (int, string) {
	if r, ok := ctx.Value(closeReasonKey{}).(closeReason); ok {
		return r.code, r.reason
	}
	return websocket.CloseNormalClosure, "terminated"
}

// writeClose sends a close frame.
func (c *wsConn) writeClose(code int, message string) error {
	return c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, truncateReason(message)), time.Now().Add(wsControlWriteTimeout))
}

// truncateReason keeps a close reason within the 123 bytes a close frame allows.
func truncateReason(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

// closeWith sends a close frame with code and drops the connection, unless
// it is closed already.
func (c *wsConn) closeWith(code int, reason string) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		_ = c.writeClose(code, reason)
	}
	_ = c.Close()
}

// Close drops the connection: its operations end (their contexts are
// cancelled: they are not the connection's context's children), the
// close hooks run.
func (c *wsConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.done != nil {
		close(c.done)
	}
	hooks := c.onClose
	c.onClose = nil
	ops := c.ops // (end and stop find none from now on)
	c.ops = nil
	initTimer, pingTimer := c.initTimer, c.pingTimer
	c.mu.Unlock()
	if initTimer != nil {
		initTimer.Stop()
	}
	pingTimer.Stop()
	for _, op := range ops {
		op.cancel()
	}
	wsForget(c)
	err := c.ws.Close()
	c.t.conns.remove(c)
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

// expireAt closes the connection with 4403 at t, when its access token
// expires, unless it ends before. The ping timer does it (ping): no timer
// of its own per socket.
func (c *wsConn) expireAt(t time.Time) {
	now := wsNow()
	at := max(now+int64(time.Until(t)), 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expires = at
	if !c.closed {
		c.pingTimer.Reset(time.Duration(c.nextTimerLocked(now) - now))
	}
}

// nextTimerLocked is when the ping timer runs next (wsNow): the next
// ping, the end of two ping intervals of silence or the token's expiry,
// whichever comes first. c.mu is held.
func (c *wsConn) nextTimerLocked(now int64) int64 {
	at := min(c.nextPing, c.heard.Load()+2*int64(c.t.opts.PingInterval))
	if c.expires != 0 {
		at = min(at, c.expires)
	}
	return max(at, now)
}

// ping pings the client every PingInterval and drops it once it has been
// silent (no message, no pong) for two intervals, and closes it with 4403
// once its access token has expired (expireAt). It runs from pingTimer,
// at the next ping, the end of that silence or the expiry, whichever
// comes first, until the connection closes; legacy graphql-ws clients get
// their keep-alive ("ka") with each ping.
func (c *wsConn) ping() {
	c.mu.Lock()
	closed, ka, next, expires := c.closed, c.acked && c.legacy, c.nextPing, c.expires
	c.mu.Unlock()
	if closed {
		return
	}
	now, interval := wsNow(), int64(c.t.opts.PingInterval)
	if expires != 0 && now >= expires {
		c.closeWith(closeForbidden, "access token expired")
		return
	}
	if now-c.heard.Load() >= 2*interval {
		c.t.log.Debug("websocket: no pong within two ping intervals")
		c.closeWith(websocket.CloseNormalClosure, "terminated")
		return
	}
	if now >= next {
		if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.t.opts.WriteTimeout)); err != nil {
			_ = c.Close()
			return
		}
		if ka {
			c.write([]byte(`{"type":"ka"}`))
		}
		next = now + interval
	}
	c.mu.Lock()
	if !c.closed {
		c.nextPing = next
		c.pingTimer.Reset(time.Duration(c.nextTimerLocked(now) - now))
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
	switch v := ctx.Value(wsSlotKey{}).(type) {
	case *wsConn: // a connection's context
		return v
	case *wsSlot: // its upgrade request's
		return v.conn
	}
	return nil
}

// A wsConn is the root of its connection's context (wsConn.ctx): done
// once the connection is closed, without deadline, and carrying only
// itself (connOf). Nothing derives a cancellable context from it.

// Deadline implements context.Context: none.
func (c *wsConn) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context: closed by Close.
func (c *wsConn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.closed {
			close(c.done)
		}
	}
	return c.done
}

// Err implements context.Context: Canceled once the connection is closed.
func (c *wsConn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return context.Canceled
	}
	return nil
}

// Value implements context.Context: the connection under wsSlotKey.
func (c *wsConn) Value(key any) any {
	if _, ok := key.(wsSlotKey); ok {
		return c
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

// closeAll closes every connection with code, all at once: a stalled
// peer (its close frame waits up to wsControlWriteTimeout) holds up only
// its own.
func (r *wsRegistry) closeAll(code int, reason string) {
	r.mu.Lock()
	conns := make([]*wsConn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.closeWith(code, reason) })
	}
	wg.Wait()
}
