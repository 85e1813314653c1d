package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Report is everything one chatbench run measured (the JSON file).
type Report struct {
	Started   string           `json:"started"`
	URL       string           `json:"url"`
	Database  string           `json:"database,omitempty"`
	Profile   string           `json:"profile"`
	Machine   string           `json:"machine"`
	Fanout    []*FanoutResult  `json:"fanout,omitempty"`
	Send      []*SendResult    `json:"send,omitempty"`
	SendCheck *SendCheck       `json:"send_check,omitempty"`
	History   []*HistoryResult `json:"history,omitempty"`
	Upload    []*UploadResult  `json:"upload,omitempty"`
	Idle      []*IdleResult    `json:"idle,omitempty"`
	Errors    []string         `json:"errors,omitempty"`
}

// Markdown is the report's table: chatty, raw and chatty/raw per measure.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chatbench %s profile, %s, %s, database %s\n\n", r.Profile, r.Started, r.Machine, or(r.Database, "?"))
	b.WriteString("| measure | chatty | raw | chatty / raw | check |\n|---|---|---|---|---|\n")
	row := func(measure string, chatty, raw float64, unit string, haveRaw bool, check string) {
		c, rw, ratio := num(chatty, unit), "–", "–"
		if haveRaw {
			rw = num(raw, unit)
			if raw != 0 {
				ratio = fmt.Sprintf("%.2f×", chatty/raw)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", measure, c, rw, ratio, check)
	}
	rawFan := map[int]*FanoutResult{}
	for _, f := range r.Fanout {
		if f.Target == "raw" {
			rawFan[f.Subscribers] = f
		}
	}
	for _, f := range r.Fanout {
		if f.Target != "chatty" {
			continue
		}
		raw, ok := rawFan[f.Subscribers]
		if !ok {
			raw = &FanoutResult{}
		}
		check := fmt.Sprintf("%d/%d complete", f.Complete, f.Subscribers)
		if len(f.SendErrors) > 0 {
			check += fmt.Sprintf(", send errors %v", f.SendErrors)
		}
		rawCheck := ""
		if ok {
			rawCheck = fmt.Sprintf(" (raw %d/%d)", raw.Complete, raw.Subscribers)
		}
		name := fmt.Sprintf("fanout 1 room × %d, `%s`", f.Subscribers, f.Selection)
		row(name+": deliveries/s (burst of "+fmt.Sprint(f.BurstMessages)+")", f.DeliveriesPerSec, raw.DeliveriesPerSec, "/s", ok, check+rawCheck)
		if f.ServerCPUus > 0 {
			row(name+": server CPU µs per delivery (burst)", f.ServerCPUus, raw.ServerCPUus, "µs", ok && raw.ServerCPUus > 0, fmt.Sprintf("bench's own: %.1f µs", f.BenchCPUus))
		}
		row(name+fmt.Sprintf(": p50 ms at half the burst rate (%.0f vs %.0f msg/s)", f.PacedRate, raw.PacedRate), f.P50ms, raw.P50ms, "ms", ok, "")
		row(name+": p99 ms at half the burst rate", f.P99ms, raw.P99ms, "ms", ok, "")
		row(name+": max ms", f.Maxms, raw.Maxms, "ms", ok, "")
	}
	rawSend := map[int]*SendResult{}
	for _, s := range r.Send {
		if s.Target == "raw" {
			rawSend[s.Concurrency] = s
		}
	}
	for _, s := range r.Send {
		if s.Target != "chatty" {
			continue
		}
		raw, ok := rawSend[s.Concurrency]
		if !ok {
			raw = &SendResult{}
		}
		check := ""
		if len(s.Errors) > 0 {
			check = fmt.Sprintf("errors %v", s.Errors)
		}
		row(fmt.Sprintf("persisted sends/s, concurrency %d over %d rooms (raw: INSERT loop)", s.Concurrency, s.Rooms), s.PerSec, raw.PerSec, "/s", ok, check)
		row(fmt.Sprintf("send p99 ms, concurrency %d", s.Concurrency), s.P99ms, raw.P99ms, "ms", ok, "")
		if s.ServerCPUus > 0 {
			row(fmt.Sprintf("chatty CPU µs per send, concurrency %d (database's not counted)", s.Concurrency), s.ServerCPUus, 0, "µs", false, "")
		}
		if s.DBCPUus > 0 {
			row(fmt.Sprintf("database server CPU µs per send, concurrency %d (raw: per INSERT)", s.Concurrency), s.DBCPUus, raw.DBCPUus, "µs", raw.DBCPUus > 0, "")
		}
		if s.Statements > 0 {
			row(fmt.Sprintf("SQL round trips per send, concurrency %d (BEGIN, COMMIT and any session read included; on MariaDB a send's statements go as two scripts, a batch of sends to one room shares them; on SQLite, in process, each statement counts)", s.Concurrency), s.Statements, 0, "", false, "")
		}
	}
	if c := r.SendCheck; c != nil {
		verdict := "ok"
		if !c.OK {
			verdict = "FAILED " + strings.Join(c.Problems, "; ")
		}
		fmt.Fprintf(&b, "| sends read back via Room.messages | %d of %d acknowledged | | | %s: %d duplicate seqs, %d gaps |\n", c.Stored, c.Acked, verdict, c.Duplicates, c.Gaps)
	}
	for _, h := range r.History {
		check := ""
		if len(h.Errors) > 0 || len(h.Problems) > 0 {
			check = fmt.Sprintf("errors %v %s", h.Errors, strings.Join(h.Problems, "; "))
		}
		row(fmt.Sprintf("history: pages of 50 (with sender) per second, concurrency %d, room of %d", h.Concurrency, h.Messages), h.PagesPerSec, 0, "/s", false, check)
		row(fmt.Sprintf("history: messages per second, concurrency %d", h.Concurrency), h.MsgsPerSec, 0, "/s", false, "")
	}
	for _, u := range r.Upload {
		check := fmt.Sprintf("%d files stored whole", u.Files)
		if len(u.Problems) > 0 {
			check = "FAILED " + strings.Join(u.Problems, "; ")
		}
		row(fmt.Sprintf("upload %d MiB files (sendFile, one at a time): MiB/s", u.SizeMiB), u.MBPerSec, 0, "", false, check)
		row(fmt.Sprintf("upload %d MiB files: server peak RSS growth over its RSS before the first upload, MiB", u.SizeMiB), u.PeakRSSGrowth, 0, "", false, "")
	}
	var rawIdle *IdleResult
	for _, i := range r.Idle {
		if i.Target == "raw" {
			rawIdle = i
		}
	}
	for _, i := range r.Idle {
		if i.Target != "chatty" {
			continue
		}
		raw, ok := rawIdle, rawIdle != nil
		if !ok {
			raw = &IdleResult{}
		}
		check := fmt.Sprintf("%d/%d held", i.Held, i.Sockets)
		if len(i.Problems) > 0 {
			check += "; " + strings.Join(i.Problems, "; ")
		}
		if i.RSSNote != "" {
			check += "; " + i.RSSNote
		}
		row(fmt.Sprintf("server RSS KiB per idle subscribed socket (growth over the 2nd half of %d)", i.Sockets), i.RSSPerSocketKiB, raw.RSSPerSocketKiB, "KiB", ok, check)
		row("server goroutines per idle socket", i.GoroutinesPerSocket, raw.GoroutinesPerSocket, "", ok, "")
		row("server goroutine stacks KiB per idle socket (/metrics)", i.StackPerSocketKiB, raw.StackPerSocketKiB, "KiB", ok, "")
		row("server heap in use KiB per idle socket (/metrics)", i.HeapPerSocketKiB, raw.HeapPerSocketKiB, "KiB", ok, "")
		if i.HeapLivePerSocketKiB != 0 {
			row("server live heap KiB per idle socket (/metrics, as of the last GC; RSS ≈ 2× with GOGC=100)", i.HeapLivePerSocketKiB, raw.HeapLivePerSocketKiB, "KiB", ok && raw.HeapLivePerSocketKiB != 0, i.HeapLiveNote)
		}
	}
	for _, f := range r.Fanout {
		for _, p := range f.Problems {
			fmt.Fprintf(&b, "\n- fanout %s %s %d: %s", f.Target, f.Selection, f.Subscribers, p)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "\n- error: %s", e)
	}
	b.WriteString("\n")
	return b.String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func num(v float64, unit string) string {
	switch unit {
	case "/s":
		if v >= 10000 {
			return fmt.Sprintf("%.1f k/s", v/1000)
		}
		return fmt.Sprintf("%.0f/s", v)
	case "ms":
		return fmt.Sprintf("%.1f ms", v)
	case "µs":
		return fmt.Sprintf("%.1f µs", v)
	case "KiB":
		return fmt.Sprintf("%.1f KiB", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// write saves report.md, report.json and the plots in dir.
func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	j, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "report.json"), j, 0o644); err != nil {
		return err
	}
	if len(r.Fanout) > 0 {
		for _, ext := range []string{"svg", "png"} {
			if err := r.plotLatency(filepath.Join(dir, "latency-cdf."+ext)); err != nil {
				return err
			}
		}
	}
	if len(r.Idle) > 0 {
		for _, ext := range []string{"svg", "png"} {
			if err := r.plotIdle(filepath.Join(dir, "idle-rss."+ext)); err != nil {
				return err
			}
		}
	}
	return nil
}

// plotLatency draws the CDF of send→receive latency (paced phase) of
// every fanout run.
func (r *Report) plotLatency(path string) error {
	p := plot.New()
	p.Title.Text = "fanout: send→receive latency at half the burst rate"
	p.X.Label.Text = "latency (ms, log)"
	p.Y.Label.Text = "fraction of deliveries"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = false
	p.Legend.Left = false
	i := 0
	for _, f := range r.Fanout {
		if len(f.latencies) == 0 {
			continue
		}
		pts := cdf(f.latencies, 400)
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i / 7)
		if f.Target == "raw" {
			l.Width = vg.Points(0.7)
		} else {
			l.Width = vg.Points(1.5)
		}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s %s ×%d", f.Target, f.Selection, f.Subscribers), l)
		i++
	}
	p.Add(plotter.NewGrid())
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}

func cdf(sorted []float64, maxPts int) plotter.XYs {
	n := len(sorted)
	step := max(1, n/maxPts)
	var pts plotter.XYs
	for i := 0; i < n; i += step {
		pts = append(pts, plotter.XY{X: max(sorted[i], 0.01), Y: float64(i+1) / float64(n)})
	}
	pts = append(pts, plotter.XY{X: max(sorted[n-1], 0.01), Y: 1})
	return pts
}

// plotIdle draws the server's RSS per held socket against sockets held.
func (r *Report) plotIdle(path string) error {
	p := plot.New()
	p.Title.Text = "idle subscribed sockets: server RSS growth per socket"
	p.X.Label.Text = "sockets held"
	p.Y.Label.Text = "(RSS − RSS at 0) / sockets, KiB"
	for i, res := range r.Idle {
		var pts plotter.XYs
		for _, pt := range res.Points {
			if pt.Sockets > 0 {
				pts = append(pts, plotter.XY{X: float64(pt.Sockets), Y: (pt.RSSKiB - res.Points[0].RSSKiB) / float64(pt.Sockets)})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
		p.Add(l, s)
		p.Legend.Add(res.Target, l, s)
	}
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 4*vg.Inch, path)
}
