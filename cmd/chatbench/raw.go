package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gorilla/websocket"
	_ "modernc.org/sqlite"
)

// rawHub is the baseline chatty is measured against: a minimal gorilla
// broadcast hub speaking just enough graphql-transport-ws for the bench's
// client (connection_init → ack, one subscribe), with one reader and one
// writer goroutine per socket and one pre-encoded frame per message. Its
// "sendMessage" numbers the message and broadcasts it; nothing is stored.
type rawHub struct {
	mu    sync.Mutex
	seq   int64
	conns map[*rawConn]struct{}
}

type rawConn struct {
	ws   *websocket.Conn
	out  chan *websocket.PreparedMessage
	once sync.Once
}

var rawUpgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 1024,
	WriteBufferPool: &sync.Pool{},
	Subprotocols:    []string{"graphql-transport-ws"},
	CheckOrigin:     func(*http.Request) bool { return true },
}

func (h *rawHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/metrics":
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(w, "go_goroutines %d\ngo_memstats_stack_inuse_bytes %d\ngo_memstats_heap_inuse_bytes %d\n",
			runtime.NumGoroutine(), ms.StackInuse, ms.HeapInuse)
	case r.URL.Path == "/graphql" && websocket.IsWebSocketUpgrade(r):
		h.serveWS(w, r)
	case r.URL.Path == "/graphql" && r.Method == http.MethodPost:
		h.send(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *rawHub) send(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Variables struct {
			In struct {
				ClientID string `json:"clientId"`
			} `json:"in"`
		} `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.seq++
	seq := h.seq
	frame, _ := websocket.NewPreparedMessage(websocket.TextMessage,
		fmt.Appendf(nil, `{"id":"1","type":"next","payload":{"data":{"messageAdded":{"id":"m%d","seq":%d}}}}`, seq, seq))
	for c := range h.conns {
		select {
		case c.out <- frame:
		default: // fell behind: dropped, as chatty does
			go c.drop(websocket.CloseTryAgainLater)
		}
	}
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"data":{"sendMessage":{"id":"m%d","seq":%d}}}`, seq, seq)
}

