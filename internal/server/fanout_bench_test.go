package server_test

// Benchmarks of live delivery through the real handler: real WebSocket
// subscribers (graphql-transport-ws) of one room, messages sent with the
// sendMessage mutation over HTTP. Clients run in the same process, so
// the numbers include their reading; compare runs, not absolute values.
// On a shared machine compare cpu-ns/delivery (the process's CPU time per
// delivery, clients included) rather than wall time.
//
//	go test ./internal/server/ -run '^$' -bench Fanout -benchtime 50x
//	go test ./internal/server/ -run '^$' -bench IdleSockets -benchtime 1x
//
// The server's own share is what a profile shows:
//
//	go test ./internal/server/ -run '^$' -bench Fanout/subs=1000 -cpuprofile cpu.out

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatty/chatty/internal/cputime"
)

const (
	benchUsers      = 20 // subscribers are spread over this many accounts (sign-up is rate limited)
	benchWindow     = 32 // messages in flight at most: below the server's per-subscriber queue
	benchMinimalOp  = `subscription($r: ID!, $after: Cursor) { messageAdded(roomId: $r, after: $after) { id seq } }`
	benchRealisticO = `subscription($r: ID!, $after: Cursor) { messageAdded(roomId: $r, after: $after) { id seq body createdAt sender { id nickname } room { id name } } }`
)

// benchEnv is a server with a room of benchUsers members.
type benchEnv struct {
	e       *env
	users   []account
	roomID  string
	lastSeq int64 // the room's newest message
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	e := newEnv(b, "sqlite")
	be := &benchEnv{e: e}
	for i := range benchUsers {
		be.users = append(be.users, benchSignUp(b, e, fmt.Sprintf("fan%d", i)))
	}
	ids := make([]string, 0, benchUsers-1)
	for _, u := range be.users[1:] {
		ids = append(ids, u.ID)
	}
	var out struct{ CreateRoom struct{ ID string } }
	benchDo(b, e, be.users[0].AccessToken, createRoomOp, map[string]any{"ids": ids, "name": "fan-out"}, &out)
	be.roomID = out.CreateRoom.ID
	be.send(b, "opening")
	return be
}

// benchDo runs a GraphQL operation over HTTP and decodes its data into out.
func benchDo(tb testing.TB, e *env, token, query string, vars map[string]any, out any) {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []gqlError
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Errors) > 0 {
		tb.Fatalf("%s: %v %+v", query, err, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			tb.Fatal(err)
		}
	}
}

func benchSignUp(tb testing.TB, e *env, nickname string) account {
	tb.Helper()
	a := account{Email: fmt.Sprintf("%s-%d-%d@example.com", nickname, seq(), time.Now().UnixNano()), Password: "correct horse battery", Nickname: nickname}
	var out struct {
		SignUp struct {
			AccessToken string
			User        struct{ ID string }
		}
	}
	benchDo(tb, e, "", `mutation($in: SignUpInput!) { signUp(input: $in) { accessToken user { id } } }`,
		map[string]any{"in": map[string]any{"email": a.Email, "password": a.Password, "nickname": nickname}}, &out)
	a.ID, a.AccessToken = out.SignUp.User.ID, out.SignUp.AccessToken
	return a
}

// send posts one message and returns its seq.
func (be *benchEnv) send(tb testing.TB, body string) int64 {
	tb.Helper()
	var out struct{ SendMessage struct{ Seq int64 } }
	benchDo(tb, be.e, be.users[0].AccessToken, `mutation($r: ID!, $b: String!) { sendMessage(input: {roomId: $r, body: $b}) { seq } }`,
		map[string]any{"r": be.roomID, "b": body}, &out)
	return out.SendMessage.Seq
}

// lastCursor is the cursor of the room's newest message.
func (be *benchEnv) lastCursor(tb testing.TB) string {
	tb.Helper()
	var out struct {
		Room struct {
			Messages struct{ Edges []struct{ Cursor string } }
		}
	}
	benchDo(tb, be.e, be.users[0].AccessToken, `query($r: ID!) { room(id: $r) { messages(last: 1) { edges { cursor } } } }`,
		map[string]any{"r": be.roomID}, &out)
	return out.Room.Messages.Edges[0].Cursor
}

// benchDialer keeps the clients' own buffers small: the process's memory
// is mostly the server's.
var benchDialer = websocket.Dialer{HandshakeTimeout: wsWait, ReadBufferSize: 1024, WriteBufferSize: 512, WriteBufferPool: &sync.Pool{}, Subprotocols: []string{protoTransportWS}}

// benchSocket dials, authenticates as a and subscribes with op (when not
// empty) after cursor.
func (be *benchEnv) socket(tb testing.TB, a account, op, after string) *websocket.Conn {
	tb.Helper()
	return be.socketVars(tb, a, op, map[string]any{"r": be.roomID, "after": after})
}

