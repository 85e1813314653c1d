package server_test

// BenchmarkSend: what one persisted sendMessage costs this process, through
// the real http.Handler (no network: the handler is called as net/http
// would call it), in the shape chatbench's send scenario sends: a bearer
// token, sendMessage(input: {roomId, body, clientId}) selecting id and seq,
// 32 group rooms of 4 members (3 recipients a send, nobody subscribed),
// senders going round-robin over the rooms. Per send it reports this
// process's CPU (cpu-µs/op: the handler, the domain, the SQL driver,
// publishing, the runtime and GC; on SQLite the database too) and, when
// CHATTY_BENCH_DB_PID names the database server's process on this
// machine, the database's (db-cpu-µs/op); allocs/op count every
// goroutine's. On SQLite always, on MariaDB when CHATTY_TEST_MYSQL_DSN is
// set; 1 and 8 senders at once.
//
//	go test ./internal/server -run '^$' -bench 'Send$' -benchmem -count 5
//	go test ./internal/server -run '^$' -bench 'Send$/mysql/senders=1' -cpuprofile cpu.out

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chatty/chatty/internal/cputime"
	"github.com/chatty/chatty/internal/database/dbtest"
)

func BenchmarkSend(b *testing.B) {
	for _, backend := range dbtest.Backends() {
		b.Run(backend, func(b *testing.B) {
			const rooms, members = 32, 4
			e := newEnv(b, backend)
			users := make([]account, rooms) // room r: users r … r+3 (mod 32)
			for i := range users {
				users[i] = benchSignUp(b, e, fmt.Sprint("sender", i))
			}
			roomIDs := make([]string, rooms)
			for r := range roomIDs {
				ids := make([]string, 0, members-1)
				for k := 1; k < members; k++ {
					ids = append(ids, users[(r+k)%rooms].ID)
				}
				var out struct{ CreateRoom struct{ ID string } }
				benchDo(b, e, users[r].AccessToken, createRoomOp, map[string]any{"ids": ids, "name": fmt.Sprint("room ", r)}, &out)
				roomIDs[r] = out.CreateRoom.ID
			}
			h := e.Server.Handler()
			var n atomic.Int64
			// send sends the next message of the round: room i%32 from one of
			// its members, with a clientId of its own.
			send := func(b *testing.B, buf *bytes.Buffer) {
				i := int(n.Add(1))
				r := i % rooms
				u := users[(r+(i/rooms)%members)%rooms]
				buf.Reset()
				buf.WriteString(`{"query":"mutation($in: SendMessageInput!) { sendMessage(input: $in) { id seq } }","variables":{"in":{"roomId":"`)
				buf.WriteString(roomIDs[r])
				buf.WriteString(`","body":"message number `)
				buf.WriteString(strconv.Itoa(i))
				buf.WriteString(` of the bench, long enough to look like a line of chat","clientId":"c-`)
				buf.WriteString(strconv.Itoa(i))
				buf.WriteString(`"}}}`)
				req := &http.Request{
					Method: http.MethodPost, URL: &url.URL{Path: "/graphql"}, Host: "chatty.test",
					Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, RemoteAddr: "192.0.2.1:1234",
					Header: http.Header{
						"Content-Type":  {"application/json"},
						"Authorization": {"Bearer " + u.AccessToken},
					},
					ContentLength: int64(buf.Len()), Body: io.NopCloser(bytes.NewReader(buf.Bytes())),
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"seq":`)) {
					b.Errorf("send: %d %s", rec.Code, rec.Body.Bytes())
				}
			}
			var warm bytes.Buffer
			for range 4 * rooms { // every sender in every room once: caches, pools
				send(b, &warm)
			}
			for _, c := range []int{1, 8} {
				b.Run(fmt.Sprint("senders=", c), func(b *testing.B) {
					dbPid, _ := strconv.Atoi(os.Getenv("CHATTY_BENCH_DB_PID"))
					if backend == "sqlite" {
						dbPid = 0 // in this process
					}
					db0, self0 := cputime.Of(dbPid), cputime.Self()
					b.ReportAllocs()
					b.ResetTimer()
					var wg sync.WaitGroup
					var next atomic.Int64
					for range c {
						wg.Add(1)
						go func() {
							defer wg.Done()
							var buf bytes.Buffer
							for next.Add(1) <= int64(b.N) {
								send(b, &buf)
							}
						}()
					}
					wg.Wait()
					b.StopTimer()
					b.ReportMetric(float64((cputime.Self()-self0).Microseconds())/float64(b.N), "cpu-µs/op")
					if dbPid > 0 {
						b.ReportMetric(float64((cputime.Of(dbPid)-db0).Microseconds())/float64(b.N), "db-cpu-µs/op")
					}
				})
			}
		})
	}
}