func (h *rawHub) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := rawUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &rawConn{ws: ws, out: make(chan *websocket.PreparedMessage, 256)}
	go c.write()
	// Reader: init, one subscribe, then whatever comes until the close.
	for {
		var m struct {
			Type string `json:"type"`
		}
		if err := ws.ReadJSON(&m); err != nil {
			break
		}
		switch m.Type {
		case "connection_init":
			ack, _ := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"type":"connection_ack"}`))
			c.out <- ack
		case "subscribe":
			h.mu.Lock()
			h.conns[c] = struct{}{}
			h.mu.Unlock()
		case "ping":
			pong, _ := websocket.NewPreparedMessage(websocket.TextMessage, []byte(`{"type":"pong"}`))
			c.out <- pong
		}
	}
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	c.drop(websocket.CloseNormalClosure)
}

func (c *rawConn) write() {
	for m := range c.out {
		if m == nil {
			return
		}
		_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := c.ws.WritePreparedMessage(m); err != nil {
			c.ws.Close()
			return
		}
	}
}

func (c *rawConn) drop(code int) {
	c.once.Do(func() {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
		c.ws.Close()
	})
}

// serveRawHub serves the hub on ln until the process ends.
func serveRawHub(ln net.Listener) error {
	h := &rawHub{conns: map[*rawConn]struct{}{}}
	return (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
}

// startRawHub runs the hub in a child process (this binary with
// -raw-hub-serve), so that its RSS and goroutines are its own; it returns
// the hub's URL, its pid and a stop function. inProcess serves it from
// this process instead (the smoke test).
func startRawHub(inProcess bool) (base string, pid int, stop func(), err error) {
	if inProcess {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", 0, nil, err
		}
		go serveRawHub(ln)
		return "http://" + ln.Addr().String(), os.Getpid(), func() { ln.Close() }, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(exe, "-raw-hub-serve")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return "", 0, nil, fmt.Errorf("raw hub did not start: %w", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid, func() { cmd.Process.Kill(); cmd.Wait() }, nil
}

// openRawDB opens dsn, given as chatty's database URL: sqlite:PATH or
// mysql://user:pass@host:port/dbname.
func openRawDB(dsn string) (*sql.DB, string, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		q := url.Values{}
		for _, p := range []string{"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
			q.Add("_pragma", p)
		}
		db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		return db, "sqlite", err
	case strings.HasPrefix(dsn, "mysql://"):
		cfg, err := mysqlConfig(dsn)
		if err != nil {
			return nil, "", err
		}
		db, err := sql.Open("mysql", cfg.FormatDSN())
		return db, "mysql", err
	}
	return nil, "", fmt.Errorf("-raw-dsn %q: want sqlite:PATH or mysql://user:pass@host:port/dbname", dsn)
}

func mysqlConfig(u string) (*mysql.Config, error) {
	p, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(p.Hostname()); p.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s: loopback only", p.Host)
	}
	cfg := mysql.NewConfig()
	cfg.User = p.User.Username()
	cfg.Passwd, _ = p.User.Password()
	cfg.Net = "tcp"
	cfg.Addr = p.Host
	cfg.DBName = strings.TrimPrefix(p.Path, "/")
	cfg.ParseTime = true
	cfg.Params = map[string]string{"charset": "utf8mb4"}
	return cfg, nil
}

// runRawInserts is the database's own limit for the send scenario: one
// autocommitted INSERT per send into a table of the message's shape, the
// same concurrencies and pool size as chatty's default (8 on SQLite, 32 on
// MySQL), each worker numbering its own room's seq.
func runRawInserts(ctx context.Context, db *sql.DB, driver string, o sendOpts) ([]*SendResult, error) {
	pool := 8
	ddl := `CREATE TABLE chatbench_raw (id INTEGER PRIMARY KEY AUTOINCREMENT, room_id INTEGER NOT NULL, seq INTEGER NOT NULL,
  body TEXT NOT NULL, client_id TEXT, created_at TEXT NOT NULL, UNIQUE (room_id, seq))`
	if driver == "mysql" {
		pool = 32
		ddl = `CREATE TABLE chatbench_raw (id BIGINT AUTO_INCREMENT PRIMARY KEY, room_id BIGINT NOT NULL, seq BIGINT NOT NULL,
  body LONGTEXT NOT NULL, client_id VARCHAR(191), created_at DATETIME(6) NOT NULL, UNIQUE KEY (room_id, seq)) ENGINE=InnoDB`
	}
	db.SetMaxOpenConns(pool)
	db.SetMaxIdleConns(pool)
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS chatbench_raw"); err != nil {
		return nil, fmt.Errorf("raw: %w", err)
	}
	if _, err := db.ExecContext(ctx, ddl); err != nil {
		return nil, fmt.Errorf("raw: %w", err)
	}
	defer db.ExecContext(context.Background(), "DROP TABLE IF EXISTS chatbench_raw")
	var out []*SendResult
	room := int64(0)
	for _, c := range o.concurrency {
		r := &SendResult{Target: "raw", Concurrency: c, Rooms: c, Errors: map[string]int{}}
		var mu sync.Mutex
		var lat []float64
		var total atomic.Int64
		bar := newBar(o.progress, -1, fmt.Sprintf("send raw c=%d", c))
		clk := newClock()
		dbCPU0 := cpuTime(o.dbPid)
		stop := time.Now().Add(o.duration)
		var wg sync.WaitGroup
		for range c {
			wg.Add(1)
			myRoom := atomic.AddInt64(&room, 1)
			go func() {
				defer wg.Done()
				for seq := int64(1); ; seq++ {
					if time.Now().After(stop) || ctx.Err() != nil || total.Add(1) > int64(o.max) {
						return
					}
					t := clk.now()
					now := time.Now().UTC()
					var created any = now
					if driver == "sqlite" {
						created = now.Format("2006-01-02 15:04:05.999999999-07:00")
					}
					_, err := db.ExecContext(ctx, "INSERT INTO chatbench_raw (room_id, seq, body, client_id, created_at) VALUES (?, ?, ?, ?, ?)",
						myRoom, seq, "bench send", fmt.Sprintf("r-%d-%d", myRoom, seq), created)
					d := clk.now() - t
					mu.Lock()
					if err != nil {
						r.Errors[strings.SplitN(err.Error(), ":", 2)[0]]++
					} else {
						r.Sends++
						lat = append(lat, ms(d))
					}
					mu.Unlock()
					bar.Add(1)
				}
			}()
		}
		wg.Wait()
		bar.Finish()
		r.Seconds = secs(clk.now())
		r.PerSec = float64(r.Sends) / r.Seconds
		if cpu := cpuTime(o.dbPid) - dbCPU0; o.dbPid > 0 && r.Sends > 0 {
			r.DBCPUus = float64(cpu.Microseconds()) / float64(r.Sends)
		}
		sort.Float64s(lat)
		r.P50ms, r.P99ms = quantile(lat, 0.5), quantile(lat, 0.99)
		if len(r.Errors) == 0 {
			r.Errors = nil
		}
		out = append(out, r)
	}
	return out, nil
}

// createMySQLDatabase makes a fresh database beside the one in u and
// returns its URL (for make bench on MariaDB); dropMySQLDatabase removes it.
func createMySQLDatabase(u string) (string, error) {
	cfg, err := mysqlConfig(u)
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("chatbench_%d", time.Now().UnixNano())
	cfg.DBName = ""
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		return "", err
	}
	p, _ := url.Parse(u)
	p.Path = "/" + name
	return p.String(), nil
}

func dropMySQLDatabase(u string) error {
	cfg, err := mysqlConfig(u)
	if err != nil {
		return err
	}
	name := cfg.DBName
	if !strings.HasPrefix(name, "chatbench_") {
		return fmt.Errorf("refusing to drop %q: not a chatbench database", name)
	}
	cfg.DBName = ""
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec("DROP DATABASE " + name)
	return err
}
