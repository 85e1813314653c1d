package upload

import (
	"context"
	"runtime/debug"
	"sync"
)

// budget admits image decodes by the memory they are estimated to take, so
// that what decoding holds at once stays under a total, and by uploader, so
// that one user's uploads cannot take every turn: an owner runs at most
// perOwner decodes at a time, and a decode that fits starts at once, ahead
// of bigger ones waiting for room (first fit, not first come). A waiting
// decode that could run but for the memory is passed over at most maxPass
// times: then nothing behind it starts until it has, so a large image is
// not starved by a stream of small ones either.
type budget struct {
	total    int64
	perOwner int
	// freeOSMemory returns memory to the operating system; it runs once
	// the budget is idle again after a large decode.
	freeOSMemory func()

	mu      sync.Mutex
	inUse   int64
	owners  map[int]int // decodes running per owner
	waiting []*budgetWaiter
	large   bool // a large decode ran since memory was last returned
}

// largeDecode is the estimate from which a decode is large enough to give
// its memory back to the operating system once nothing else decodes.
const largeDecode = 32 << 20

// maxPass is how many later decodes may start before one that waits for
// memory.
const maxPass = 8

type budgetWaiter struct {
	owner  int
	n      int64
	passed int           // how many later decodes started first
	ready  chan struct{} // closed once admitted
}

func newBudget(total int64, perOwner int) *budget {
	return &budget{total: total, perOwner: perOwner, freeOSMemory: debug.FreeOSMemory, owners: map[int]int{}}
}

// fits reports whether a decode of n bytes by owner may start now; b.mu is held.
func (b *budget) fits(owner int, n int64) bool {
	return b.inUse+n <= b.total && b.owners[owner] < b.perOwner
}

// mayPass reports whether a decode may start ahead of the waiters before
// it (the first `before` of b.waiting): not when one of them, held back by
// memory alone, was passed over maxPass times already. Those it passes
// count one more. b.mu is held.
func (b *budget) mayPass(before int) bool {
	for _, w := range b.waiting[:before] {
		if b.owners[w.owner] < b.perOwner && w.passed >= maxPass {
			return false
		}
	}
	for _, w := range b.waiting[:before] {
		if b.owners[w.owner] < b.perOwner {
			w.passed++
		}
	}
	return true
}

func (b *budget) admit(owner int, n int64) {
	b.inUse += n
	b.owners[owner]++
	if n >= largeDecode {
		b.large = true
	}
}

// acquire waits until a decode of n estimated bytes by owner may run, and
// returns the function that ends it. n must be at most b.total.
func (b *budget) acquire(ctx context.Context, owner int, n int64) (release func(), err error) {
	b.mu.Lock()
	if b.fits(owner, n) && b.mayPass(len(b.waiting)) {
		b.admit(owner, n)
		b.mu.Unlock()
		return func() { b.release(owner, n) }, nil
	}
	w := &budgetWaiter{owner: owner, n: n, ready: make(chan struct{})}
	b.waiting = append(b.waiting, w)
	b.mu.Unlock()

	select {
	case <-w.ready:
		return func() { b.release(owner, n) }, nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready: // admitted meanwhile: hand the room on
			b.mu.Unlock()
			b.release(owner, n)
		default:
			for i, x := range b.waiting {
				if x == w {
					b.waiting = append(b.waiting[:i], b.waiting[i+1:]...)
					break
				}
			}
			b.mu.Unlock()
		}
		return nil, ctx.Err()
	}
}

func (b *budget) release(owner int, n int64) {
	b.mu.Lock()
	b.inUse -= n
	if b.owners[owner]--; b.owners[owner] <= 0 {
		delete(b.owners, owner)
	}
	// Admit, in order, every waiter that fits now and may pass those
	// still waiting before it.
	for i := 0; i < len(b.waiting); {
		w := b.waiting[i]
		if b.fits(w.owner, w.n) && b.mayPass(i) {
			b.admit(w.owner, w.n)
			close(w.ready)
			b.waiting = append(b.waiting[:i], b.waiting[i+1:]...)
			continue
		}
		i++
	}
	giveBack := b.inUse == 0 && b.large
	if giveBack {
		b.large = false
	}
	b.mu.Unlock()
	if giveBack {
		// The Go runtime keeps freed heap for reuse and returns it to the
		// system only slowly: after a burst of large decodes, hand it back
		// now (a forced GC, once the burst is over, not per decode).
		b.freeOSMemory()
	}
}
