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
// of bigger ones waiting for room (first fit, not first come). A large
// decode may thus wait while smaller ones pass; it still starts as soon as
// enough is free, since no owner can hold more than perOwner at a time.
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

type budgetWaiter struct {
	owner int
	n     int64
	ready chan struct{} // closed once admitted
}

func newBudget(total int64, perOwner int) *budget {
	return &budget{total: total, perOwner: perOwner, freeOSMemory: debug.FreeOSMemory, owners: map[int]int{}}
}

// fits reports whether a decode of n bytes by owner may start now; b.mu is held.
func (b *budget) fits(owner int, n int64) bool {
	return b.inUse+n <= b.total && b.owners[owner] < b.perOwner
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
	if b.fits(owner, n) {
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
	// Admit, in order, every waiter that fits now.
	kept := b.waiting[:0]
	for _, w := range b.waiting {
		if b.fits(w.owner, w.n) {
			b.admit(w.owner, w.n)
			close(w.ready)
		} else {
			kept = append(kept, w)
		}
	}
	clear(b.waiting[len(kept):])
	b.waiting = kept
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
