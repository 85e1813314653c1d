package server_test

import (
	"bufio"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/database/dbtest"
)

// goroutinesOnMetrics reads go_goroutines from the server's /metrics.
func goroutinesOnMetrics(t *testing.T, e *env) int {
	t.Helper()
	resp, err := http.Get(e.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatal("no go_goroutines on /metrics")
	return 0
}

// idleReadersPerSocket is how many goroutines an idle socket holds for
// reading it: none where sockets park (Linux: an epoll set watches them,
// wspark_linux.go), elsewhere its reader.
func idleReadersPerSocket() int {
	if runtime.GOOS == "linux" {
		return 0
	}
	return 1
}

// An idle socket with live subscriptions holds no goroutine of the
// server's on Linux (one elsewhere, its reader): none for the HTTP handler
// after the upgrade, none for reading it while the client sends nothing,
// none per subscription while it waits for events, none for pings.
// Counted through /metrics (the server runs in this process, so the count
// includes this test's own reader per socket, which it subtracts). Not
// parallel: it counts the process's goroutines.
func TestWebSocketIdleSocketsHoldNoGoroutine(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			a, b := e.signUp(t, "idler"), e.signUp(t, "speaker")
			cb := e.client(b)
			r, after := cb.wsOpenRoom(t, "idle sockets", a.ID)
			goroutinesOnMetrics(t, e) // the keep-alive connection /metrics is read over
			base := goroutinesOnMetrics(t, e)
			pool := e.DB.SQL.Stats().OpenConnections

			const n = 20
			clients := make([]*wsClient, n)
			for i := range clients {
				c := e.wsConnect(t, []string{protoTransportWS, protoLegacyWS}[i%2], a)
				c.subscribe("m", wsMessageAddedOp, map[string]any{"r": r.ID, "after": after})
				c.subscribe("n", wsNotificationsOp, nil)
				clients[i] = c
			}
			// Every messageAdded is live: each gets the next message, then
			// waits again. (Notifications have no replay: one subscribed
			// after the send would miss it, so they are not waited for.)
			m := cb.send(t, r.ID, "are you there?")
			for _, c := range clients {
				if got := c.message("m"); got.ID != m.ID {
					t.Fatalf("got %+v, want %s", got, m.ID)
				}
			}
			// This test's clients hold one reader goroutine each; the MySQL
			// driver one per database connection the pool opened meanwhile.
			margin := 2 + max(0, e.DB.SQL.Stats().OpenConnections-pool)
			want := base + n + n*idleReadersPerSocket() + margin
			deadline := time.Now().Add(5 * time.Second)
			got := goroutinesOnMetrics(t, e)
			for got > want && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				got = goroutinesOnMetrics(t, e)
			}
			perSocket := float64(got-base-n-(margin-2)) / n
			t.Logf("%d sockets with 2 subscriptions each: %.2f server goroutines per socket", n, perSocket)
			if got > want {
				t.Fatalf("%d goroutines with %d idle subscribed sockets, %d before: %.2f per socket, want at most %d\n%s", got, n, base, perSocket, idleReadersPerSocket(), wsGoroutineDump())
			}
			// And they still deliver.
			m = cb.send(t, r.ID, "still there?")
			for _, c := range clients {
				if got := c.message("m"); got.ID != m.ID {
					t.Fatalf("got %+v, want %s", got, m.ID)
				}
			}
		})
	}
}
