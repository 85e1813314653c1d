package server

import (
	"bufio"
	"net"
	"net/http"
	"runtime"
	"syscall"
	"time"
)

// Parking: an idle socket holds no goroutine.
//
// A socket's reader goroutine (wsConn.read) blocks in gorilla's read of
// the next frame, and an idle socket would keep it, with its stack (8 KiB
// or more), for as long as it is open. Where the platform lets us watch
// the socket without a goroutine (Linux: one epoll set for the process,
// wspark_linux.go), the reader ends instead when the client has sent
// nothing more, and the poller starts one again once the socket is
// readable (data, the peer's FIN or reset).
//
// The reader may end only where gorilla keeps no state on its stack: at
// the start of a frame, before any of it is taken, with nothing the reader
// itself has begun. gorilla reads through a bufio.Reader we hand it at the
// hijack (wsNetConn.br) and that reads from wsNetConn, so we know how
// many bytes gorilla has taken (what Read returned less what is still
// buffered). A frame ends where the reader finishes a message and where a
// control frame's handler (ping, pong) runs; when gorilla then asks for
// the next frame's header and the socket has nothing to give (a read that
// would block), Read ends the goroutine (runtime.Goexit: nothing in
// gorilla's or bufio's read path defers anything, and what gorilla has
// consumed is whole frames only). The goroutine's deferred wsConn.parked
// hands the socket to the poller. Elsewhere (mid-frame, or without a
// poller) Read blocks as a plain net.Conn read does.
//
// What reading did besides (pongs, the silence that drops a dead peer)
// does not depend on a goroutine: the ping timer drops a peer silent for
// two ping intervals (wsConn.ping), parked or not.

// The reader's states (wsConn.reading).
const (
	readerRunning int32 = iota // a reader goroutine runs (or is about to)
	readerParked               // none runs: the poller starts one when the socket is readable
)

// wsReadBufferSize is what a connection reads through: client messages
// are small (connection_init, subscribe), and an idle socket holds it.
// Frame headers and control frames (125 bytes at most) fit; a longer
// payload is read past it. gorilla takes the reader we hand it at the
// hijack only when it is larger than 256 bytes; 288 is the allocator's
// size class above.
const wsReadBufferSize = 288

// wsNetConn is the connection gorilla reads and writes through: writes
// with coarse deadlines (coarseDeadlineConn), reads counted so the reader
// knows where frames end, and, with a poller, a read at the start of a
// frame that would block parks the socket instead.
type wsNetConn struct {
	coarseDeadlineConn
	br *bufio.Reader // gorilla's reader, over this connection

	// Set once before the first reader starts; raw nil: never park.
	raw syscall.RawConn
	fd  int32

	// Only the running reader goroutine touches these.
	got      int64 // bytes Read has returned
	boundary int64 // bytes gorilla had taken where the last frame ended
	parking  bool  // Read ended the goroutine to park the socket
	released bool  // br's buffer went with the park (releaseBuffer)

	// The poller's (under its lock).
	polled  bool   // in the poller's set
	pollGen uint32 // tells this connection's events from a former one's on the same fd
}

// frameDone records that gorilla has taken a whole frame (or message):
// what it asks for next starts a frame.
func (c *wsNetConn) frameDone() { c.boundary = c.got - int64(c.br.Buffered()) }

func (c *wsNetConn) Read(p []byte) (int, error) {
	if c.raw != nil && c.got-int64(c.br.Buffered()) == c.boundary {
		// gorilla waits for the start of a frame: take what is there
		// without waiting, and park when there is nothing.
		n, err, wouldBlock := readNow(c.raw, p)
		if wouldBlock {
			c.parking = true
			runtime.Goexit() // wsConn.read's deferred parked takes over
		}
		c.got += int64(n)
		return n, err
	}
	n, err := c.Conn.Read(p)
	c.got += int64(n)
	return n, err
}

// releaseBuffer lets br's buffer go as the socket parks, when it holds
// nothing (the park came at the start of a frame with no byte of it
// read): a parked socket keeps no read buffer. The next reader takes a
// new one (takeBuffer) before gorilla reads.
func (c *wsNetConn) releaseBuffer() {
	if c.br.Buffered() == 0 {
		*c.br = bufio.Reader{}
		c.released = true
	}
}

// takeBuffer gives br a buffer again if releaseBuffer let it go.
func (c *wsNetConn) takeBuffer() {
	if c.released {
		*c.br = *bufio.NewReaderSize(c, wsReadBufferSize)
		c.released = false
	}
}

// hijackCoarse hands gorilla the hijacked connection as a wsNetConn, and
// a read buffer of ours to read it through (gorilla uses the one it is
// handed when the upgrader's ReadBufferSize is 0).
type hijackCoarse struct{ http.ResponseWriter }

func (w hijackCoarse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	nc := &wsNetConn{coarseDeadlineConn: coarseDeadlineConn{Conn: c}}
	if rw.Reader.Buffered() > 0 {
		return nc, rw, nil // gorilla refuses it (data before the handshake's end)
	}
	nc.br = bufio.NewReaderSize(nc, wsReadBufferSize)
	return nc, bufio.NewReadWriter(nc.br, rw.Writer), nil
}

// wsEpoch is the origin of wsNow.
var wsEpoch = time.Now()

// wsNow is the monotonic time in nanoseconds, for times kept in atomics.
func wsNow() int64 { return int64(time.Since(wsEpoch)) }

// heard records that the client sent something whole (a message, a pong).
func (c *wsConn) heardNow() { c.heard.Store(wsNow()) }
