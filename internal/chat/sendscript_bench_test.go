package chat

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatty/chatty/internal/cputime"
)

// BenchmarkSendMariaDB sends messages through the domain API on MariaDB
// (CHATTY_TEST_MYSQL_DSN) over 32 rooms of 4 members, one sender at a
// time and 8 at once, and reports, per send, the round trips, this
// process's CPU time and, when CHATTY_BENCH_DB_PID names the database
// server's process on this machine, its CPU time.
func BenchmarkSendMariaDB(b *testing.B) {
	if os.Getenv("CHATTY_TEST_MYSQL_DSN") == "" {
		b.Skip("CHATTY_TEST_MYSQL_DSN not set")
	}
	for _, c := range []int{1, 8} {
		b.Run(fmt.Sprint("senders=", c), func(b *testing.B) {
			f := newRoomsFixture(b, 32)
			ctx := context.Background()
			var n atomic.Int64
			send := func() {
				i := int(n.Add(1))
				u := f.users[i%4]
				if _, err := f.s.SendMessage(ctx, u, SendMessageInput{RoomID: f.rooms[(i/4)%32], Body: fmt.Sprint("hello there number ", i)}); err != nil {
					b.Error(err)
				}
			}
			for range 64 { // warm the senders and the pools
				send()
			}
			dbPid, _ := strconv.Atoi(os.Getenv("CHATTY_BENCH_DB_PID"))
			db0, self0 := cputime.Of(dbPid), cputime.Self()
			f.roundTrips.Store(0)
			b.ResetTimer()
			var wg sync.WaitGroup
			var next atomic.Int64
			for range c {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						send()
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(f.roundTrips.Load())/float64(b.N), "roundtrips/op")
			b.ReportMetric(float64((cputime.Self()-self0).Microseconds())/float64(b.N), "self-cpu-µs/op")
			if dbPid > 0 {
				b.ReportMetric(float64((cputime.Of(dbPid)-db0).Microseconds())/float64(b.N), "db-cpu-µs/op")
			}
		})
	}
}
