package server_test

// Notification history (#12): every notification is stored with what
// caused it; notificationHistory pages them newest first,
// markNotificationsRead marks them, and notifications(after:) replays what
// a subscriber missed before going live, on one instance or several.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chatty/chatty/ent/notification"
	"github.com/chatty/chatty/internal/database/dbtest"
)

const (
	notificationHistoryOp = `query($first: Int, $after: Cursor) { notificationHistory(first: $first, after: $after) {
  totalCount unreadCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { id cursor kind readAt totalUnread room { id } message { id body } actor { id } } } } }`
	markNotificationsReadOp = `mutation($upTo: ID) { markNotificationsRead(upTo: $upTo) }`
	notificationsAfterOp    = `subscription($after: Cursor) { notifications(after: $after) { id cursor kind readAt totalUnread message { id body } actor { id } } }`
)

type storedNotification struct {
	ID, Cursor, Kind string
	ReadAt           *time.Time
	TotalUnread      int
	Room             *struct{ ID string }
	Message          *struct{ ID, Body string }
	Actor            *struct{ ID string }
}

type notificationPage struct {
	TotalCount, UnreadCount int
	PageInfo                struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
	Edges []struct {
		Cursor string
		Node   storedNotification
	}
}

func (c *client) notificationHistory(t *testing.T, first int, after *string) notificationPage {
	t.Helper()
	var out struct{ NotificationHistory notificationPage }
	c.do(t, notificationHistoryOp, map[string]any{"first": first, "after": after}).Decode(t, &out)
	return out.NotificationHistory
}

// allNotifications reads the whole history, newest first, pages of size.
func (c *client) allNotifications(t *testing.T, size int) []storedNotification {
	t.Helper()
	var all []storedNotification
	var after *string
	for {
		p := c.notificationHistory(t, size, after)
		for _, e := range p.Edges {
			if e.Cursor != e.Node.Cursor {
				t.Fatalf("edge cursor %q, node cursor %q", e.Cursor, e.Node.Cursor)
			}
			all = append(all, e.Node)
		}
		if !p.PageInfo.HasNextPage {
			return all
		}
		after = p.PageInfo.EndCursor
	}
}

func (c *client) markNotificationsRead(t *testing.T, upTo *string) int {
	t.Helper()
	var out struct{ MarkNotificationsRead int }
	c.do(t, markNotificationsReadOp, map[string]any{"upTo": upTo}).Decode(t, &out)
	return out.MarkNotificationsRead
}

func (c *client) totalUnread(t *testing.T) int {
	t.Helper()
	var out struct{ TotalUnread int }
	c.do(t, `{ totalUnread }`, nil).Decode(t, &out)
	return out.TotalUnread
}

// describe is what a test compares of a notification: kind and body.
func describe(n storedNotification) string {
	if n.Message != nil {
		return n.Kind + ":" + n.Message.Body
	}
	return n.Kind
}

func describeAll(ns []storedNotification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = describe(n)
	}
	return out
}

