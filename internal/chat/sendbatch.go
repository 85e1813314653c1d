package chat

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql/sqlgraph"

	"github.com/chatty/chatty/ent"
)

// Concurrent sends to one room share a transaction. A send waits for its
// room's turn (roomTurns) with its request queued on the room; whoever
// gets the turn takes every request queued by then (up to maxBatch) and
// stores them in one transaction: BEGIN, then per message its seq and
// INSERT, one COMMIT, so one commit (one log flush on MariaDB) and one
// round of the room's row lock for all of them. Each caller gets its own
// message or error. When anything in the shared transaction fails (a
// clientId used before, a member who left meanwhile, a deadline) it rolls
// back whole and each request is sent again alone, in its own transaction
// with its own context: one failing send never fails the others. A
// request that ends meanwhile (its client went away) does not end the
// shared transaction (sharedContext): its send is stored with the others.

// maxBatch bounds the sends of one shared transaction.
const maxBatch = 32

// sharedContext is the context of a transaction that stores the sends of
// batches, which may be other requests' than ctx's: it keeps ctx's values
// but ends by no request's cancel (a leader whose client went away would
// otherwise roll back every send of the batch, and each would go again
// alone). Its deadline is the latest of the sends' deadlines: each of
// them waits for the transaction's outcome once it is taken, so none
// waits longer than the latest of them allows (scriptTimeout from now
// when one of them has no deadline).
func sharedContext(ctx context.Context, batches ...[]*pendingSend) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, b := range batches {
		for _, p := range b {
			d, ok := p.ctx.Deadline()
			if !ok {
				d = time.Now().Add(scriptTimeout)
			}
			if d.After(latest) {
				latest = d
			}
		}
	}
	if latest.IsZero() {
		latest = time.Now().Add(scriptTimeout)
	}
	return context.WithDeadline(context.WithoutCancel(ctx), latest)
}

// pendingSend is one queued send.
type pendingSend struct {
	ctx    context.Context
	roomID int
	userID int
	d      draft

	done chan struct{} // closed once msg or err is set
	msg  *ent.Message
	err  error
}

func (p *pendingSend) finish(m *ent.Message, err error) {
	p.msg, p.err = m, err
	close(p.done)
}

// sendInTurn stores p once its room's turn comes, possibly in the
// transaction of another send of the room.
func (s *Service) sendInTurn(p *pendingSend) (*ent.Message, error) {
	t := &s.turns
	tr := t.enter(p.roomID)
	t.mu.Lock()
	tr.queue = append(tr.queue, p)
	t.mu.Unlock()
	defer t.leave(p.roomID, tr)
	select {
	case tr.slot <- struct{}{}:
		for {
			// The turn is ours: store what is queued (ours, unless an
			// earlier turn did it already).
			t.mu.Lock()
			n := min(len(tr.queue), maxBatch)
			batch := tr.queue[:n:n]
			tr.queue = tr.queue[n:]
			t.mu.Unlock()
			if len(batch) > 0 {
				s.storeBatch(p.ctx, batch)
			}
			select {
			case <-p.done:
				<-tr.slot
				return p.msg, p.err
			default: // ours is still queued behind a full batch
			}
		}
	case <-p.done: // stored in another send's turn
		return p.msg, p.err
	case <-p.ctx.Done():
		t.mu.Lock()
		for i, q := range tr.queue {
			if q == p {
				tr.queue = append(tr.queue[:i:i], tr.queue[i+1:]...)
				t.mu.Unlock()
				return nil, fmt.Errorf("wait to write to room %d: %w", p.roomID, p.ctx.Err())
			}
		}
		t.mu.Unlock()
		<-p.done // taken into a batch already: its outcome is coming
		return p.msg, p.err
	}
}

// storeBatch stores the sends of batch, all in one transaction when that
// works, else each in its own; every one of them is finished.
func (s *Service) storeBatch(ctx context.Context, batch []*pendingSend) {
	if s.scripts != nil {
		s.storeBatchScript(ctx, batch)
		return
	}
	if len(batch) > 1 {
		msgs := make([]*ent.Message, len(batch))
		ctx, cancel := sharedContext(ctx, batch)
		defer cancel()
		err := s.inTx(ctx, func(tx *ent.Tx, em *emitter) error {
			for i, p := range batch {
				m, err := s.storeSend(ctx, tx, em, p)
				if err != nil {
					return err
				}
				msgs[i] = m
			}
			return nil
		})
		if err == nil {
			for i, p := range batch {
				p.finish(msgs[i], nil)
			}
			return
		}
	}
	for _, p := range batch {
		var m *ent.Message
		err := s.inTx(p.ctx, func(tx *ent.Tx, em *emitter) (err error) {
			m, err = s.storeSend(p.ctx, tx, em, p)
			return err
		})
		p.finish(m, err)
	}
}

// storeSend takes p's seq and stores its message in tx: the seq (with the
// membership and blocks checked under the room's lock, and the unread
// counters), then the message, which returns the room and the sender as
// they are now (see insertSent), and its grams for the search index. A
// conflict on its clientId is clientIDTaken wrapping the constraint error.
func (s *Service) storeSend(ctx context.Context, tx *ent.Tx, em *emitter, p *pendingSend) (*ent.Message, error) {
	now := s.now()
	if err := s.claimSeq(ctx, tx, p.roomID, p.userID, now); err != nil {
		return nil, err
	}
	m, sender, r, err := s.insertSent(ctx, tx, p.roomID, p.d, now)
	if err != nil {
		if p.d.clientID != nil && sqlgraph.IsUniqueConstraintError(err) {
			// Most likely the clientId was used before (or concurrently):
			// this seq and these counts roll back.
			return nil, &clientIDTaken{err: err}
		}
		return nil, err
	}
	if err := s.index(ctx, tx, m, p.d.filename); err != nil { // the search index: one statement
		return nil, err
	}
	// m was not made by ent (no client of its own): emitted as it is.
	em.emitDetached(Event{Kind: EventMessageCreated, RoomID: p.roomID, ActorID: p.userID, Message: m, Sender: sender, Room: r, Left: p.d.left})
	return m, nil
}

// clientIDTaken: the INSERT hit the unique key of (room, sender, clientId).
// looked: the message that holds the clientId was looked up already (in
// the round trip of the rollback, sendscript.go): first, nil when none.
type clientIDTaken struct {
	err    error
	first  *ent.Message
	looked bool
}

func (e *clientIDTaken) Error() string { return e.err.Error() }
func (e *clientIDTaken) Unwrap() error { return e.err }
