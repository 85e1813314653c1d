// Command chatbench measures a running chatty over its public API only —
// GraphQL over HTTP and graphql-transport-ws subscriptions over WebSocket —
// and, with -baseline raw, the same scenarios against a minimal gorilla
// broadcast hub and a raw INSERT loop on the same database, so the report
// shows chatty, the raw limit and their ratio. Every scenario is bounded in
// time and count, talks to loopback addresses only and stops by itself.
//
//	chatbench -url http://127.0.0.1:8080 -pid $(pidof chatty) -profile short \
//	    -baseline raw -raw-dsn sqlite:data/chatty.db -out bench-out
//
// `make bench` starts a chatty on a temporary database and runs this.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
)

// profile sizes every scenario.
type profile struct {
	fanoutSubs      []int
	realisticUpTo   int // the realistic selection runs up to this many subscribers
	burstDeliveries int // a burst is about this many deliveries …
	burstMin        int // … but at least and at most this many messages
	burstMax        int
	paced           time.Duration
	// pacedMax bounds the paced phase's messages. The smoke profile keeps
	// a burst and its paced phase under a subscriber's queue (256 events,
	// chatty's and the raw hub's), so a loaded machine (CI with -race)
	// cannot drop a subscriber that merely reads late.
	pacedMax    int
	send        sendOpts
	idleSockets int
	idleSteps   int
	idleSettle  time.Duration
	history     historyOpts
	upload      uploadOpts
}

var profiles = map[string]profile{
	"smoke": {
		fanoutSubs: []int{10}, realisticUpTo: 10, burstDeliveries: 200, burstMin: 20, burstMax: 20, paced: 500 * time.Millisecond, pacedMax: 100,
		send:        sendOpts{concurrency: []int{1, 4}, rooms: 4, duration: 500 * time.Millisecond, max: 40},
		idleSockets: 40, idleSteps: 2, idleSettle: 200 * time.Millisecond,
		history: historyOpts{messages: 120, concurrency: []int{1, 4}, duration: 500 * time.Millisecond},
		upload:  uploadOpts{sizesMiB: []int{1}, files: 2},
	},
	"short": {
		fanoutSubs: []int{10, 100, 1000}, realisticUpTo: 1000, burstDeliveries: 60000, burstMin: 40, burstMax: 200, paced: 1500 * time.Millisecond, pacedMax: 2000,
		send:        sendOpts{concurrency: []int{1, 8, 64}, rooms: 32, duration: 1500 * time.Millisecond, max: 5000},
		idleSockets: 2000, idleSteps: 4, idleSettle: 500 * time.Millisecond,
		history: historyOpts{messages: 300, concurrency: []int{1, 16}, duration: 1500 * time.Millisecond},
		upload:  uploadOpts{sizesMiB: []int{1, 20}, files: 3},
	},
	"full": {
		fanoutSubs: []int{10, 100, 1000, 5000}, realisticUpTo: 5000, burstDeliveries: 500000, burstMin: 40, burstMax: 1000, paced: 10 * time.Second, pacedMax: 2000,
		send:        sendOpts{concurrency: []int{1, 8, 64}, rooms: 64, duration: 10 * time.Second, max: 50000},
		idleSockets: 20000, idleSteps: 10, idleSettle: 3 * time.Second,
		history: historyOpts{messages: 20000, concurrency: []int{1, 16}, duration: 10 * time.Second},
		upload:  uploadOpts{sizesMiB: []int{1, 20}, files: 10},
	},
}

func (p profile) burst(subs int) int {
	return min(max(p.burstDeliveries/subs, p.burstMin), p.burstMax)
}

// options are chatbench's flags.
type options struct {
	url, out, profile, baseline, rawDSN string
	scenarios                           []string
	pid                                 int
	dbPid                               int
	sources                             int
	fanoutSubs                          string // comma-separated subscriber counts, in place of the profile's
	progress                            bool
	rawInProcess                        bool // the smoke test serves the raw hub itself
	// rawDB opens the database of the raw INSERT loop (default: -raw-dsn).
	rawDB func() (*sql.DB, string, error)
	log   io.Writer
}

