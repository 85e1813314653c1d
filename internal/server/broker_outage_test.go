package server_test

// Publishing survives broker outages (#12 item 4): two instances each
// reach Redis through a proxy the test cuts, one after the other and both
// at once, while 200 messages are sent through both; every subscriber on
// every instance ends with every message and every notification exactly
// once, messages in order.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/pubsub"
)

// trySend sends body to roomID as c's user without failing the test: for
// goroutines other than the test's.
func (c *client) trySend(roomID, body string) (messageData, error) {
	b, _ := json.Marshal(map[string]any{"query": sendOp, "variables": map[string]any{"r": roomID, "b": body}})
	req, _ := http.NewRequest(http.MethodPost, c.e.URL+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return messageData{}, err
	}
	defer resp.Body.Close()
	var out struct {
		Data   struct{ SendMessage messageData }
		Errors []gqlError
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return messageData{}, fmt.Errorf("send %q: status %d: %w", body, resp.StatusCode, err)
	}
	if len(out.Errors) > 0 || out.Data.SendMessage.ID == "" {
		return messageData{}, fmt.Errorf("send %q: %+v", body, out.Errors)
	}
	return out.Data.SendMessage, nil
}

// received is what one subscription delivered: the message ids of its
// results (a notification's message), in arrival order, and its
// notification ids.
type received struct {
	msgs  []string
	notes []string
}

// collector reads every frame of one socket in a goroutine of its own and
// files them by operation id.
type collector struct {
	mu   sync.Mutex
	subs map[string]*received
	bad  []string // frames that are neither a result nor expected
}

