package server

import (
	"context"
	"net"
	"slices"
	"sync"
	"time"
)

// The per-delivery costs of live subscriptions that are not GraphQL's: the
// goroutine a wake runs its drain on, and the write deadline of every frame.

// drainerIdle is how long a drainer waits for another drain before it
// ends: between one and two of these after its last drain.
const drainerIdle = 500 * time.Millisecond

// drainPool runs woken operations' drains (wsOp.drain) on goroutines that
// outlive one drain. A goroutine started per wake grew its stack again on
// every delivery (the executor and the write are deep): in a profile of
// one room with a thousand subscribers that copying cost about as much as
// the whole GraphQL side of a delivery. A wake hands its operation to the
// drainer that went idle last, or starts one when none is idle, so a
// drain never waits for another (a drain blocked on a slow peer holds its
// drainer only). Every drainerIdle the drainers that have been idle since
// before the previous tick end, so an idle server holds none.
type drainPool struct {
	mu      sync.Mutex
	idle    []*drainer // a stack: the one idle longest first
	alive   int
	ticks   int64
	ticking bool // the ticker goroutine runs (while alive > 0)
}

type drainer struct {
	work  chan *wsOp // buffered (1): handing work never blocks; nil ends the drainer
	since int64      // the tick it went idle at
}

var drainers drainPool

// run drains op on a drainer. It never blocks (wake calls it under the
// broker's lock).
func (p *drainPool) run(op *wsOp) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		d := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		d.work <- op
		return
	}
	p.alive++
	if !p.ticking {
		p.ticking = true
		go p.ticker()
	}
	p.mu.Unlock()
	go p.loop(&drainer{work: make(chan *wsOp, 1)}, op)
}

// loop drains op, then whatever the drainer is handed, until it is told
// to end.
func (p *drainPool) loop(d *drainer, op *wsOp) {
	for op != nil {
		op.drainRecovering()
		p.mu.Lock()
		d.since = p.ticks
		p.idle = append(p.idle, d)
		p.mu.Unlock()
		op = <-d.work
	}
}

// ticker ends, every drainerIdle, the drainers idle since before the
// previous tick; it returns once none is left.
func (p *drainPool) ticker() {
	for {
		time.Sleep(drainerIdle)
		p.mu.Lock()
		p.ticks++
		n := 0
		for n < len(p.idle) && p.idle[n].since < p.ticks-1 {
			n++
		}
		retired := slices.Clone(p.idle[:n])
		p.idle = slices.Delete(p.idle, 0, n)
		p.alive -= n
		done := p.alive == 0
		if done {
			p.ticking = false
			p.idle = nil
		}
		p.mu.Unlock()
		for _, d := range retired {
			d.work <- nil
		}
		if done {
			return
		}
	}
}

// coarseDeadlineConn skips a write deadline that would move the one in
// force only a little later. gorilla sets the connection's write deadline
// before every frame, and each setting re-arms a runtime timer (about a
// tenth of a delivery's CPU time in a fan-out profile). A frame written
// soon after another keeps the earlier deadline when that one still
// leaves it at least seven eighths of the time asked for: a peer that
// takes that long to take a frame is dropped a little sooner, never
// later. An earlier deadline (a close frame's) always applies.
//
// It also gathers frames that are ready together (gather, then flush):
// what gorilla writes in between is kept and goes out in one write
// system call at flush, where each frame would have taken one (the write
// is about half of a delivery's CPU time). A frame another goroutine
// writes meanwhile (a ping, a pong, a close frame) takes its place among
// the gathered bytes, as it would have on the socket; Close first writes
// whatever is gathered (within the deadline in force), so a close frame
// written while frames were gathered still goes out, after them.
type coarseDeadlineConn struct {
	net.Conn
	mu sync.Mutex
	wd time.Time // the write deadline in force

	gathering bool
	out       *[]byte       // gathered, not yet written (from gatherBufs)
	flushing  bool          // flush is writing, outside mu
	flushed   chan struct{} // made by a Close waiting for the flush; closed when it ends
	err       error         // why gathered bytes can no longer go out (a failed write, Close)
}

// gatherBufs holds the buffers of gathered frames between flushes: an
// idle socket holds none.
var gatherBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxGathered bounds what one flush writes, and so what a socket's
// gathering holds.
const maxGathered = 64 << 10

func (c *coarseDeadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.IsZero() && !c.wd.IsZero() && !t.Before(c.wd) {
		now := time.Now()
		if want := t.Sub(now); c.wd.Sub(now) >= want-want/8 {
			return nil
		}
	}
	c.wd = t
	return c.Conn.SetWriteDeadline(t)
}

func (c *coarseDeadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wd = t
	return c.Conn.SetDeadline(t)
}

// Write writes b, or adds it to what is gathered while the connection
// gathers or flushes.
func (c *coarseDeadlineConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if !c.gathering && !c.flushing {
		c.mu.Unlock()
		return c.Conn.Write(b)
	}
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.out == nil {
		c.out = gatherBufs.Get().(*[]byte)
	}
	*c.out = append(*c.out, b...)
	return len(b), nil
}

// gather keeps what is written from now on for flush. One writer at a
// time gathers (the connection's writeMu holder).
func (c *coarseDeadlineConn) gather() {
	c.mu.Lock()
	c.gathering = true
	c.mu.Unlock()
}

// flush ends gathering and writes what was gathered, and what others
// write meanwhile, in order.
func (c *coarseDeadlineConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gathering = false
	for c.out != nil && c.err == nil {
		out := c.out
		c.out = nil
		c.flushing = true
		c.mu.Unlock()
		_, err := c.Conn.Write(*out)
		*out = (*out)[:0]
		if cap(*out) <= maxGathered {
			gatherBufs.Put(out)
		}
		c.mu.Lock()
		c.flushing = false
		if c.flushed != nil {
			close(c.flushed)
			c.flushed = nil
		}
		if err != nil {
			c.err = err
		}
	}
	if c.out != nil { // not written: a write failed
		*c.out = (*c.out)[:0]
		gatherBufs.Put(c.out)
		c.out = nil
	}
	return c.err
}

// Close writes what is gathered (waiting for a flush under way), then
// closes the connection.
func (c *coarseDeadlineConn) Close() error {
	c.mu.Lock()
	for c.flushing {
		if c.flushed == nil {
			c.flushed = make(chan struct{})
		}
		ch := c.flushed
		c.mu.Unlock()
		<-ch // bounded by the write deadline in force
		c.mu.Lock()
	}
	out, err := c.out, c.err
	c.out = nil
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.mu.Unlock()
	if out != nil {
		if err == nil {
			_, _ = c.Conn.Write(*out)
		}
		*out = (*out)[:0]
		gatherBufs.Put(out)
	}
	return c.Conn.Close()
}

// doneOnce returns ctx with its Done channel taken once. The context a
// subscription's responses run in sits under a long chain of values
// (gqlgen's, the viewer's, the loaders'), and Done and Err walk all of it
// on every call: gqlgen checks Err before each response, about 5 % of a
// delivery's CPU time. Contexts derived from it stop the walk here.
func doneOnce(ctx context.Context) context.Context {
	return doneCtx{Context: ctx, done: ctx.Done()}
}

type doneCtx struct {
	context.Context
	done <-chan struct{}
}

func (c doneCtx) Done() <-chan struct{} { return c.done }

func (c doneCtx) Err() error {
	select {
	case <-c.done:
		return c.Context.Err()
	default:
		return nil // (also when done is nil: never cancelled)
	}
}
