package chat

import (
	"context"
	"fmt"
	"sync"

	"github.com/chatty/chatty/ent"
)

// roomTurns lets one transaction per room at a time, in this process, go
// for the room's row lock; the others wait here, holding no database
// connection. Writers of a room are serialised by that lock anyway, so
// this costs no throughput, but a room whose lock is held (a long
// transaction elsewhere, a stuck instance) now ties up one connection of
// the pool instead of all of them, and the rest of the server goes on.
// A wait ends with the request's deadline.
type roomTurns struct {
	mu    sync.Mutex
	rooms map[int]*turn
}

type turn struct {
	slot  chan struct{}
	refs  int            // holders and waiters; the entry goes when it drops to 0
	queue []*pendingSend // sends waiting to be stored (sendbatch.go)
}

// enter registers a holder or waiter of roomID's turn; leave undoes it.
func (t *roomTurns) enter(roomID int) *turn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rooms == nil {
		t.rooms = map[int]*turn{}
	}
	tr := t.rooms[roomID]
	if tr == nil {
		tr = &turn{slot: make(chan struct{}, 1)}
		t.rooms[roomID] = tr
	}
	tr.refs++
	return tr
}

// take waits for roomID's turn; release gives it to the next waiter.
func (t *roomTurns) take(ctx context.Context, roomID int) (release func(), err error) {
	tr := t.enter(roomID)
	select {
	case tr.slot <- struct{}{}:
		return func() {
			<-tr.slot
			t.leave(roomID, tr)
		}, nil
	case <-ctx.Done():
		t.leave(roomID, tr)
		return nil, fmt.Errorf("wait to write to room %d: %w", roomID, ctx.Err())
	}
}

func (t *roomTurns) leave(roomID int, tr *turn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr.refs--; tr.refs == 0 {
		delete(t.rooms, roomID)
	}
}

// inRoomTx is inTx for a transaction that locks room roomID: it waits for
// the room's turn first.
func (s *Service) inRoomTx(ctx context.Context, roomID int, fn func(tx *ent.Tx, em *emitter) error) error {
	release, err := s.turns.take(ctx, roomID)
	if err != nil {
		return err
	}
	defer release()
	return s.inTx(ctx, fn)
}
