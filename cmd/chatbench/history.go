package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// HistoryResult is one level of the history scenario: pages of 50
// messages read backwards through Room.messages.
type HistoryResult struct {
	Concurrency int            `json:"concurrency"`
	Messages    int            `json:"room_messages"`
	Pages       int            `json:"pages"`
	Seconds     float64        `json:"seconds"`
	PagesPerSec float64        `json:"pages_per_sec"`
	MsgsPerSec  float64        `json:"messages_per_sec"`
	P50ms       float64        `json:"p50_ms"`
	P99ms       float64        `json:"p99_ms"`
	ServerCPUus float64        `json:"server_cpu_us_per_page,omitempty"`
	Errors      map[string]int `json:"errors,omitempty"`
	Problems    []string       `json:"problems,omitempty"`
}

type historyOpts struct {
	messages    int // in the room
	concurrency []int
	duration    time.Duration
	pid         int
	progress    bool
}

const historyQuery = `query($id: ID!, $before: Cursor) { room(id: $id) { messages(last: 50, before: $before) {
  edges { node { id seq kind body clientId createdAt sender { id nickname avatarURL } } }
  pageInfo { hasPreviousPage startCursor } } } }`

// runHistory fills one room with o.messages messages (through sendMessage),
// then reads it back in pages of 50, newest first, by several readers at
// once; each reader starts over at the newest page when it reaches the
// first. Every page must hold 50 consecutive seqs (fewer only at the start).
func runHistory(ctx context.Context, a *api, o historyOpts) ([]*HistoryResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	users, err := signUp(ctx, a, 4, "h")
	if err != nil {
		return nil, err
	}
	room, err := createRoom(ctx, a, users[0], users[1:], "history")
	if err != nil {
		return nil, err
	}
	bar := newBar(o.progress, o.messages, "history: filling the room")
	var next atomic.Int64
	var wg sync.WaitGroup
	var fillErr atomic.Value
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(o.messages) || ctx.Err() != nil || fillErr.Load() != nil {
					return
				}
				if _, err := sendMessage(ctx, a, users[w%len(users)].Token, room, fmt.Sprintf("h-%s-%d", runTag, i), fmt.Sprintf("history message %d, long enough to look like a chat line", i)); err != nil {
					fillErr.Store(err)
					return
				}
				bar.Add(1)
			}
		}()
	}
	wg.Wait()
	bar.Finish()
	if err, _ := fillErr.Load().(error); err != nil {
		return nil, fmt.Errorf("history: fill the room: %w", err)
	}
	var out []*HistoryResult
	for _, c := range o.concurrency {
		r := &HistoryResult{Concurrency: c, Messages: o.messages, Errors: map[string]int{}}
		var mu sync.Mutex
		var lat []float64
		read := 0
		bar := newBar(o.progress, -1, fmt.Sprintf("history c=%d", c))
		clk := newClock()
		cpu0 := cpuTime(o.pid)
		stop := time.Now().Add(o.duration)
		for range c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var before any
				for time.Now().Before(stop) && ctx.Err() == nil {
					var page struct {
						Room struct {
							Messages struct {
								Edges []struct {
									Node struct {
										Seq int64 `json:"seq"`
									} `json:"node"`
								} `json:"edges"`
								PageInfo struct {
									HasPreviousPage bool   `json:"hasPreviousPage"`
									StartCursor     string `json:"startCursor"`
								} `json:"pageInfo"`
							} `json:"messages"`
						} `json:"room"`
					}
					t := clk.now()
					err := a.do(ctx, users[1].Token, historyQuery, map[string]any{"id": room, "before": before}, &page)
					d := clk.now() - t
					m := page.Room.Messages
					problem := ""
					if err == nil {
						for i := 1; i < len(m.Edges); i++ {
							if m.Edges[i].Node.Seq != m.Edges[i-1].Node.Seq+1 {
								problem = fmt.Sprintf("page with seq %d after %d", m.Edges[i].Node.Seq, m.Edges[i-1].Node.Seq)
							}
						}
						if len(m.Edges) != 50 && m.PageInfo.HasPreviousPage {
							problem = fmt.Sprintf("page of %d messages with more before it", len(m.Edges))
						}
					}
					mu.Lock()
					switch {
					case err != nil:
						r.Errors[codeOf(err)]++
					case problem != "":
						if len(r.Problems) < 5 {
							r.Problems = append(r.Problems, problem)
						}
					default:
						r.Pages++
						read += len(m.Edges)
						lat = append(lat, ms(d))
					}
					mu.Unlock()
					bar.Add(1)
					before = nil
					if err == nil && m.PageInfo.HasPreviousPage {
						before = m.PageInfo.StartCursor
					}
				}
			}()
		}
		wg.Wait()
		bar.Finish()
		r.Seconds = secs(clk.now())
		r.PagesPerSec = float64(r.Pages) / r.Seconds
		r.MsgsPerSec = float64(read) / r.Seconds
		if cpu := cpuTime(o.pid) - cpu0; o.pid > 0 && r.Pages > 0 {
			r.ServerCPUus = float64(cpu.Microseconds()) / float64(r.Pages)
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
