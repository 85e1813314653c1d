package cputime

import (
	"os"
	"testing"
)

// Spinning shows up in this process's CPU time, read both ways; a process
// that does not exist has none.
func TestCPUTime(t *testing.T) {
	self0, of0 := Self(), Of(os.Getpid())
	x := 0
	for Self()-self0 < 30e6 { // 30 ms of CPU
		x++
	}
	if Self() <= self0 || x == 0 {
		t.Fatalf("Self did not move: %v", Self()-self0)
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil && Of(os.Getpid()) <= of0 {
		t.Fatalf("Of(self) did not move after 30 ms of CPU: %v -> %v", of0, Of(os.Getpid()))
	}
	if Of(-1) != 0 || Of(1<<30) != 0 {
		t.Fatal("a process that does not exist has CPU time")
	}
}
