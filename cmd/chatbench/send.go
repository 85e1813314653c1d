package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SendResult is one level of the send scenario.
type SendResult struct {
	Target      string  `json:"target"` // chatty or raw
	Concurrency int     `json:"concurrency"`
	Rooms       int     `json:"rooms"`
	Sends       int     `json:"sends"` // acknowledged
	Seconds     float64 `json:"seconds"`
	PerSec      float64 `json:"per_sec"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	ServerCPUus float64 `json:"server_cpu_us_per_send,omitempty"`
	// DBCPUus: the database server's CPU time per send (-db-pid: MariaDB
	// on this machine; whatever else uses it at the time counts too).
	DBCPUus float64 `json:"db_cpu_us_per_send,omitempty"`
	// SQL round trips per acknowledged send (chatty_db_statements_total
	// on /metrics: a statement, BEGIN and COMMIT included, or a script of
	// several statements on MariaDB; and the per-request read of the
	// access token's session, when it is read).
	Statements float64        `json:"statements_per_send,omitempty"`
	Errors     map[string]int `json:"errors,omitempty"`
}

// SendCheck is what the API shows afterwards of every send scenario level.
type SendCheck struct {
	Rooms      int      `json:"rooms"`
	Acked      int      `json:"acked"`
	Stored     int      `json:"stored"` // messages of the bench found via Room.messages
	Duplicates int      `json:"duplicate_seqs"`
	Gaps       int      `json:"gaps"`
	OK         bool     `json:"ok"`
	Problems   []string `json:"problems,omitempty"`
}

type sendOpts struct {
	concurrency []int
	rooms       int
	duration    time.Duration // per level
	max         int           // sends per level at most
	progress    bool
	pid         int // chatty's, for its CPU time
	dbPid       int // the database server's (MariaDB on this machine), for its CPU time
}

// runSend sends persisted messages over many rooms at each concurrency,
// then reads every room back through Room.messages.
func runSend(ctx context.Context, a *api, o sendOpts) ([]*SendResult, *SendCheck, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	users, err := signUp(ctx, a, 4, "s")
	if err != nil {
		return nil, nil, err
	}
	rooms := make([]string, o.rooms)
	for i := range rooms {
		if rooms[i], err = createRoom(ctx, a, users[0], users[1:], fmt.Sprintf("send %d", i)); err != nil {
			return nil, nil, err
		}
	}
	acked := make([]atomic.Int64, o.rooms)
	var out []*SendResult
	for _, c := range o.concurrency {
		r := &SendResult{Target: "chatty", Concurrency: c, Rooms: o.rooms, Errors: map[string]int{}}
		var mu sync.Mutex
		var lat []float64
		var total atomic.Int64
		bar := newBar(o.progress, -1, fmt.Sprintf("send chatty c=%d", c))
		clk := newClock()
		cpu0, dbCPU0 := cpuTime(o.pid), cpuTime(o.dbPid)
		stmts0, stmtsErr := dbStatements(ctx, a)
		stop := time.Now().Add(o.duration)
		var wg sync.WaitGroup
		for w := range c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := users[w%len(users)].Token
				for i := 0; ; i++ {
					if time.Now().After(stop) || ctx.Err() != nil || total.Add(1) > int64(o.max) {
						return
					}
					room := (w + i) % o.rooms
					t := clk.now()
					_, err := sendMessage(ctx, a, tok, rooms[room], fmt.Sprintf("s-%s-%d-%d-%d", runTag, c, w, i), "bench send")
					d := clk.now() - t
					mu.Lock()
					if err != nil {
						r.Errors[codeOf(err)]++
					} else {
						r.Sends++
						lat = append(lat, ms(d))
						acked[room].Add(1)
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
		if cpu := cpuTime(o.pid) - cpu0; o.pid > 0 && r.Sends > 0 {
			r.ServerCPUus = float64(cpu.Microseconds()) / float64(r.Sends)
		}
		if cpu := cpuTime(o.dbPid) - dbCPU0; o.dbPid > 0 && r.Sends > 0 {
			r.DBCPUus = float64(cpu.Microseconds()) / float64(r.Sends)
		}
		if stmts1, err := dbStatements(ctx, a); err == nil && stmtsErr == nil && r.Sends > 0 {
			r.Statements = (stmts1 - stmts0) / float64(r.Sends)
		}
		sort.Float64s(lat)
		r.P50ms, r.P99ms = quantile(lat, 0.5), quantile(lat, 0.99)
		if len(r.Errors) == 0 {
			r.Errors = nil
		}
		out = append(out, r)
	}

	// Read back: every acknowledged send stored once, seqs unique and gapless.
	chk := &SendCheck{Rooms: o.rooms}
	for i, id := range rooms {
		seqs, mine, err := roomMessages(ctx, a, users[0].Token, id, "s-"+runTag+"-")
		if err != nil {
			return out, nil, err
		}
		want := int(acked[i].Load())
		chk.Acked += want
		chk.Stored += mine
		if mine != want {
			chk.Problems = append(chk.Problems, fmt.Sprintf("room %s: %d acknowledged, %d stored", id, want, mine))
		}
		for j := 1; j < len(seqs); j++ {
			switch {
			case seqs[j] == seqs[j-1]:
				chk.Duplicates++
			case seqs[j] != seqs[j-1]+1:
				chk.Gaps++
			}
		}
		if len(seqs) > 0 && seqs[0] != 1 {
			chk.Gaps++
		}
	}
	chk.OK = chk.Acked == chk.Stored && chk.Duplicates == 0 && chk.Gaps == 0 && len(chk.Problems) == 0
	return out, chk, nil
}

// roomMessages pages through a room's messages: all seqs in order, and how
// many carry a clientId with prefix.
func roomMessages(ctx context.Context, a *api, token, roomID, prefix string) ([]int64, int, error) {
	var seqs []int64
	mine := 0
	var after any
	for page := 0; page < 100000; page++ {
		var r struct {
			Room struct {
				Messages struct {
					Edges []struct {
						Node struct {
							Seq      int64   `json:"seq"`
							ClientID *string `json:"clientId"`
						} `json:"node"`
					} `json:"edges"`
					PageInfo struct {
						HasNextPage bool   `json:"hasNextPage"`
						EndCursor   string `json:"endCursor"`
					} `json:"pageInfo"`
				} `json:"messages"`
			} `json:"room"`
		}
		err := a.do(ctx, token, `query($id: ID!, $after: Cursor) { room(id: $id) { messages(first: 100, after: $after) {
  edges { node { seq clientId } } pageInfo { hasNextPage endCursor } } } }`, map[string]any{"id": roomID, "after": after}, &r)
		if err != nil {
			return nil, 0, fmt.Errorf("read room %s: %w", roomID, err)
		}
		for _, e := range r.Room.Messages.Edges {
			seqs = append(seqs, e.Node.Seq)
			if e.Node.ClientID != nil && strings.HasPrefix(*e.Node.ClientID, prefix) {
				mine++
			}
		}
		if !r.Room.Messages.PageInfo.HasNextPage {
			break
		}
		after = r.Room.Messages.PageInfo.EndCursor
	}
	return seqs, mine, nil
}

// dbStatements reads chatty_db_statements_total from the server's /metrics.
func dbStatements(ctx context.Context, a *api) (float64, error) {
	body, err := a.get(ctx, "/metrics")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "chatty_db_statements_total "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no chatty_db_statements_total in /metrics")
}