func main() {
	var o options
	var scen string
	var rawHub bool
	var createDB, dropDB string
	var freePort bool
	fs := flag.NewFlagSet("chatbench", flag.ExitOnError)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "chatty's base URL (loopback only)")
	fs.IntVar(&o.dbPid, "db-pid", 0, "the database server's process id (MariaDB on this machine), for its CPU time per send")
	fs.IntVar(&o.pid, "pid", 0, "chatty's process id, for its RSS (/proc/<pid>/status); the idle scenario needs it")
	fs.StringVar(&scen, "scenarios", "fanout,send,history,upload,idle", "comma-separated: fanout, send, history, upload, idle")
	fs.StringVar(&o.profile, "profile", "short", "smoke, short (under 3 minutes) or full")
	fs.StringVar(&o.out, "out", "bench-out", "directory for report.md, report.json and the plots")
	fs.StringVar(&o.baseline, "baseline", "", "raw: also run a minimal gorilla hub and a raw INSERT loop (needs -raw-dsn) and show the ratios")
	fs.StringVar(&o.rawDSN, "raw-dsn", "", "chatty's database for the raw INSERT loop: sqlite:PATH or mysql://user:pass@127.0.0.1:3306/db")
	fs.StringVar(&o.fanoutSubs, "fanout-subs", "", "fanout: comma-separated subscriber counts to run (default: the profile's, e.g. 10,100,1000)")
	fs.IntVar(&o.sources, "sources", 8, "loopback source addresses to spread sockets over (127.0.0.2 …)")
	fs.BoolVar(&o.progress, "progress", isTerminal(os.Stderr), "progress bars on stderr (default: when it is a terminal)")
	fs.BoolVar(&rawHub, "raw-hub-serve", false, "internal: serve the raw hub on a loopback port, print its URL")
	fs.StringVar(&createDB, "create-mysql-db", "", "helper for make bench: create a fresh database beside this mysql:// URL, print its URL")
	fs.StringVar(&dropDB, "drop-mysql-db", "", "helper for make bench: drop this chatbench_ database")
	fs.BoolVar(&freePort, "free-port", false, "helper for make bench: print a free loopback host:port")
	fs.Parse(os.Args[1:])
	switch {
	case freePort:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatal(err)
		}
		fmt.Println(ln.Addr().String())
		ln.Close()
		return
	case rawHub:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatal(err)
		}
		fmt.Println("http://" + ln.Addr().String())
		fatal(serveRawHub(ln))
	case createDB != "":
		u, err := createMySQLDatabase(createDB)
		if err != nil {
			fatal(err)
		}
		fmt.Println(u)
		return
	case dropDB != "":
		if err := dropMySQLDatabase(dropDB); err != nil {
			fatal(err)
		}
		return
	}
	o.scenarios = strings.Split(scen, ",")
	o.log = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := run(ctx, o)
	if r != nil {
		fmt.Print("\n" + r.Markdown())
		if werr := r.write(o.out); werr != nil {
			fatal(werr)
		}
		fmt.Printf("\nwritten: %s/report.md, report.json, latency-cdf.svg, idle-rss.svg\n", o.out)
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "chatbench:", err)
	os.Exit(1)
}

