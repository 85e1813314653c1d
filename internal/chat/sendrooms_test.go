package chat

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/notification"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/viewer"
)

// roomsFixture is a service on MariaDB with scripts, users 0–3 and rooms
// of all four, each user remembered as a sender of each room.
type roomsFixture struct {
	s          *Service
	db         *database.DB
	users      []viewer.Viewer
	rooms      []int
	roundTrips *atomic.Int64
	mu         sync.Mutex
	published  map[int]Event // by message
	twice      []int
}

func newRoomsFixture(t testing.TB, rooms int) *roomsFixture {
	t.Helper()
	ctx := context.Background()
	f := &roomsFixture{roundTrips: &atomic.Int64{}, published: map[int]Event{}}
	f.db = dbtest.Open(t, "mysql", database.WithStatementCounter(f.roundTrips))
	f.s = NewService(f.db.Client, nil, WithDialect(f.db.Dialect), WithScripts(f.db.Scripts),
		WithPublisher(PublisherFunc(func(_ context.Context, e Event) {
			if e.Kind == EventMessageCreated && e.Message.Kind == message.KindTEXT {
				f.mu.Lock()
				if _, ok := f.published[e.Message.ID]; ok {
					f.twice = append(f.twice, e.Message.ID)
				}
				f.published[e.Message.ID] = e
				f.mu.Unlock()
			}
		})))
	for i := range 4 {
		u, err := f.db.Client.User.Create().SetNickname(fmt.Sprint("u", i)).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f.users = append(f.users, viewer.Viewer{UserID: u.ID})
		// Online: see sendService.
		release, err := f.s.presence.Connect(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(release)
	}
	for i := range rooms {
		name := fmt.Sprint("room ", i)
		r, err := f.s.CreateRoom(ctx, f.users[0], CreateRoomInput{MemberIDs: []int{f.users[1].UserID, f.users[2].UserID, f.users[3].UserID}, Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		f.rooms = append(f.rooms, r.ID)
		for _, u := range f.users {
			f.s.senders.remember(r.ID, u.UserID, f.s.now())
		}
	}
	return f
}

// held sends one message to each room in sends while every send
// transaction slot is taken, waits until each room's batch waits for a
// slot, then frees one slot: the batches go together, if they can.
func (f *roomsFixture) held(t *testing.T, sends []SendMessageInput, from []int) ([]*ent.Message, []error) {
	return f.heldCancel(t, sends, from, false)
}

// heldCancel is held; with cancel, every send's context ends once its
// room's batch waits for a slot, before the slot is freed.
func (f *roomsFixture) heldCancel(t *testing.T, sends []SendMessageInput, from []int, cancel bool) ([]*ent.Message, []error) {
	t.Helper()
	old := maxSlotWait
	maxSlotWait = time.Hour
	defer func() { maxSlotWait = old }()
	tx := &f.s.sendTxs
	tx.once.Do(func() { tx.slots = make(chan struct{}, sendTxSlots) })
	for range sendTxSlots {
		tx.slots <- struct{}{}
	}
	out, errs := make([]*ent.Message, len(sends)), make([]error, len(sends))
	ctx, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	var wg sync.WaitGroup
	for i, in := range sends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = f.s.SendMessage(ctx, f.users[from[i]], in)
		}()
	}
	for { // until every room's batch waits
		tx.mu.Lock()
		waiting := len(tx.queue)
		tx.mu.Unlock()
		if waiting == len(sends) {
			break
		}
		runtime.Gosched()
	}
	if cancel {
		cancelAll()
	}
	f.roundTrips.Store(0)
	<-tx.slots
	wg.Wait()
	for range sendTxSlots - 1 {
		<-tx.slots
	}
	return out, errs
}

// check: every room's messages have seqs 1, 2, … and each stored message
// was published once, telling whom it notified as stored.
// onePerRoom is a send to each room of f ("m0", "m1", …), and who sends
// it (the users in turn).
func (f *roomsFixture) onePerRoom() (sends []SendMessageInput, from []int) {
	for i, id := range f.rooms {
		sends = append(sends, SendMessageInput{RoomID: id, Body: fmt.Sprint("m", i)})
		from = append(from, i%len(f.users))
	}
	return sends, from
}

func (f *roomsFixture) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.twice) > 0 {
		t.Errorf("messages %v were published twice", f.twice)
	}
	for _, id := range f.rooms {
		all, err := f.db.Client.Message.Query().Where(message.RoomID(id), message.KindNEQ(message.KindSYSTEM)).Order(message.BySeq()).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		last := int64(0)
		for _, m := range all {
			if m.Seq <= last {
				t.Errorf("room %d: seq %d after %d", id, m.Seq, last)
			}
			last = m.Seq
			e, ok := f.published[m.ID]
			if !ok {
				t.Errorf("message %q of room %d was not published", m.Body, id)
				continue
			}
			ns, err := f.db.Client.Notification.Query().Where(notification.MessageID(m.ID)).Order(notification.ByUserID()).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !e.recipientsKnown || len(e.recipients) != len(ns) {
				t.Errorf("message %q: published with %v (known %v), stored %d notifications", m.Body, e.recipients, e.recipientsKnown, len(ns))
				continue
			}
			for j, rn := range e.recipients {
				if rn.id != ns[j].ID || rn.userID != ns[j].UserID {
					t.Errorf("message %q: told %+v, stored notification %d of user %d", m.Body, rn, ns[j].ID, ns[j].UserID)
				}
			}
		}
		// Gapless: the room's seq counts every message, joins included.
		n, err := f.db.Client.Message.Query().Where(message.RoomID(id)).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.db.Client.Room.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if int64(n) != r.LastSeq {
			t.Errorf("room %d holds %d messages, its last seq is %d", id, n, r.LastSeq)
		}
	}
}

