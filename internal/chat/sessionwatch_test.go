package chat

import (
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// After an outage every connection checks its session, but the instance
// runs at most maxSessionChecks of those database reads at once.
func TestSessionChecksAreBounded(t *testing.T) {
	w := &sessionWatch{slots: make(chan struct{}, maxSessionChecks)}
	release := make(chan struct{})
	var running, peak, done atomic.Int32
	const conns = 3 * maxSessionChecks
	for range conns {
		w.coalesce(func() {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			running.Add(-1)
			done.Add(1)
		})()
	}
	waitFor(t, "the first checks to start", func() bool { return running.Load() == maxSessionChecks })
	time.Sleep(20 * time.Millisecond) // room for a check that should not start
	if p := peak.Load(); p != maxSessionChecks {
		t.Fatalf("%d checks ran at once, want %d", p, maxSessionChecks)
	}
	close(release)
	waitFor(t, "every check to run", func() bool { return done.Load() == conns })
}

// Announcements that come while a connection's check runs fold into one
// more run, not one each.
func TestSessionChecksCoalesce(t *testing.T) {
	w := &sessionWatch{slots: make(chan struct{}, maxSessionChecks)}
	release := make(chan struct{}, 10)
	var started, runs atomic.Int32
	check := w.coalesce(func() {
		started.Add(1)
		<-release
		runs.Add(1)
	})
	check()
	waitFor(t, "the check to start", func() bool { return started.Load() == 1 })
	for range 5 {
		check()
	}
	release <- struct{}{}
	release <- struct{}{}
	waitFor(t, "the folded run", func() bool { return runs.Load() == 2 })
	time.Sleep(20 * time.Millisecond)
	if n := started.Load(); n != 2 {
		t.Fatalf("%d runs for a check called once and then 5 times while it ran, want 2", n)
	}
}
