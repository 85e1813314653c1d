package auth

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPasswordBurst checks 16 passwords at once with the production
// cost (19 MiB each), through gates of different sizes, and reports the
// peak heap seen: the memory a burst of sign-ins costs.
//
//	go test -run XXX -bench PasswordBurst -benchtime 3x ./internal/auth
func BenchmarkPasswordBurst(b *testing.B) {
	const burst = 16
	encoded := hashPassword("correct horse battery", DefaultPasswordParams)
	for _, slots := range []int{burst, 4, 2} {
		b.Run(fmt.Sprintf("slots=%d", slots), func(b *testing.B) {
			g := newHashGate(slots, time.Minute, nil)
			var peak atomic.Uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				var m runtime.MemStats
				for {
					runtime.ReadMemStats(&m)
					if m.HeapInuse > peak.Load() {
						peak.Store(m.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}()
			runtime.GC()
			for b.Loop() {
				var wg sync.WaitGroup
				for range burst {
					wg.Go(func() {
						_ = g.do(context.Background(), func() { _, _ = checkPassword("wrong password", encoded) })
					})
				}
				wg.Wait()
			}
			close(stop)
			<-sampled
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		})
	}
}