func collect(t *testing.T, ws *wsClient) *collector {
	c := &collector{subs: map[string]*received{}}
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); ws.Close(); <-done })
	go func() {
		defer close(done)
		for {
			f, err := ws.next(100 * time.Millisecond)
			select {
			case <-stop:
				return
			default:
			}
			if err == errWSNoFrame {
				continue
			}
			c.mu.Lock()
			if err != nil {
				c.bad = append(c.bad, fmt.Sprintf("connection ended: %v", err))
				c.mu.Unlock()
				return
			}
			c.file(f)
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) file(f wsFrame) {
	data, errs := f.result()
	if f.Type != "next" || len(errs) > 0 {
		c.bad = append(c.bad, fmt.Sprintf("%s: %v", f.ID, f))
		return
	}
	var out struct {
		MessageAdded  *struct{ ID string }
		RoomEvents    *roomEv
		Notifications *storedNotification
	}
	if err := json.Unmarshal(data, &out); err != nil {
		c.bad = append(c.bad, fmt.Sprintf("%s: %v: %v", f.ID, f, err))
		return
	}
	r := c.subs[f.ID]
	if r == nil {
		r = &received{}
		c.subs[f.ID] = r
	}
	switch {
	case out.MessageAdded != nil:
		r.msgs = append(r.msgs, out.MessageAdded.ID)
	case out.RoomEvents != nil:
		if out.RoomEvents.Typename == "MessageEvent" { // typing, receipts and room changes are live only
			r.msgs = append(r.msgs, out.RoomEvents.Message.ID)
		}
	case out.Notifications != nil:
		n := out.Notifications
		r.notes = append(r.notes, n.ID)
		if n.Kind != "NEW_MESSAGE" || n.Message == nil {
			c.bad = append(c.bad, fmt.Sprintf("%s: unexpected notification %+v", f.ID, n))
			return
		}
		r.msgs = append(r.msgs, n.Message.ID)
	default:
		c.bad = append(c.bad, fmt.Sprintf("%s: %v", f.ID, f))
	}
}

// snapshot copies what operation id delivered so far.
func (c *collector) snapshot(id string) (msgs, notes []string, bad []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.subs[id]; r != nil {
		msgs, notes = slices.Clone(r.msgs), slices.Clone(r.notes)
	}
	return msgs, notes, slices.Clone(c.bad)
}

func TestEverySubscriberGetsEverythingThroughRedisOutages(t *testing.T) {
	redis := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, backend)
			prefix := testRedisPrefix(t)
			proxies := []*redisProxy{newRedisProxy(t, redis), newRedisProxy(t, redis)}
			envs := []*env{redisInstance(t, db, proxies[0].URL, prefix), redisInstance(t, db, proxies[1].URL, prefix)}
			one := envs[0]
			a, b, c := one.signUp(t, "에이"), one.signUp(t, "bee"), one.signUp(t, "cee")
			users := []account{a, b, c}
			// Two rooms, so that sends to one do not wait for the other:
			// everyone in the first, a and b in the second.
			r1, after1 := one.client(a).wsOpenRoom(t, "everyone", b.ID, c.ID)
			r2, after2 := one.client(b).wsOpenRoom(t, "two", a.ID)
			type roomOf struct {
				id, after, events string
				members           []account
			}
			rooms := []roomOf{
				{r1.ID, after1, one.client(a).eventsCursor(t, r1.ID), users},
				{r2.ID, after2, one.client(b).eventsCursor(t, r2.ID), []account{a, b}},
			}

			// Every user on every instance: one socket with notifications
			// and, for each of their rooms, messageAdded and roomEvents,
			// all resuming from before the sends (so no subscription
			// needs to be live at any particular moment).
			type listener struct {
				user  account
				inst  int
				ws    *collector
				rooms []roomOf
			}
			var listeners []listener
			for i, e := range envs {
				for _, u := range users {
					start := e.client(u).notificationHistory(t, 1, nil).Edges[0].Cursor
					ws := e.wsConnect(t, protoTransportWS, u)
					ws.subscribe("n", notificationsAfterOp, map[string]any{"after": start})
					l := listener{user: u, inst: i}
					for k, r := range rooms {
						if !slices.ContainsFunc(r.members, func(m account) bool { return m.ID == u.ID }) {
							continue
						}
						ws.subscribe(fmt.Sprint("m", k), wsMessageAddedOp, map[string]any{"r": r.id, "after": r.after})
						ws.subscribe(fmt.Sprint("e", k), roomEventsOp, map[string]any{"r": r.id, "after": r.events})
						l.rooms = append(l.rooms, r)
					}
					l.ws = collect(t, ws)
					listeners = append(listeners, l)
				}
			}

			// 200 sends: 180 through both instances at once (90 each),
			// alternating rooms and senders, while the instances lose Redis
			// one after the other and both together; then 10 through each
			// instance in turn while it alone has no Redis, and nothing
			// after, so that no later message shows the others a gap.
			const total, together, alone = 200, 180, 10
			type sent struct {
				room, sender string
				msg          messageData
			}
			var (
				sentMu sync.Mutex
				sends  []sent
				count  atomic.Int64
			)
			// sendN sends n messages through instance i, the k-th to room
			// k%2 from one of its members in turn.
			sendN := func(i, n int) error {
				e := envs[i]
				for k := range n {
					r := rooms[k%len(rooms)]
					u := r.members[(k/len(rooms)+i)%len(r.members)]
					m, err := e.client(u).trySend(r.id, fmt.Sprintf("instance %d, send %d", i, count.Load()))
					if err != nil {
						return err
					}
					sentMu.Lock()
					sends = append(sends, sent{r.id, u.ID, m})
					sentMu.Unlock()
					count.Add(1)
				}
				return nil
			}
			var senders sync.WaitGroup
			errs := make(chan error, len(envs))
			for i := range envs {
				senders.Go(func() {
					if err := sendN(i, together/len(envs)); err != nil {
						errs <- err
					}
				})
			}
			sendsDone := make(chan struct{})
			go func() { senders.Wait(); close(sendsDone) }()

			// Each outage lasts until a number of sends went through
			// meanwhile (or the sends are over).
			waitFor := func(n int64) {
				for count.Load() < n {
					select {
					case <-sendsDone:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}
			for _, o := range []struct {
				at, until int64
				cut       []int
			}{
				{20, 40, []int{0}},
				{60, 80, []int{1}},
				{100, 130, []int{0, 1}},
				{150, 160, []int{1, 0}},
			} {
				waitFor(o.at)
				for _, p := range o.cut {
					proxies[p].cut()
				}
				waitFor(o.until)
				for _, p := range o.cut {
					proxies[p].restore()
				}
			}
			<-sendsDone
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for i := range envs {
				proxies[i].cut()
				err := sendN(i, alone)
				proxies[i].restore()
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(sends) != total {
				t.Fatalf("%d sends went through, want %d", len(sends), total)
			}

			// What each subscription must end with: the room's messages in
			// seq order; a user's notifications are one per message of
			// others in their rooms.
			slices.SortFunc(sends, func(x, y sent) int {
				if x.room != y.room {
					return strings.Compare(x.room, y.room)
				}
				return x.msg.Seq - y.msg.Seq
			})
			roomMsgs := map[string][]string{}
			for _, s := range sends {
				roomMsgs[s.room] = append(roomMsgs[s.room], s.msg.ID)
			}
			notesFor := func(u account) []string {
				var out []string
				for _, s := range sends {
					if s.sender == u.ID {
						continue
					}
					for _, r := range rooms {
						if r.id == s.room && slices.ContainsFunc(r.members, func(m account) bool { return m.ID == u.ID }) {
							out = append(out, s.msg.ID)
						}
					}
				}
				slices.Sort(out)
				return out
			}

			// check reports what is still missing, or fails at once on what
			// no waiting can mend: a repeat, a message out of order,
			// something unexpected.
			check := func() []string {
				var missing []string
				for _, l := range listeners {
					who := fmt.Sprintf("%s on instance %d", l.user.Nickname, l.inst)
					for _, r := range l.rooms {
						want := roomMsgs[r.id]
						for _, op := range []string{"m", "e"} {
							id := fmt.Sprint(op, slices.IndexFunc(rooms, func(x roomOf) bool { return x.id == r.id }))
							got, _, bad := l.ws.snapshot(id)
							if len(bad) > 0 {
								t.Fatalf("%s: %v", who, bad)
							}
							if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
								t.Fatalf("%s, %s of room %s: got %v,\nwant %v (each once, in order)", who, id, r.id, got, want)
							}
							if len(got) < len(want) {
								missing = append(missing, fmt.Sprintf("%s, %s: %d of %d", who, id, len(got), len(want)))
							}
						}
					}
					want := notesFor(l.user)
					got, ids, bad := l.ws.snapshot("n")
					if len(bad) > 0 {
						t.Fatalf("%s: %v", who, bad)
					}
					if d := repeated(got); d != nil {
						t.Fatalf("%s: notified of messages %v more than once (got %d notifications)", who, d, len(got))
					}
					if d := repeated(ids); d != nil {
						t.Fatalf("%s: notifications %v delivered more than once", who, d)
					}
					for _, m := range got {
						if _, ok := slices.BinarySearch(want, m); !ok {
							t.Fatalf("%s: notified of message %s, not one of others' in their rooms", who, m)
						}
					}
					if len(got) < len(want) {
						missing = append(missing, fmt.Sprintf("%s, notifications: %d of %d", who, len(got), len(want)))
					}
				}
				return missing
			}
			deadline := time.Now().Add(4 * outageWait)
			for {
				missing := check()
				if len(missing) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%v after the last send, still missing: %v", 4*outageWait, missing)
				}
				time.Sleep(50 * time.Millisecond)
			}
			// Nothing more comes: a late repeat would show here.
			time.Sleep(time.Second)
			if missing := check(); len(missing) > 0 {
				t.Fatalf("missing again: %v", missing)
			}
		})
	}
}