// Sends to different rooms that wait at the same time are stored in one
// transaction (MariaDB, scripts): two round trips for all of them, each
// stored once at its room's next seq, each published once with its
// recipients, and the unread totals told last are the counts now.
func TestSendsToSeveralRoomsShareATransaction(t *testing.T) {
	if !hasMySQL() {
		t.Skip("MariaDB only (CHATTY_TEST_MYSQL_DSN)")
	}
	f := newRoomsFixture(t, 6)
	sends, from := f.onePerRoom()
	out, errs := f.held(t, sends, from)
	if n := f.roundTrips.Load(); n != 2 {
		t.Errorf("%d sends to %d rooms took %d round trips, want 2 (one transaction)", len(sends), len(f.rooms), n)
	}
	for i := range sends {
		if errs[i] != nil || out[i].Body != sends[i].Body || out[i].RoomID != sends[i].RoomID || *out[i].SenderID != f.users[from[i]].UserID {
			t.Fatalf("send %d: %+v, %v", i, out[i], errs[i])
		}
	}
	f.check(t)
	// Each user was told, by their last notification, their unread count
	// now.
	lastTold := map[int]recipientNote{}
	f.mu.Lock()
	for _, m := range out {
		for _, rn := range f.published[m.ID].recipients {
			if rn.id > lastTold[rn.userID].id {
				lastTold[rn.userID] = rn
			}
		}
	}
	f.mu.Unlock()
	for _, u := range f.users {
		total, err := f.s.TotalUnread(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		if rn, ok := lastTold[u.UserID]; !ok || rn.total == nil || *rn.total != total {
			t.Errorf("user %d was told %+v, has %d unread", u.UserID, rn, total)
		}
	}
}

// Sends to different rooms whose requests end (their clients went away)
// once they wait for a shared transaction are stored all the same, in
// that one transaction: the slot holder's cancel does not roll back the
// others' sends (nor its own), and none is sent again. Each caller gets
// its message, each stored and published once.
func TestSendsToSeveralRoomsOfCancelledRequestsShareATransaction(t *testing.T) {
	if !hasMySQL() {
		t.Skip("MariaDB only (CHATTY_TEST_MYSQL_DSN)")
	}
	f := newRoomsFixture(t, 4)
	sends, from := f.onePerRoom()
	out, errs := f.heldCancel(t, sends, from, true)
	for i := range sends {
		if errs[i] != nil || out[i].Body != sends[i].Body || out[i].RoomID != sends[i].RoomID {
			t.Fatalf("send %d: %+v, %v", i, out[i], errs[i])
		}
	}
	if n := f.roundTrips.Load(); n != 2 {
		t.Errorf("%d sends to %d rooms took %d round trips, want 2 (one transaction)", len(sends), len(f.rooms), n)
	}
	for i, id := range f.rooms {
		n, err := f.db.Client.Message.Query().Where(message.RoomID(id), message.KindNEQ(message.KindSYSTEM)).Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("room %d holds %d messages, want 1", i, n)
		}
	}
	f.check(t)
}