func TestNotificationHistoryPagesNewestFirst(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "sender"), e.signUp(t, "reader"), e.signUp(t, "asker")
		ca, cb, cc := e.client(a), e.client(b), e.client(c)
		r := ca.createRoom(t, ptr("history"), b.ID)
		for i := range 5 {
			ca.send(t, r.ID, fmt.Sprint("m", i))
		}
		cc.friendMutation(t, addFriendOp, b.ID)
		want := []string{"FRIEND_REQUEST", "NEW_MESSAGE:m4", "NEW_MESSAGE:m3", "NEW_MESSAGE:m2", "NEW_MESSAGE:m1", "NEW_MESSAGE:m0", "ROOM_ADDED"}

		first := cb.notificationHistory(t, 3, nil)
		if first.TotalCount != len(want) || first.UnreadCount != len(want) || !first.PageInfo.HasNextPage || first.PageInfo.HasPreviousPage {
			t.Fatalf("first page: total %d, unread %d, pageInfo %+v", first.TotalCount, first.UnreadCount, first.PageInfo)
		}
		all := cb.allNotifications(t, 3)
		if got := describeAll(all); !slices.Equal(got, want) {
			t.Fatalf("history %v, want %v", got, want)
		}
		for i, n := range all {
			if i > 0 && idOf(t, n.ID) >= idOf(t, all[i-1].ID) {
				t.Fatalf("not newest first: %v", all)
			}
			if n.ReadAt != nil || n.TotalUnread != 5 {
				t.Fatalf("%+v: want unread, totalUnread 5", n)
			}
		}
		if all[0].Actor == nil || all[0].Actor.ID != c.ID || all[1].Actor.ID != a.ID || all[6].Room == nil || all[6].Room.ID != r.ID {
			t.Fatalf("actors and rooms: %+v", all)
		}

		// b reading the room is stored (ROOM_READ, read) but not listed.
		var mr struct{ MarkRoomRead struct{ UnreadCount int } }
		cb.do(t, markReadOp, map[string]any{"r": r.ID}).Decode(t, &mr)
		if p := cb.notificationHistory(t, 10, nil); p.TotalCount != len(want) || describe(p.Edges[0].Node) != "FRIEND_REQUEST" {
			t.Fatalf("after reading the room: total %d, first %v", p.TotalCount, p.Edges[0].Node)
		}
		for _, n := range cb.allNotifications(t, 10) {
			if n.TotalUnread != 0 {
				t.Fatalf("totalUnread after reading everything: %+v", n)
			}
		}

		// Nobody else sees b's notifications: a has none, c only the
		// acceptance once b accepts.
		if p := ca.notificationHistory(t, 10, nil); p.TotalCount != 0 || len(p.Edges) != 0 || p.UnreadCount != 0 {
			t.Fatalf("the sender sees %+v", p)
		}
		cb.friendMutation(t, addFriendOp, c.ID)
		if got := describeAll(cc.allNotifications(t, 10)); !slices.Equal(got, []string{"FRIEND_ACCEPTED"}) {
			t.Fatalf("c's history: %v", got)
		}
		if p := cb.notificationHistory(t, 10, nil); p.TotalCount != len(want) {
			t.Fatalf("b's history changed with c's acceptance: %d", p.TotalCount)
		}

		// Cursors: another list's is refused; first is bounded; no token, no history.
		msgs := cb.messages(t, r.ID, map[string]any{"first": 1})
		if res := cb.do(t, notificationHistoryOp, map[string]any{"first": 2, "after": msgs.PageInfo.EndCursor}); res.Code() != "BAD_USER_INPUT" {
			t.Fatalf("a message cursor: %s", res.Raw)
		}
		if res := cb.do(t, notificationHistoryOp, map[string]any{"first": -1}); res.Code() != "BAD_USER_INPUT" {
			t.Fatalf("first -1: %s", res.Raw)
		}
		if res := e.anon().do(t, notificationHistoryOp, nil); res.Code() != "UNAUTHENTICATED" {
			t.Fatalf("without a token: %s", res.Raw)
		}
		if res := e.anon().do(t, markNotificationsReadOp, nil); res.Code() != "UNAUTHENTICATED" {
			t.Fatalf("mark without a token: %s", res.Raw)
		}
	})
}

func idOf(t *testing.T, id string) int {
	t.Helper()
	n, err := strconv.Atoi(id)
	if err != nil {
		t.Fatalf("id %q", id)
	}
	return n
}

func TestMarkNotificationsRead(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, c := e.signUp(t, "sender"), e.signUp(t, "reader"), e.signUp(t, "other")
		ca, cb, cc := e.client(a), e.client(b), e.client(c)
		r := ca.createRoom(t, nil, b.ID, c.ID)
		for i := range 4 {
			ca.send(t, r.ID, fmt.Sprint("m", i))
		}
		all := cb.allNotifications(t, 10) // ROOM_ADDED, m0..m3, newest first
		if len(all) != 5 {
			t.Fatalf("b has %v", describeAll(all))
		}
		// Up to and including m1: ROOM_ADDED, m0 and m1 are read.
		if left := cb.markNotificationsRead(t, &all[2].ID); left != 2 {
			t.Fatalf("unread left %d, want 2", left)
		}
		p := cb.notificationHistory(t, 10, nil)
		if p.UnreadCount != 2 {
			t.Fatalf("unreadCount %d, want 2", p.UnreadCount)
		}
		for i, ed := range p.Edges {
			if read := ed.Node.ReadAt != nil; read != (i >= 2) {
				t.Fatalf("%d %v read=%v", i, describe(ed.Node), read)
			}
		}
		// totalUnread keeps its meaning: the unread messages.
		if n := cb.totalUnread(t); n != 4 {
			t.Fatalf("totalUnread %d, want the 4 unread messages", n)
		}
		// Another user's bound marks nothing of theirs, and nothing of b's.
		cAll := cc.allNotifications(t, 10)
		above := 0 // c's with an id above the bound stay unread
		for _, n := range cAll {
			if idOf(t, n.ID) > idOf(t, all[0].ID) {
				above++
			}
		}
		if left := cc.markNotificationsRead(t, &all[0].ID); left != above {
			t.Fatalf("c's unread left %d, want %d", left, above)
		}
		if p := cb.notificationHistory(t, 10, nil); p.UnreadCount != 2 {
			t.Fatalf("c's mark changed b's unread count to %d", p.UnreadCount)
		}
		if len(cAll) != 5 {
			t.Fatalf("c has %v", describeAll(cAll))
		}
		// Without upTo: all.
		if left := cb.markNotificationsRead(t, nil); left != 0 {
			t.Fatalf("unread left %d, want 0", left)
		}
		ca.send(t, r.ID, "later")
		if p := cb.notificationHistory(t, 1, nil); p.UnreadCount != 1 || p.Edges[0].Node.ReadAt != nil {
			t.Fatalf("a later one: %+v", p)
		}
		if res := cb.do(t, markNotificationsReadOp, map[string]any{"upTo": "nope"}); res.Code() != "BAD_USER_INPUT" {
			t.Fatalf("a bad id: %s", res.Raw)
		}
	})
}

