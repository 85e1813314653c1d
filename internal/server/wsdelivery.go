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
type coarseDeadlineConn struct {
	net.Conn
	mu sync.Mutex
	wd time.Time // the write deadline in force
}

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
