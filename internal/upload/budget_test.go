package upload

import (
	"context"
	"errors"
	"testing"
	"time"
)

// acquired reports whether an acquire in flight (its result on ch) was admitted
// by now; it never waits for one that is not.
func admitted(ch <-chan func()) (func(), bool) {
	select {
	case r := <-ch:
		return r, true
	default:
		return nil, false
	}
}

func acquireAsync(t *testing.T, b *budget, ctx context.Context, owner int, n int64) <-chan func() {
	t.Helper()
	ch := make(chan func(), 1)
	go func() {
		r, err := b.acquire(ctx, owner, n)
		if err == nil {
			ch <- r
		}
	}()
	return ch
}

// waitQueued waits until n acquires wait in b (they are goroutines).
func waitQueued(t *testing.T, b *budget, n int) {
	t.Helper()
	for range 5000 {
		b.mu.Lock()
		got := len(b.waiting)
		b.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never saw %d waiting", n)
}

func TestBudgetAdmitsByMemoryAndOwner(t *testing.T) {
	ctx := context.Background()
	b := newBudget(100, 1)
	freed := 0
	b.freeOSMemory = func() { freed++ }

	big, err := b.acquire(ctx, 1, 60)
	if err != nil {
		t.Fatal(err)
	}
	// The same owner waits for its turn, even for a small image.
	own := acquireAsync(t, b, ctx, 1, 10)
	// Another owner's image that does not fit waits.
	other := acquireAsync(t, b, ctx, 2, 50)
	waitQueued(t, b, 2)
	// A third owner's that fits goes first (first fit), past the waiting one.
	small, err := b.acquire(ctx, 3, 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := admitted(own); ok {
		t.Fatal("an owner ran two decodes at once")
	}
	if _, ok := admitted(other); ok {
		t.Fatal("a decode ran over the budget")
	}

	big() // frees 60: owner 1's next fits (10), owner 2's (50) fits beside it and the 30
	r1 := <-own
	r2 := <-other
	if freed != 0 {
		t.Fatal("memory returned while decodes still run")
	}
	small()
	r1()
	r2()
	if freed != 0 {
		t.Fatal("memory returned after small decodes only")
	}

	// After a burst with a large decode, memory goes back once it is over.
	b = newBudget(1<<30, 1)
	b.freeOSMemory = func() { freed++ }
	r1, _ = b.acquire(ctx, 1, largeDecode)
	r2, _ = b.acquire(ctx, 2, 1)
	r1()
	if freed != 0 {
		t.Fatal("memory returned while a decode still runs")
	}
	r2()
	if freed != 1 {
		t.Fatalf("memory returned %d times after the burst, want once", freed)
	}
}

func TestBudgetWaitEndsWithTheContext(t *testing.T) {
	b := newBudget(10, 1)
	hold, _ := b.acquire(context.Background(), 1, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := b.acquire(ctx, 2, 5); done <- err }()
	waitQueued(t, b, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v", err)
	}
	hold()
	// Nothing is left held: the whole budget is free.
	r, err := b.acquire(context.Background(), 3, 10)
	if err != nil {
		t.Fatal(err)
	}
	r()
	if b.inUse != 0 || len(b.owners) != 0 || len(b.waiting) != 0 {
		t.Fatalf("budget left with %d in use, owners %v, %d waiting", b.inUse, b.owners, len(b.waiting))
	}
}

// A decode waiting for memory is passed over by at most maxPass others:
// then later ones wait behind it, and it starts as soon as memory frees.
func TestBudgetDoesNotStarveALargeDecode(t *testing.T) {
	ctx := context.Background()
	b := newBudget(100, 1)
	b.freeOSMemory = func() {}
	hold, _ := b.acquire(ctx, 1, 30)
	big := acquireAsync(t, b, ctx, 2, 80)
	waitQueued(t, b, 1)
	var small []func()
	for i := range maxPass {
		r, err := b.acquire(ctx, 10+i, 5) // these fit: they pass the large one
		if err != nil {
			t.Fatal(err)
		}
		small = append(small, r)
	}
	late := acquireAsync(t, b, ctx, 99, 5) // fits, but the large one was passed over enough
	waitQueued(t, b, 2)
	if _, ok := admitted(late); ok {
		t.Fatal("a small decode passed a large one more than maxPass times")
	}
	hold()
	for _, r := range small {
		r()
	}
	rb := <-big // the large one first, then the one behind it fits beside it
	rl := <-late
	rb()
	rl()
}