// wsNotification reads the next notification of subscription id.
func nextStored(t *testing.T, ws *wsClient, id string, within time.Duration) (storedNotification, error) {
	t.Helper()
	f, err := ws.nextFor(id, within)
	if err != nil {
		return storedNotification{}, err
	}
	data, errs := f.result()
	var out struct{ Notifications storedNotification }
	if f.Type != ws.dataType() || len(errs) > 0 || json.Unmarshal(data, &out) != nil {
		t.Fatalf("got %v, want a notification", f)
	}
	return out.Notifications, nil
}

// A subscriber that drops, misses notifications and resumes with after
// gets exactly the missed ones, oldest first, then live ones.
func TestNotificationsResumeAfter(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		notificationsResume(t, e, e)
	})
}

func TestNotificationsResumeAcrossInstances(t *testing.T) {
	url := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, backend)
			prefix := testRedisPrefix(t)
			one, two := redisInstance(t, db, url, prefix), redisInstance(t, db, url, prefix)
			notificationsResume(t, one, two)
		})
	}
}

// notificationsResume: b subscribes on first, the sends go through the
// other instance (second), b resumes on second.
func notificationsResume(t *testing.T, first, second *env) {
	a, b, c := first.signUp(t, "sender"), first.signUp(t, "reader"), first.signUp(t, "asker")
	ca := second.client(a)
	r := ca.createRoom(t, nil, b.ID)

	ws := first.wsConnect(t, protoTransportWS, b)
	ws.subscribe("n", notificationsAfterOp, map[string]any{"after": nil})
	var seen storedNotification
	deadline := time.Now().Add(wsWait)
	for seen.Message == nil || seen.Message.Body != "probe" { // live once a probe comes
		if time.Now().After(deadline) {
			t.Fatal("notifications not live")
		}
		ca.send(t, r.ID, "probe")
		n, err := nextStored(t, ws, "n", 200*time.Millisecond)
		if errors.Is(err, errWSNoFrame) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		seen = n
	}
	// Probes still in flight.
	for {
		n, err := nextStored(t, ws, "n", 300*time.Millisecond)
		if errors.Is(err, errWSNoFrame) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen = n
	}
	ws.Close()

	// Missed: two messages, a friend request, another room.
	ca.send(t, r.ID, "missed 1")
	ca.send(t, r.ID, "missed 2")
	second.client(c).friendMutation(t, addFriendOp, b.ID)
	second.client(c).createRoom(t, nil, b.ID)

	ws2 := second.wsConnect(t, protoTransportWS, b)
	ws2.subscribe("n", notificationsAfterOp, map[string]any{"after": seen.Cursor})
	var got []storedNotification
	for len(got) < 4 {
		n, err := nextStored(t, ws2, "n", wsWait)
		if err != nil {
			t.Fatalf("after %v: %v", describeAll(got), err)
		}
		got = append(got, n)
	}
	// Live again, through the first instance this time.
	first.client(a).send(t, r.ID, "live")
	n, err := nextStored(t, ws2, "n", wsWait)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, n)
	want := []string{"NEW_MESSAGE:missed 1", "NEW_MESSAGE:missed 2", "FRIEND_REQUEST", "ROOM_ADDED", "NEW_MESSAGE:live"}
	if d := describeAll(got); !slices.Equal(d, want) {
		t.Fatalf("resumed with %v, want %v", d, want)
	}
	for i, n := range got {
		if idOf(t, n.ID) <= idOf(t, seen.ID) || (i > 0 && idOf(t, n.ID) <= idOf(t, got[i-1].ID)) || n.Cursor == "" {
			t.Fatalf("ids: %+v after %s", got, seen.ID)
		}
	}
	ws2.quiet("n", 300*time.Millisecond) // and no repeat

	// Another user's cursor replays only the viewer's own.
	wc := second.wsConnect(t, protoTransportWS, c)
	wc.subscribe("n", notificationsAfterOp, map[string]any{"after": seen.Cursor})
	wc.quiet("n", 300*time.Millisecond)
	// A cursor of another list is refused.
	wc.subscribe("bad", notificationsAfterOp, map[string]any{"after": second.client(b).messages(t, r.ID, map[string]any{"first": 1}).PageInfo.EndCursor})
	if code := wc.refused("bad"); code != "BAD_USER_INPUT" {
		t.Fatalf("a message cursor: %s", code)
	}
}