// socketVars is socket with the subscription's variables.
func (be *benchEnv) socketVars(tb testing.TB, a account, op string, vars map[string]any) *websocket.Conn {
	tb.Helper()
	conn, resp, err := benchDialer.Dial(be.e.wsURL(), nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	w := func(v any) {
		if err := conn.WriteJSON(v); err != nil {
			tb.Fatal(err)
		}
	}
	w(map[string]any{"type": "connection_init", "payload": wsBearer(a.AccessToken)})
	var ack wsFrame
	if err := conn.ReadJSON(&ack); err != nil || ack.Type != "connection_ack" {
		tb.Fatalf("connection_init: %v %v", ack, err)
	}
	if op != "" {
		w(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": op, "variables": vars}})
	}
	return conn
}

// fanRun is one timed run: how many subscribers still miss each message.
type fanRun struct {
	first   int64 // seq of the run's first message
	missing []atomic.Int32
	done    chan int64 // seqs every subscriber has
}

// fanTracker follows what every subscriber receives, checking that each
// gets every message once and in seq order.
type fanTracker struct {
	run    atomic.Pointer[fanRun]
	broken atomic.Value // string: the first subscriber that saw a gap, a repeat or an error
	wg     sync.WaitGroup
}

var seqKey = []byte(`"seq":`)

func (ft *fanTracker) read(conn *websocket.Conn, last int64) {
	defer ft.wg.Done()
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return // closed at the end
		}
		i := bytes.Index(b, seqKey)
		if i < 0 || !bytes.Contains(b, []byte(`"type":"next"`)) {
			ft.broken.CompareAndSwap(nil, "unexpected frame "+string(b))
			continue
		}
		j := i + len(seqKey)
		k := j
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		s, _ := strconv.ParseInt(string(b[j:k]), 10, 64)
		if s != last+1 {
			ft.broken.CompareAndSwap(nil, fmt.Sprintf("got seq %d after %d", s, last))
		}
		last = s
		if r := ft.run.Load(); r != nil && s >= r.first && s < r.first+int64(len(r.missing)) {
			if r.missing[s-r.first].Add(-1) == 0 {
				r.done <- s
			}
		}
	}
}

// fanOut holds subs subscribed sockets, then sends b.N messages (at most
// benchWindow unfinished) and waits until every subscriber has them all.
func (be *benchEnv) fanOut(b *testing.B, subs int, op string) {
	after := be.lastCursor(b)
	last := be.send(b, "before the subscribers") - 1
	ft := &fanTracker{}
	conns := make([]*websocket.Conn, subs)
	for i := range conns {
		conns[i] = be.socket(b, be.users[i%len(be.users)], op, after)
		ft.wg.Add(1)
		go ft.read(conns[i], last)
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
		ft.wg.Wait()
	}()
	run := func(n int, timed bool) {
		r := &fanRun{missing: make([]atomic.Int32, n), done: make(chan int64, n)}
		for i := range r.missing {
			r.missing[i].Store(int32(subs))
		}
		r.first = be.lastSeq + 1
		ft.run.Store(r)
		if timed {
			b.ResetTimer()
		}
		start, cpu0 := time.Now(), cputime.Self()
		finished := 0
		for i := range n {
			for i-finished >= benchWindow {
				select {
				case <-r.done:
					finished++
				case <-time.After(30 * time.Second):
					b.Fatalf("message %d did not reach every subscriber; %v", finished, ft.broken.Load())
				}
			}
			if got := be.send(b, "m"+strconv.Itoa(i)); got != r.first+int64(i) {
				b.Fatalf("sent seq %d, want %d", got, r.first+int64(i))
			}
		}
		timeout := time.After(30 * time.Second)
		for finished < n {
			select {
			case <-r.done:
				finished++
			case <-timeout:
				b.Fatalf("%d of %d messages reached every subscriber; %v", finished, n, ft.broken.Load())
			}
		}
		elapsed, cpu := time.Since(start), cputime.Self()-cpu0
		be.lastSeq += int64(n)
		if timed {
			b.StopTimer()
			b.ReportMetric(float64(n*subs)/elapsed.Seconds(), "deliveries/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n*subs), "ns/delivery")
			// CPU time holds up better than wall time on a shared machine.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*subs), "cpu-ns/delivery")
		}
	}
	be.lastSeq = last + 1
	run(1, false) // warm-up: once every subscriber has it, every subscription is live
	run(b.N, true)
	if msg := ft.broken.Load(); msg != nil {
		b.Fatal(msg)
	}
}

// BenchmarkFanout measures delivery to many subscribers of one room:
// deliveries/s and wall time per delivery, through the real server.
func BenchmarkFanout(b *testing.B) {
	be := newBenchEnv(b) // once: a benchmark's body runs several times
	for _, sel := range []struct{ name, op string }{{"minimal", benchMinimalOp}, {"realistic", benchRealisticO}} {
		for _, subs := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/subs=%d", sel.name, subs), func(b *testing.B) {
				be.fanOut(b, subs, sel.op)
			})
		}
	}
}

// BenchmarkIdleSockets holds sockets with one messageAdded subscription
// each and reports the process's goroutines per socket beyond the
// client's one reader (the server's) and heap plus stack bytes per socket
// (client included: an upper bound of the server's).
func BenchmarkIdleSockets(b *testing.B) {
	const sockets = 1000
	be := newBenchEnv(b)
	after := be.lastCursor(b)
	for range b.N {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		conns := make([]*websocket.Conn, sockets)
		var wg sync.WaitGroup
		for i := range conns {
			conns[i] = be.socket(b, be.users[i%len(be.users)], benchMinimalOp, after)
			wg.Add(1)
			go func(c *websocket.Conn) { // the client's reader
				defer wg.Done()
				for {
					if _, _, err := c.NextReader(); err != nil {
						return
					}
				}
			}(conns[i])
		}
		time.Sleep(500 * time.Millisecond) // let subscriptions settle
		runtime.GC()
		var held runtime.MemStats
		runtime.ReadMemStats(&held)
		g1 := runtime.NumGoroutine()
		b.ReportMetric(float64(g1-g0-sockets)/sockets, "server-goroutines/socket")
		b.ReportMetric(float64((held.HeapAlloc+held.StackInuse)-(before.HeapAlloc+before.StackInuse))/sockets/1024, "KiB/socket")
		for _, c := range conns {
			_ = c.Close()
		}
		wg.Wait()
	}
}