// A send refused under its room's lock (its sender left, through another
// instance) or one with a clientId used before, in a transaction with
// other rooms' sends, does not fail them: the transaction rolls back and
// each room's sends go again alone. The refused send fails, the repeated
// clientId gets the first message, every other send is stored once.
func TestSendsToSeveralRoomsARefusedOneFailsAlone(t *testing.T) {
	if !hasMySQL() {
		t.Skip("MariaDB only (CHATTY_TEST_MYSQL_DSN)")
	}
	ctx := context.Background()
	f := newRoomsFixture(t, 5)
	if err := f.s.LeaveRoom(ctx, f.users[3], f.rooms[2]); err != nil {
		t.Fatal(err)
	}
	f.s.senders.remember(f.rooms[2], f.users[3].UserID, f.s.now()) // as if it left elsewhere
	used := "used"
	first, err := f.s.SendMessage(ctx, f.users[1], SendMessageInput{RoomID: f.rooms[4], Body: "first", ClientID: &used})
	if err != nil {
		t.Fatal(err)
	}
	sends := []SendMessageInput{
		{RoomID: f.rooms[0], Body: "m0"},
		{RoomID: f.rooms[1], Body: "m1"},
		{RoomID: f.rooms[2], Body: "refused"},
		{RoomID: f.rooms[3], Body: "m3"},
		{RoomID: f.rooms[4], Body: "first", ClientID: &used},
	}
	from := []int{0, 1, 3, 2, 1}
	out, errs := f.held(t, sends, from)
	for i := range sends {
		switch i {
		case 2:
			if !errors.Is(errs[i], ErrRoomNotFound) {
				t.Errorf("the send of the member who left: %v, %v; want ErrRoomNotFound", out[i], errs[i])
			}
		case 4:
			if errs[i] != nil || out[i].ID != first.ID {
				t.Errorf("the repeated clientId: %+v, %v; want the first message %d", out[i], errs[i], first.ID)
			}
		default:
			if errs[i] != nil || out[i].Body != sends[i].Body || out[i].RoomID != sends[i].RoomID {
				t.Errorf("send %d: %+v, %v", i, out[i], errs[i])
			}
		}
	}
	for i, id := range f.rooms {
		n, err := f.db.Client.Message.Query().Where(message.RoomID(id), message.KindNEQ(message.KindSYSTEM)).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]int{2: 0, 4: 1}[i]
		if _, ok := map[int]int{2: 0, 4: 1}[i]; !ok {
			want = 1
		}
		if n != want {
			t.Errorf("room %d holds %d messages, want %d", i, n, want)
		}
	}
	f.check(t)
}

func hasMySQL() bool {
	for _, b := range dbtest.Backends() {
		if b == "mysql" {
			return true
		}
	}
	return false
}
