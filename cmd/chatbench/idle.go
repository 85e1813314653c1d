package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// IdlePoint is the server's state with Sockets idle subscriptions held.
type IdlePoint struct {
	Sockets    int     `json:"sockets"`
	RSSKiB     float64 `json:"rss_kib"`
	Goroutines float64 `json:"goroutines"`
	// From the Go runtime via /metrics: steadier than RSS, which follows
	// the garbage collector's steps.
	StackKiB float64 `json:"stack_inuse_kib"`
	HeapKiB  float64 `json:"heap_inuse_kib"`
	// The live heap as the last completed GC cycle marked it
	// (go_gc_heap_live_bytes), and the cycles completed so far: a reading
	// is of this point when a cycle completed after the step's sockets
	// were opened.
	HeapLiveKiB float64 `json:"heap_live_kib,omitempty"`
	GCCycles    float64 `json:"gc_cycles,omitempty"`
}

// IdleResult is one idle ramp.
type IdleResult struct {
	Target              string      `json:"target"`
	Sockets             int         `json:"sockets"`
	Held                int         `json:"held"` // still open at the end
	Points              []IdlePoint `json:"points"`
	RSSPerSocketKiB     float64     `json:"rss_per_socket_kib"` // growth over the second half of the ramp
	GoroutinesPerSocket float64     `json:"goroutines_per_socket"`
	StackPerSocketKiB   float64     `json:"stack_per_socket_kib"`
	HeapPerSocketKiB    float64     `json:"heap_inuse_per_socket_kib"`
	// What the sockets hold, without the garbage: growth of the live
	// heap over the second half of the ramp (0 when the server does not
	// export it). RSS follows the GC's heap goal, about (1 + GOGC/100)
	// times the live heap, so RSS per socket is about twice this with
	// GOGC=100.
	HeapLivePerSocketKiB float64 `json:"heap_live_per_socket_kib,omitempty"`
	// HeapLiveNote says when a live-heap reading is older than its
	// point (no GC cycle completed during the step).
	HeapLiveNote string `json:"heap_live_note,omitempty"`
	// RSSNote says why RSSPerSocketKiB is no per-socket cost when the
	// server's RSS fell during the second half of the ramp (it returned
	// memory it held before: the sign-ups' password hashes, 19 MiB each).
	RSSNote  string   `json:"rss_note,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

type idleOpts struct {
	target   string
	sockets  int
	steps    int
	settle   time.Duration
	pid      int
	progress bool
}

// runIdle ramps up to o.sockets idle subscribed sockets in o.steps steps,
// reading the server's RSS (/proc/<pid>/status) and goroutines (/metrics)
// after each step has settled.
func runIdle(ctx context.Context, a *api, o idleOpts) (*IdleResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res := &IdleResult{Target: o.target, Sockets: o.sockets}
	if lim := fileLimit(); o.sockets > lim-256 {
		res.Problems = append(res.Problems, fmt.Sprintf("file limit %d: holding %d sockets instead of %d", lim, lim-256, o.sockets))
		o.sockets = lim - 256
		res.Sockets = o.sockets
	}
	clk := newClock()
	tokens := []string{"raw"}
	roomID := "raw"
	if o.target == "chatty" {
		users, err := signUp(ctx, a, 1+(o.sockets+subsPerUser-1)/subsPerUser, "i")
		if err != nil {
			return nil, err
		}
		// A room has at most 500 members: the owner and up to 499 others.
		if roomID, err = createRoom(ctx, a, users[0], users[1:min(len(users), 500)], "idle"); err != nil {
			return nil, err
		}
		tokens = tokens[:0]
		for _, u := range users[1:] {
			tokens = append(tokens, u.Token)
		}
	}
	var subs []*subscriber
	defer func() { closeAll(subs) }()
	read := func(n int) error {
		// Settled: RSS and goroutines unchanged (RSS within 0.5 %) over
		// two o.settle in a row, for at most max(4 × o.settle, 10 s). A
		// GC cycle during a step lowers the heap goal when memory held
		// before (the sign-ups' password hashes) turns out garbage, and
		// the runtime then returns it to the system over seconds: a point
		// read while that goes on measures the return, not the sockets.
		time.Sleep(o.settle)
		rss, err := rssKiB(o.pid)
		if err != nil {
			return err
		}
		m, err := goMetrics(ctx, a)
		if err != nil {
			return err
		}
		g := m["go_goroutines"]
		for stable, deadline := 0, time.Now().Add(max(4*o.settle, 10*time.Second)); stable < 2 && time.Now().Before(deadline); {
			time.Sleep(o.settle)
			rss2, err := rssKiB(o.pid)
			if err != nil {
				return err
			}
			m2, err := goMetrics(ctx, a)
			if err != nil {
				return err
			}
			g2 := m2["go_goroutines"]
			if g2 == g && rss2 >= rss*0.995 && rss2 <= rss*1.005 {
				stable++
			} else {
				stable = 0
			}
			rss, g, m = rss2, g2, m2
		}
		res.Points = append(res.Points, IdlePoint{Sockets: n, RSSKiB: rss, Goroutines: g,
			StackKiB: m["go_memstats_stack_inuse_bytes"] / 1024, HeapKiB: m["go_memstats_heap_inuse_bytes"] / 1024,
			HeapLiveKiB: m[metricHeapLive] / 1024, GCCycles: m[metricGCCycles]})
		return nil
	}
	if err := read(0); err != nil {
		return nil, err
	}
	for step := 1; step <= o.steps; step++ {
		n := o.sockets * step / o.steps
		add := n - len(subs)
		from := len(subs)
		more, err := openSubscribers(ctx, a, add, func(i int) string { return tokens[(from+i)/subsPerUser%len(tokens)] },
			selections["minimal"], map[string]any{"room": roomID}, clk, o.progress, fmt.Sprintf("idle %s: %d→%d sockets", o.target, from, n))
		subs = append(subs, more...)
		if err != nil {
			res.Problems = append(res.Problems, err.Error())
			break
		}
		if err := read(len(subs)); err != nil {
			return nil, err
		}
	}
	for _, s := range subs {
		select {
		case <-s.done:
		default:
			res.Held++
		}
	}
	// Growth over the second half of the ramp.
	if len(res.Points) >= 3 {
		last := res.Points[len(res.Points)-1]
		mid := res.Points[0]
		for _, p := range res.Points {
			if p.Sockets <= last.Sockets/2 {
				mid = p
			}
		}
		if d := float64(last.Sockets - mid.Sockets); d > 0 {
			res.RSSPerSocketKiB = (last.RSSKiB - mid.RSSKiB) / d
			res.GoroutinesPerSocket = (last.Goroutines - mid.Goroutines) / d
			res.StackPerSocketKiB = (last.StackKiB - mid.StackKiB) / d
			res.HeapPerSocketKiB = (last.HeapKiB - mid.HeapKiB) / d
			if last.HeapLiveKiB > 0 && mid.HeapLiveKiB > 0 {
				res.HeapLivePerSocketKiB = (last.HeapLiveKiB - mid.HeapLiveKiB) / d
				res.HeapLiveNote = staleLive(res.Points, mid, last)
			}
		}
		for _, p := range res.Points {
			if p.Sockets > mid.Sockets && p.RSSKiB < mid.RSSKiB {
				res.RSSNote = fmt.Sprintf("RSS fell below its %d-socket level (%.0f → %.0f KiB at %d): the server returned memory it held before the ramp, so the RSS growth is no per-socket cost", mid.Sockets, mid.RSSKiB, p.RSSKiB, p.Sockets)
				break
			}
		}
	}
	return res, nil
}

// staleLive names the points among mid and last whose live-heap reading
// predates them: no GC cycle completed between the previous point and
// it, so the sockets its step opened are not all in it.
func staleLive(points []IdlePoint, mid, last IdlePoint) string {
	var stale []string
	for i := 1; i < len(points); i++ {
		p := points[i]
		if (p.Sockets == mid.Sockets || p.Sockets == last.Sockets) && p.GCCycles <= points[i-1].GCCycles {
			stale = append(stale, strconv.Itoa(p.Sockets))
		}
	}
	if len(stale) == 0 {
		return ""
	}
	return fmt.Sprintf("no GC cycle completed during the step to %s sockets: the live heap there is as of an earlier cycle", strings.Join(stale, ", "))
}

// rssKiB is VmRSS of pid.
func rssKiB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("server RSS (-pid): %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return v, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// The Go runtime's live heap and completed GC cycles on /metrics
// (runtime/metrics /gc/heap/live:bytes and /gc/cycles/total:gc-cycles,
// which chatty exports).
const (
	metricHeapLive = "go_gc_heap_live_bytes"
	metricGCCycles = "go_gc_cycles_total_gc_cycles_total"
)

// goMetrics reads the Go runtime's gauges from the server's /metrics:
// go_goroutines (required), go_memstats_stack_inuse_bytes,
// go_memstats_heap_inuse_bytes, and the live heap and GC cycles where
// the server exports them.
func goMetrics(ctx context.Context, a *api) (map[string]float64, error) {
	body, err := a.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for line := range strings.Lines(body) {
		name, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		switch name {
		case "go_goroutines", "go_memstats_stack_inuse_bytes", "go_memstats_heap_inuse_bytes", metricHeapLive, metricGCCycles:
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				m[name] = f
			}
		}
	}
	if _, ok := m["go_goroutines"]; !ok {
		return nil, fmt.Errorf("no go_goroutines in /metrics")
	}
	return m, nil
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard one (Go does so
// at start already; this makes sure and reports it).
func raiseFileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 1024
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
	return fileLimit()
}

func fileLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 1024
	}
	return int(min(r.Cur, 1<<20))
}

// cpuTime is the user+system CPU pid has used so far (0 when unknown:
// no pid, or no /proc).
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) in parentheses:
	// state is field 3, utime 14, stime 15, in clock ticks (100 per second).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}
