package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"sync"
	"time"
)

// Selections of messageAdded the fanout scenario subscribes with.
var selections = map[string]string{
	"minimal": `subscription($room: ID!) { messageAdded(roomId: $room) { id seq } }`,
	"realistic": `subscription($room: ID!) { messageAdded(roomId: $room) {
  id seq kind body clientId createdAt
  sender { id nickname avatarURL }
  room { id name }
  attachment { id filename contentType size url thumbnailURL }
} }`,
}

// subsPerUser keeps each bench user below chatty's 200 subscriptions per
// user and instance.
const subsPerUser = 150

// FanoutResult is one fanout run: one room, N subscribers.
type FanoutResult struct {
	Target      string `json:"target"` // chatty or raw
	Selection   string `json:"selection"`
	Subscribers int    `json:"subscribers"`
	Ready       int    `json:"ready"` // subscribers that got the warm-up

	BurstMessages    int     `json:"burst_messages"`
	BurstSeconds     float64 `json:"burst_seconds"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	BurstMsgsPerSec  float64 `json:"burst_messages_per_sec"`
	// CPU per delivery during the burst: the server's (from -pid) and the
	// bench's own (its share of the two cores is not the server's).
	ServerCPUus float64 `json:"server_cpu_us_per_delivery,omitempty"`
	BenchCPUus  float64 `json:"bench_cpu_us_per_delivery"`

	PacedRate     float64 `json:"paced_messages_per_sec"`
	PacedMessages int     `json:"paced_messages"`
	P50ms         float64 `json:"p50_ms"`
	P99ms         float64 `json:"p99_ms"`
	Maxms         float64 `json:"max_ms"`

	SendErrors map[string]int `json:"send_errors,omitempty"`
	Complete   int            `json:"complete"` // subscribers with every message once, in order
	Problems   []string       `json:"problems,omitempty"`

	latencies []float64 // paced phase, ms, sorted (for the plot)
}

type fanoutOpts struct {
	target      string // chatty or raw
	selection   string
	subscribers int
	burst       int           // messages in the burst
	paced       time.Duration // length of the paced phase
	pacedMax    int           // at most this many messages in it
	pid         int           // the server's, for its CPU time (0: unknown)
	progress    bool
}

// runFanout subscribes N sockets to one room, sends a burst, then sends
// at half the burst's rate, and checks what every subscriber got.
func runFanout(ctx context.Context, a *api, o fanoutOpts) (*FanoutResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // every scenario stops by itself
	defer cancel()
	res := &FanoutResult{Target: o.target, Selection: o.selection, Subscribers: o.subscribers, SendErrors: map[string]int{}}
	clk := newClock()

	// Accounts and room (the raw hub needs none).
	var sender user
	var subUsers []user
	roomID := "raw"
	if o.target == "chatty" {
		users, err := signUp(ctx, a, 1+(o.subscribers+subsPerUser-1)/subsPerUser, "f")
		if err != nil {
			return nil, err
		}
		sender, subUsers = users[0], users[1:]
		if roomID, err = createRoom(ctx, a, sender, subUsers, fmt.Sprintf("fanout %d", o.subscribers)); err != nil {
			return nil, err
		}
	} else {
		sender = user{Token: "raw"}
		subUsers = []user{{Token: "raw"}}
	}

	// Subscribers.
	subs, err := openSubscribers(ctx, a, o.subscribers, func(i int) string { return subUsers[i/subsPerUser%len(subUsers)].Token },
		selections[o.selection], map[string]any{"room": roomID}, clk, o.progress, fmt.Sprintf("fanout %s %s %d: sockets", o.target, o.selection, o.subscribers))
	defer closeAll(subs)
	if err != nil {
		return nil, err
	}

	send := func(clientID string) sent {
		s := sent{clientID: clientID, at: clk.now()}
		s.seq, s.err = sendMessage(ctx, a, sender.Token, roomID, clientID, "bench "+clientID)
		return s
	}

	// Warm-up: until every subscription is live (it has received a message).
	warmDeadline := time.Now().Add(20*time.Second + time.Duration(o.subscribers)*5*time.Millisecond)
	for i := 0; ; i++ {
		if w := send(fmt.Sprintf("w-%s-%d", runTag, i)); w.err != nil {
			return nil, fmt.Errorf("warm-up send: %w", w.err)
		}
		time.Sleep(100 * time.Millisecond)
		ready := 0
		for _, s := range subs {
			if s.count.Load() > 0 {
				ready++
			}
		}
		res.Ready = ready
		if ready == len(subs) || time.Now().After(warmDeadline) {
			break
		}
		time.Sleep(150 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the warm-up's stragglers arrive

	// Burst: as fast as the server takes it, 4 senders.
	bar := newBar(o.progress, o.burst, fmt.Sprintf("fanout %s %s %d: burst", o.target, o.selection, o.subscribers))
	burst := make([]sent, o.burst)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	burstStart := clk.now()
	srvCPU0, selfCPU0 := cpuTime(o.pid), cpuTime(os.Getpid())
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= o.burst || ctx.Err() != nil {
					return
				}
				burst[i] = send(fmt.Sprintf("b-%s-%d", runTag, i))
				bar.Add(1)
			}
		}()
	}
	wg.Wait()
	bar.Finish()
	lastBurst := maxSeq(burst)
	waitDelivered(ctx, subs, lastBurst, 30*time.Second)
	srvCPU, selfCPU := cpuTime(o.pid)-srvCPU0, cpuTime(os.Getpid())-selfCPU0
	burstEnd := lastDelivery(subs, seqSet(burst))
	if burstEnd <= burstStart {
		burstEnd = clk.now()
	}
	res.BurstMessages = o.burst
	res.BurstSeconds = secs(burstEnd - burstStart)
	delivered := countDelivered(subs, seqSet(burst))
	res.DeliveriesPerSec = float64(delivered) / res.BurstSeconds
	res.BurstMsgsPerSec = float64(o.burst) / res.BurstSeconds
	if delivered > 0 {
		if o.pid > 0 && o.pid != os.Getpid() {
			res.ServerCPUus = float64(srvCPU.Microseconds()) / float64(delivered)
		}
		res.BenchCPUus = float64(selfCPU.Microseconds()) / float64(delivered)
	}

	// Paced, open loop, at half the burst's message rate.
	rate := res.BurstMsgsPerSec / 2
	n := int(math.Round(rate * o.paced.Seconds()))
	n = min(max(n, 5), o.pacedMax)
	res.PacedRate = rate
	res.PacedMessages = n
	paced := make([]sent, n)
	interval := time.Duration(float64(time.Second) / rate)
	bar = newBar(o.progress, n, fmt.Sprintf("fanout %s %s %d: paced %.0f/s", o.target, o.selection, o.subscribers, rate))
	t0 := time.Now()
	inflight := make(chan struct{}, 256)
	for i := range n {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		inflight <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inflight }()
			paced[i] = send(fmt.Sprintf("p-%s-%d", runTag, i))
			bar.Add(1)
		}()
	}
	wg.Wait()
	bar.Finish()
	waitDelivered(ctx, subs, maxSeq(paced), 30*time.Second)

	// What each subscriber got.
	all := append(append([]sent(nil), burst...), paced...)
	for _, s := range all {
		if s.err != nil {
			res.SendErrors[codeOf(s.err)]++
		}
	}
	lo, hi := minSeq(all), maxSeq(all)
	sendAt := map[int64]time.Duration{}
	for _, s := range paced {
		if s.err == nil {
			sendAt[s.seq] = s.at
		}
	}
	var lat []float64
	for i, s := range subs {
		got := s.deliveries()
		problem := checkStream(got, lo, hi)
		s.mu.Lock()
		code, errs := s.closeCode, s.errs
		s.mu.Unlock()
		if code != 0 {
			problem = fmt.Sprintf("closed with %d; %s", code, problem)
		}
		if len(errs) > 0 {
			problem = fmt.Sprintf("%s; errors: %v", problem, errs)
		}
		if problem == "" {
			res.Complete++
		} else if len(res.Problems) < 10 {
			res.Problems = append(res.Problems, fmt.Sprintf("subscriber %d: %s", i, problem))
		}
		for _, d := range got {
			if at, ok := sendAt[d.seq]; ok {
				lat = append(lat, ms(d.at-at))
			}
		}
	}
	sort.Float64s(lat)
	res.latencies = lat
	res.P50ms, res.P99ms, res.Maxms = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1)
	if len(res.SendErrors) == 0 {
		res.SendErrors = nil
	}
	return res, nil
}

// checkStream says what is wrong with one subscriber's deliveries ("" when
// nothing): every seq from lo to hi exactly once, in order.
func checkStream(got []delivery, lo, hi int64) string {
	if lo > hi {
		return "nothing was sent"
	}
	if len(got) == 0 {
		return "received nothing"
	}
	var from int
	for from < len(got) && got[from].seq < lo {
		from++
	}
	for i := 1; i < len(got); i++ {
		if got[i].seq != got[i-1].seq+1 {
			return fmt.Sprintf("seq %d followed seq %d (gap, repeat or disorder)", got[i].seq, got[i-1].seq)
		}
	}
	if from == len(got) || got[from].seq != lo {
		return fmt.Sprintf("first measured seq %d missing", lo)
	}
	if last := got[len(got)-1].seq; last < hi {
		return fmt.Sprintf("stopped at seq %d of %d", last, hi)
	}
	return ""
}

// openSubscribers opens n subscriptions, 32 handshakes at a time.
func openSubscribers(ctx context.Context, a *api, n int, token func(int) string, query string, vars map[string]any, clk *clock, progress bool, label string) ([]*subscriber, error) {
	subs := make([]*subscriber, n)
	bar := newBar(progress, n, label)
	defer bar.Finish()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var s *subscriber
			var err error
			for attempt := 0; attempt < 3; attempt++ { // a full accept queue refuses a few at a ramp
				if s, err = subscribe(ctx, a.src, a.wsURL(), token(i), query, vars, clk); err == nil {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("subscriber %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
			subs[i] = s
			bar.Add(1)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return slices.DeleteFunc(subs, func(s *subscriber) bool { return s == nil }), firstErr
	}
	return subs, nil
}

func closeAll(subs []*subscriber) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, s := range subs {
		if s == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() { defer wg.Done(); s.close(); <-sem }()
	}
	wg.Wait()
}

// waitDelivered waits until every open subscriber has seq or has closed.
func waitDelivered(ctx context.Context, subs []*subscriber, seq int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		waiting := false
		for _, s := range subs {
			select {
			case <-s.done:
				continue
			default:
			}
			if s.last.Load() < seq {
				waiting = true
				break
			}
		}
		if !waiting {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func seqSet(ss []sent) map[int64]bool {
	m := map[int64]bool{}
	for _, s := range ss {
		if s.err == nil {
			m[s.seq] = true
		}
	}
	return m
}

func maxSeq(ss []sent) int64 {
	var m int64 = math.MinInt64
	for _, s := range ss {
		if s.err == nil && s.seq > m {
			m = s.seq
		}
	}
	return m
}

func minSeq(ss []sent) int64 {
	var m int64 = math.MaxInt64
	for _, s := range ss {
		if s.err == nil && s.seq < m {
			m = s.seq
		}
	}
	return m
}

func lastDelivery(subs []*subscriber, seqs map[int64]bool) time.Duration {
	var last time.Duration
	for _, s := range subs {
		for _, d := range s.deliveries() {
			if seqs[d.seq] && d.at > last {
				last = d.at
			}
		}
	}
	return last
}

func countDelivered(subs []*subscriber, seqs map[int64]bool) int {
	n := 0
	for _, s := range subs {
		for _, d := range s.deliveries() {
			if seqs[d.seq] {
				n++
			}
		}
	}
	return n
}

// quantile of sorted xs (nearest rank); 0 when empty.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}