// While messages keep coming, a subscriber drops and resumes again and
// again (alternating instances when there are two): it ends with every
// message's notification exactly once, in order.
func TestNotificationsResumeUnderSends(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) { resumeUnderSends(t, e, e) })
}

func TestNotificationsResumeUnderSendsAcrossInstances(t *testing.T) {
	url := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, backend)
			prefix := testRedisPrefix(t)
			resumeUnderSends(t, redisInstance(t, db, url, prefix), redisInstance(t, db, url, prefix))
		})
	}
}

func resumeUnderSends(t *testing.T, envs ...*env) {
	e := envs[0]
	a, b := e.signUp(t, "sender"), e.signUp(t, "reader")
	r := e.client(a).createRoom(t, nil, b.ID)
	// b's resume point: the ROOM_ADDED.
	start := e.client(b).notificationHistory(t, 1, nil).Edges[0].Cursor

	const total = 40
	done := make(chan error, 1)
	go func() {
		for i := range total {
			var out struct{ SendMessage messageData }
			res := envs[i%len(envs)].client(a).do(t, sendOp, map[string]any{"r": r.ID, "b": fmt.Sprint("s", i)})
			if err := json.Unmarshal(res.Data, &out); err != nil || out.SendMessage.Body == "" {
				done <- fmt.Errorf("send %d: %s", i, res.Raw)
				return
			}
		}
		done <- nil
	}()
	var got []string
	cursor := start
	for round := 0; len(got) < total; round++ {
		ws := envs[round%len(envs)].wsConnect(t, protoTransportWS, b)
		ws.subscribe("n", notificationsAfterOp, map[string]any{"after": cursor})
		for k := 0; k < 7 && len(got) < total; k++ { // a few, then drop
			n, err := nextStored(t, ws, "n", wsWait)
			if err != nil {
				t.Fatalf("round %d after %v: %v", round, got, err)
			}
			got = append(got, n.Message.Body)
			cursor = n.Cursor
		}
		ws.Close()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := make([]string, total)
	for i := range want {
		want[i] = fmt.Sprint("s", i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Nothing more after the last one.
	ws := envs[0].wsConnect(t, protoTransportWS, b)
	ws.subscribe("n", notificationsAfterOp, map[string]any{"after": cursor})
	ws.quiet("n", 300*time.Millisecond)
}

// Notifications older than the retention are pruned; newer ones stay.
func TestNotificationsPruned(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b := e.signUp(t, "sender"), e.signUp(t, "reader")
		ca, cb := e.client(a), e.client(b)
		r := ca.createRoom(t, nil, b.ID)
		for i := range 3 {
			ca.send(t, r.ID, fmt.Sprint("old ", i))
		}
		ctx := context.Background()
		// Age what is there by 31 days.
		old := time.Now().UTC().Add(-31 * 24 * time.Hour)
		if n, err := e.DB.Client.Notification.Query().Where(notification.UserID(idOf(t, b.ID))).Count(ctx); err != nil || n != 4 {
			t.Fatalf("b has %d stored: %v", n, err)
		}
		if _, err := e.DB.Client.ExecContext(ctx, `UPDATE notifications SET created_at = ?`, old); err != nil {
			t.Fatal(err)
		}
		ca.send(t, r.ID, "new")
		pruned, err := e.Chat.PruneNotifications(ctx, 30*24*time.Hour)
		if err != nil || pruned != 4 {
			t.Fatalf("pruned %d: %v", pruned, err)
		}
		if got := describeAll(cb.allNotifications(t, 10)); !slices.Equal(got, []string{"NEW_MESSAGE:new"}) {
			t.Fatalf("after pruning: %v", got)
		}
		if pruned, err := e.Chat.PruneNotifications(ctx, 30*24*time.Hour); err != nil || pruned != 0 {
			t.Fatalf("pruned again %d: %v", pruned, err)
		}
	})
}

// B's instance loses Redis while notifications for B are committed, on
// that instance and the other one: once Redis is back, B's subscription
// catches up from the database and delivers each of them once, in order,
// then goes on live.
func TestNotificationsThroughRedisOutage(t *testing.T) {
	redis := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			one, two, proxy := cutOffPair(t, backend, redis)
			a, b := one.signUp(t, "sender"), one.signUp(t, "reader")
			r := two.client(a).createRoom(t, nil, b.ID)
			ws := one.wsConnect(t, protoTransportWS, b)
			ws.subscribe("n", notificationsAfterOp, map[string]any{"after": nil})
			for live := false; !live; { // live once a probe comes
				two.client(a).send(t, r.ID, "probe")
				n, err := nextStored(t, ws, "n", 300*time.Millisecond)
				if err != nil && !errors.Is(err, errWSNoFrame) {
					t.Fatal(err)
				}
				live = err == nil && n.Kind == "NEW_MESSAGE"
			}
			for { // probes in flight
				if _, err := nextStored(t, ws, "n", 300*time.Millisecond); err != nil {
					break
				}
			}

			proxy.cut()
			var want []string
			for i := range 4 {
				e := []*env{two, one}[i%2] // one's own publishes fail too
				e.client(a).send(t, r.ID, fmt.Sprint("during ", i))
				want = append(want, fmt.Sprint("NEW_MESSAGE:during ", i))
			}
			time.Sleep(300 * time.Millisecond) // one tries to subscribe again and fails
			proxy.restore()

			var got []string
			for len(got) < len(want) {
				n, err := nextStored(t, ws, "n", outageWait)
				if err != nil {
					t.Fatalf("after %v: %v", got, err)
				}
				got = append(got, describe(n))
			}
			if !slices.Equal(got, want) {
				t.Fatalf("after the outage %v, want %v", got, want)
			}
			two.client(a).send(t, r.ID, "after")
			if n, err := nextStored(t, ws, "n", outageWait); err != nil || describe(n) != "NEW_MESSAGE:after" {
				t.Fatalf("live again: %v %v", n, err)
			}
			ws.quiet("n", 300*time.Millisecond)
		})
	}
}