// run runs the chosen scenarios; scenario failures are collected in the
// report, setup failures end the run.
func run(ctx context.Context, o options) (*Report, error) {
	p, ok := profiles[o.profile]
	if !ok {
		return nil, fmt.Errorf("-profile %q: want smoke, short or full", o.profile)
	}
	for _, s := range o.scenarios {
		if !slices.Contains([]string{"fanout", "send", "history", "upload", "idle"}, s) {
			return nil, fmt.Errorf("-scenarios: unknown %q (fanout, send, history, upload, idle)", s)
		}
	}
	if o.baseline != "" && o.baseline != "raw" {
		return nil, fmt.Errorf("-baseline %q: only raw", o.baseline)
	}
	if o.fanoutSubs != "" {
		p.fanoutSubs = nil
		for _, f := range strings.Split(o.fanoutSubs, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("-fanout-subs: %q is not a subscriber count", f)
			}
			p.fanoutSubs = append(p.fanoutSubs, n)
			p.realisticUpTo = max(p.realisticUpTo, n)
		}
	}
	raiseFileLimit()
	src := &sources{n: o.sources}
	a, err := newAPI(o.url, src)
	if err != nil {
		return nil, err
	}
	if err := waitHealthy(ctx, a, 60*time.Second); err != nil {
		return nil, err
	}
	rep := &Report{Started: time.Now().UTC().Format(time.RFC3339), URL: o.url, Profile: o.profile, Machine: machine()}
	if o.rawDSN != "" {
		rep.Database = strings.SplitN(o.rawDSN, ":", 2)[0]
	}
	var raw *api
	var rawPid int
	if o.baseline == "raw" {
		base, pid, stopHub, err := startRawHub(o.rawInProcess)
		if err != nil {
			return nil, err
		}
		defer stopHub()
		if raw, err = newAPI(base, src); err != nil {
			return nil, err
		}
		rawPid = pid
	}
	fail := func(what string, err error) {
		rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", what, err))
		fmt.Fprintf(o.log, "%s: %v\n", what, err)
	}
	began := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(o.log, "%4.0fs  "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
	}
	if slices.Contains(o.scenarios, "fanout") {
		for _, n := range p.fanoutSubs {
			fo := fanoutOpts{subscribers: n, burst: p.burst(n), paced: p.paced, pacedMax: p.pacedMax, progress: o.progress}
			type run struct {
				a           *api
				target, sel string
				pid         int
			}
			runs := []run{{a, "chatty", "minimal", o.pid}}
			if n <= p.realisticUpTo {
				runs = append(runs, run{a, "chatty", "realistic", o.pid})
			}
			if raw != nil {
				runs = append(runs, run{raw, "raw", "minimal", rawPid})
			}
			for _, r := range runs {
				if ctx.Err() != nil {
					return rep, ctx.Err()
				}
				fo.target, fo.selection, fo.pid = r.target, r.sel, r.pid
				res, err := runFanout(ctx, r.a, fo)
				if err != nil {
					fail(fmt.Sprintf("fanout %s %s %d", r.target, r.sel, n), err)
					continue
				}
				say("fanout %-6s %-9s ×%-5d %9.0f deliveries/s  server %5.1f µs/delivery  p50 %6.1f ms  p99 %6.1f ms  max %6.1f ms  (paced %.0f msg/s)  complete %d/%d",
					r.target, r.sel, n, res.DeliveriesPerSec, res.ServerCPUus, res.P50ms, res.P99ms, res.Maxms, res.PacedRate, res.Complete, n)
				rep.Fanout = append(rep.Fanout, res)
			}
		}
	}
	if slices.Contains(o.scenarios, "send") && ctx.Err() == nil {
		so := p.send
		so.progress, so.pid, so.dbPid = o.progress, o.pid, o.dbPid
		res, chk, err := runSend(ctx, a, so)
		if err != nil {
			fail("send chatty", err)
		}
		rep.Send, rep.SendCheck = append(rep.Send, res...), chk
		for _, r := range res {
			say("send   chatty c=%-3d %7.0f/s  server %6.0f µs/send%s  %4.1f round trips/send  p99 %6.1f ms  errors %v", r.Concurrency, r.PerSec, r.ServerCPUus, dbCPU(r, "send"), r.Statements, r.P99ms, r.Errors)
		}
		if chk != nil {
			say("send   read back: %d of %d acknowledged stored, %d duplicate seqs, %d gaps", chk.Stored, chk.Acked, chk.Duplicates, chk.Gaps)
		}
		if raw != nil {
			if o.rawDB == nil && o.rawDSN != "" {
				o.rawDB = func() (*sql.DB, string, error) { return openRawDB(o.rawDSN) }
			}
			if o.rawDB == nil {
				fail("send raw", errors.New("-raw-dsn is needed for the raw INSERT loop"))
			} else if db, driver, err := o.rawDB(); err != nil {
				fail("send raw", err)
			} else if res, err := runRawInserts(ctx, db, driver, so); err != nil {
				db.Close()
				fail("send raw", err)
			} else {
				db.Close()
				rep.Send = append(rep.Send, res...)
				for _, r := range res {
					say("send   raw    c=%-3d %7.0f/s%s  p99 %6.1f ms  errors %v", r.Concurrency, r.PerSec, dbCPU(r, "insert"), r.P99ms, r.Errors)
				}
			}
		}
	}
	if slices.Contains(o.scenarios, "history") && ctx.Err() == nil {
		ho := p.history
		ho.progress, ho.pid = o.progress, o.pid
		res, err := runHistory(ctx, a, ho)
		if err != nil {
			fail("history", err)
		}
		rep.History = res
		for _, r := range res {
			say("history c=%-3d %6.0f pages/s  %7.0f messages/s  server %6.0f µs/page  p99 %6.1f ms  errors %v  problems %v", r.Concurrency, r.PagesPerSec, r.MsgsPerSec, r.ServerCPUus, r.P99ms, r.Errors, r.Problems)
		}
	}
	if slices.Contains(o.scenarios, "upload") && ctx.Err() == nil {
		if o.pid == 0 {
			fail("upload", errors.New("-pid is needed for the server's RSS"))
		} else {
			uo := p.upload
			uo.progress, uo.pid = o.progress, o.pid
			res, err := runUpload(ctx, a, uo)
			if err != nil {
				fail("upload", err)
			}
			rep.Upload = res
			for _, r := range res {
				say("upload %2d MiB × %d  %6.1f MiB/s  server peak RSS +%.1f MiB  problems %v", r.SizeMiB, r.Files, r.MBPerSec, r.PeakRSSGrowth, r.Problems)
			}
		}
	}
	if slices.Contains(o.scenarios, "idle") && ctx.Err() == nil {
		idle := idleOpts{sockets: p.idleSockets, steps: p.idleSteps, settle: p.idleSettle, progress: o.progress}
		if o.pid == 0 {
			fail("idle chatty", errors.New("-pid is needed for the server's RSS"))
		} else {
			idle.target, idle.pid = "chatty", o.pid
			if res, err := runIdle(ctx, a, idle); err != nil {
				fail("idle chatty", err)
			} else {
				rep.Idle = append(rep.Idle, res)
				say("idle   chatty %d sockets: %.1f KiB RSS, %.2f goroutines, %.1f KiB stacks, %.1f KiB heap per socket", res.Sockets, res.RSSPerSocketKiB, res.GoroutinesPerSocket, res.StackPerSocketKiB, res.HeapPerSocketKiB)
				if res.HeapLivePerSocketKiB != 0 {
					say("idle   chatty: %.1f KiB live heap per socket (as of the last GC)", res.HeapLivePerSocketKiB)
				}
				if res.RSSNote != "" {
					say("idle   chatty: %s", res.RSSNote)
				}
				if res.HeapLiveNote != "" {
					say("idle   chatty: %s", res.HeapLiveNote)
				}
			}
		}
		if raw != nil {
			idle.target, idle.pid = "raw", rawPid
			if res, err := runIdle(ctx, raw, idle); err != nil {
				fail("idle raw", err)
			} else {
				rep.Idle = append(rep.Idle, res)
				say("idle   raw    %d sockets: %.1f KiB RSS, %.2f goroutines, %.1f KiB stacks, %.1f KiB heap per socket", res.Sockets, res.RSSPerSocketKiB, res.GoroutinesPerSocket, res.StackPerSocketKiB, res.HeapPerSocketKiB)
			}
		}
	}
	return rep, nil
}

// machine describes where the bench ran: cores and the load average at
// the start (the machine may be shared).
func machine() string {
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("%d cores, load average %s at start", runtime.NumCPU(), load)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// bar is a progress bar, or nothing.
type bar interface {
	Add(int) error
	Finish() error
}

type noBar struct{}

func (noBar) Add(int) error { return nil }
func (noBar) Finish() error { return nil }

// newBar shows a bar of n steps on stderr (a spinner when n < 0).
func newBar(show bool, n int, label string) bar {
	if !show {
		return noBar{}
	}
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
}

// waitHealthy polls /healthz until chatty answers (it may still be starting).
func waitHealthy(ctx context.Context, a *api, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		_, err := a.get(ctx, "/healthz")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("chatty at %s did not answer /healthz: %w", a.base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dbCPU is the database server's CPU per operation, when measured (-db-pid).
func dbCPU(r *SendResult, per string) string {
	if r.DBCPUus <= 0 {
		return ""
	}
	return fmt.Sprintf("  database %6.0f µs/%s", r.DBCPUus, per)
}