// repeated returns the values that occur more than once in xs.
func repeated(xs []string) []string {
	seen := map[string]int{}
	var out []string
	for _, x := range xs {
		if seen[x]++; seen[x] == 2 {
			out = append(out, x)
		}
	}
	return out
}

// ambiguousBroker makes the next notification's publish go through and
// still fail (as when the connection drops before Redis's reply), and
// holds its publishing again until gate closes.
type ambiguousBroker struct {
	pubsub.Broker
	gate  chan struct{} // closed: the held publish may go again
	again chan struct{} // closed once it went again

	mu    sync.Mutex
	armed bool
	held  []byte
}

func (b *ambiguousBroker) arm() { b.mu.Lock(); b.armed = true; b.mu.Unlock() }

func (b *ambiguousBroker) Publish(ctx context.Context, topic string, payload []byte) error {
	if !strings.HasPrefix(topic, "user.") {
		return b.Broker.Publish(ctx, topic, payload)
	}
	b.mu.Lock()
	armed, held := b.armed, b.held
	if armed {
		b.armed, b.held = false, payload
	}
	b.mu.Unlock()
	switch {
	case armed:
		if err := b.Broker.Publish(ctx, topic, payload); err != nil {
			return err
		}
		return errors.New("ambiguousBroker: connection lost before the reply")
	case held != nil && bytes.Equal(payload, held):
		select {
		case <-b.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := b.Broker.Publish(ctx, topic, payload)
		close(b.again)
		return err
	}
	return b.Broker.Publish(ctx, topic, payload)
}

// A notification whose publish went through although it failed is
// published again, here after 70 others: the subscriber, who had it
// already, does not show it twice (it used to remember the last 32).
func TestNotificationPublishedAgainLateIsShownOnce(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			mem := pubsub.NewMemory()
			t.Cleanup(func() { mem.Close() })
			broker := &ambiguousBroker{Broker: mem, gate: make(chan struct{}), again: make(chan struct{})}
			e := newEnv(t, backend, envOption{chat: []chat.Option{chat.WithBroker(broker)}})
			a, b := e.signUp(t, "sender"), e.signUp(t, "reader")
			ca := e.client(a)
			r := ca.createRoom(t, nil, b.ID)
			start := e.client(b).notificationHistory(t, 1, nil).Edges[0].Cursor
			ws := e.wsConnect(t, protoTransportWS, b)
			ws.subscribe("n", notificationsAfterOp, map[string]any{"after": start})

			broker.arm()
			want := []string{"NEW_MESSAGE:ambiguous"}
			ca.send(t, r.ID, "ambiguous")
			for i := range 70 {
				ca.send(t, r.ID, fmt.Sprint("then ", i))
				want = append(want, fmt.Sprint("NEW_MESSAGE:then ", i))
			}
			var got []string
			for len(got) < len(want) {
				n, err := nextStored(t, ws, "n", wsWait)
				if err != nil {
					t.Fatalf("after %v: %v", got, err)
				}
				got = append(got, describe(n))
			}
			close(broker.gate)
			select {
			case <-broker.again:
			case <-time.After(wsWait):
				t.Fatal("the notification was not published again")
			}
			// Published again before this one: were it shown twice, it
			// would come first.
			ca.send(t, r.ID, "last")
			n, err := nextStored(t, ws, "n", wsWait)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, describe(n))
			want = append(want, "NEW_MESSAGE:last")
			if !slices.Equal(got, want) {
				t.Fatalf("got %v,\nwant %v", got, want)
			}
			ws.quiet("n", 300*time.Millisecond)
		})
	}
}