// The sender's instance loses Redis while B's stays connected: what was
// committed meanwhile reaches B, once each, when Redis is back (the
// publishing instance holds the notifications it could not publish).
func TestNotificationsPublishedAfterRedisOutage(t *testing.T) {
	redis := redisURL(t)
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			one, two, proxy := cutOffPair(t, backend, redis)
			a, b := one.signUp(t, "sender"), one.signUp(t, "reader")
			r := one.client(a).createRoom(t, nil, b.ID)
			ws := two.wsConnect(t, protoTransportWS, b)
			ws.subscribe("n", notificationsAfterOp, map[string]any{"after": nil})
			for live := false; !live; { // live once a probe sent through one comes
				one.client(a).send(t, r.ID, "probe")
				n, err := nextStored(t, ws, "n", 300*time.Millisecond)
				if err != nil && !errors.Is(err, errWSNoFrame) {
					t.Fatal(err)
				}
				live = err == nil && n.Kind == "NEW_MESSAGE"
			}
			for { // probes in flight
				if _, err := nextStored(t, ws, "n", 300*time.Millisecond); err != nil {
					break
				}
			}

			proxy.cut()
			var want []string
			for i := range 3 {
				one.client(a).send(t, r.ID, fmt.Sprint("during ", i))
				want = append(want, fmt.Sprint("NEW_MESSAGE:during ", i))
			}
			proxy.restore()
			one.client(a).send(t, r.ID, "after")
			want = append(want, "NEW_MESSAGE:after")

			var got []string
			for len(got) < len(want) {
				n, err := nextStored(t, ws, "n", outageWait)
				if err != nil {
					t.Fatalf("after %v: %v", got, err)
				}
				got = append(got, describe(n))
			}
			// "after" may overtake the held ones; each arrives once.
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("b got %v, want %v", got, want)
			}
			ws.quiet("n", 500*time.Millisecond)
		})
	}
}
