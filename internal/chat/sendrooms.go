package chat

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// On MariaDB the batches of sends of different rooms that wait at the same
// time share one transaction: at most sendTxSlots send transactions of
// this process run at once, and the batches that come meanwhile (each
// still holding its room's turn, see sendbatch.go) are taken together by
// the next one, up to maxTxRooms rooms and maxTxSends sends. The
// transaction locks their rooms in ascending id order (as every
// transaction of several rooms must: no deadlock), and BEGIN, COMMIT (one
// log flush), the two round trips and the recipients' unread totals after
// the commit (one read for all, each recipient once) are shared. A batch
// alone goes as before (storeRoomScript). When the shared transaction
// fails (a send refused under its room's lock, a clientId used before, a
// deadline) it rolls back whole and each room's batch goes again alone,
// from its own turn: one room's failure never fails another's sends.
//
// Measured with a loop of the send scripts against MariaDB on this
// machine (8 connections, 32 rooms of 4 members): transactions of 4
// rooms took 660–725 µs of the database's CPU per send, one room a
// transaction 1 130–1 150 µs.

const (
	sendTxSlots = 4  // send transactions of this process at once
	maxTxRooms  = 16 // rooms of one transaction
	maxTxSends  = 64 // sends of one transaction (a room's batch is never split)
)

// maxSlotWait: a batch that found no free slot for this long goes alone,
// so that transactions stuck on rooms locked elsewhere hold up the others'
// sends for no longer. A variable for tests.
var maxSlotWait = 100 * time.Millisecond

// roomBatch is one room's batch waiting for a send transaction.
type roomBatch struct {
	ctx   context.Context
	batch []*pendingSend
	done  chan struct{} // closed once stored or given back
	alone bool          // given back: its room's turn holder stores it alone
}

// sendTxs is the queue of room batches and the send transaction slots.
type sendTxs struct {
	once  sync.Once
	slots chan struct{}
	mu    sync.Mutex
	queue []*roomBatch
}

// storeWithOtherRooms stores batch (of one room; the caller holds the
// room's turn) in a send transaction, with other rooms' batches when some
// wait, and reports whether it did: false means the caller stores it
// alone (storeRoomScript). Every send of a batch it reports true for is
// finished.
func (s *Service) storeWithOtherRooms(ctx context.Context, batch []*pendingSend) bool {
	t := &s.sendTxs
	t.once.Do(func() { t.slots = make(chan struct{}, sendTxSlots) })
	rb := &roomBatch{ctx: ctx, batch: batch, done: make(chan struct{})}
	t.mu.Lock()
	t.queue = append(t.queue, rb)
	t.mu.Unlock()
	wait := time.NewTimer(maxSlotWait)
	defer wait.Stop()
	select {
	case t.slots <- struct{}{}:
		// A slot: store what waits (ours, unless another slot's holder
		// took it already), until ours is done.
		for {
			t.mu.Lock()
			var take []*roomBatch
			sends := 0
			for len(t.queue) > 0 && len(take) < maxTxRooms && (len(take) == 0 || sends+len(t.queue[0].batch) <= maxTxSends) {
				sends += len(t.queue[0].batch)
				take = append(take, t.queue[0])
				t.queue = t.queue[1:]
			}
			t.mu.Unlock()
			if len(take) == 0 {
				<-t.slots
				break // ours is in another slot's transaction
			}
			s.storeRoomBatches(rb.ctx, take)
			select {
			case <-rb.done:
				<-t.slots
				return !rb.alone
			default: // ours still waits behind a full transaction
			}
		}
	case <-wait.C:
		// Every slot is taken for long (their rooms' locks held
		// elsewhere?): ours goes alone, unless a transaction took it.
		t.mu.Lock()
		for i, q := range t.queue {
			if q == rb {
				t.queue = append(t.queue[:i:i], t.queue[i+1:]...)
				t.mu.Unlock()
				return false
			}
		}
		t.mu.Unlock()
	case <-rb.done:
	}
	<-rb.done
	return !rb.alone
}

// storeRoomBatches stores the batches of take (each of its own room) in
// one transaction: a batch alone as storeRoomScript does, several with
// sendRoomsScript under a sharedContext of ctx (the slot holder's): no
// request's cancel rolls back the others' sends. Each batch is done
// after: stored, or given back to its turn holder.
func (s *Service) storeRoomBatches(ctx context.Context, take []*roomBatch) {
	if len(take) == 1 {
		s.storeRoomScript(take[0].ctx, take[0].batch)
		close(take[0].done)
		return
	}
	slices.SortFunc(take, func(a, b *roomBatch) int { return cmp.Compare(a.batch[0].roomID, b.batch[0].roomID) })
	groups := make([]*roomSends, len(take))
	for i, rb := range take {
		groups[i] = &roomSends{roomID: rb.batch[0].roomID, batch: rb.batch}
	}
	batches := make([][]*pendingSend, len(take))
	for i, rb := range take {
		batches[i] = rb.batch
	}
	ctx, cancel := sharedContext(ctx, batches...)
	err := s.sendRoomsScript(ctx, groups)
	cancel()
	for i, rb := range take {
		switch {
		case err == nil:
			for j, p := range rb.batch {
				p.finish(groups[i].sent[j].m, nil)
			}
		case errors.Is(err, errOutcomeUnknown): // not again: they may be stored
			for _, p := range rb.batch {
				p.finish(nil, err)
			}
		default:
			rb.alone = true
		}
		close(rb.done)
	}
}
