package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/membership"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/predicate"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

// draft is a message about to be posted.
type draft struct {
	kind         message.Kind
	body         string
	sender       *int
	clientID     *string
	attachmentID *int
	replyTo      *int   // the message of the room this one answers
	left         []int  // users whose membership ends with this message
	filename     string // the attachment's file name, for the search index
}

// post stores a SYSTEM message in room roomID at the room's next seq (it
// does not count as unread: the counters stay).
func (s *Service) post(ctx context.Context, tx *ent.Tx, em *emitter, roomID int, d draft) (*ent.Message, error) {
	pos, err := nextSeq(ctx, tx, roomID, s.now())
	if err != nil {
		return nil, err
	}
	return s.store(ctx, tx, em, roomID, pos, d)
}

// nextSeq takes the room's next seq, and the revision of adding the
// message there (see takeRevision). Bumping the counters locks the room
// row (MariaDB) or the database (SQLite) until commit, so concurrent
// senders get strictly increasing, unique seqs, and what the transaction
// reads afterwards is current.
func nextSeq(ctx context.Context, tx *ent.Tx, roomID int, now time.Time) (position, error) {
	return takeRevision(ctx, tx, roomID, true, now)
}

// lockRoom locks the room row for the rest of the transaction (before any
// other row of the room: one lock order for every writer, so no deadlock)
// and returns the room as it is now.
func lockRoom(ctx context.Context, tx *ent.Tx, roomID int) (*ent.Room, error) {
	// MySQL counts changed rows, and this changes none: look, don't count.
	if err := touchRoom(ctx, tx, roomID); err != nil {
		return nil, err
	}
	r, err := tx.Room.Get(ctx, roomID)
	if ent.IsNotFound(err) {
		return nil, ErrRoomNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load room %d: %w", roomID, err)
	}
	return r, nil
}

// store writes message d at pos: its seq, and its revision in the room's
// change feed (an ADDED change).
func (s *Service) store(ctx context.Context, tx *ent.Tx, em *emitter, roomID int, pos position, d draft) (*ent.Message, error) {
	return s.storeFrom(ctx, tx, em, roomID, pos, d, nil, nil)
}

// storeFrom is store with the sender's user row and the room (as the
// message leaves it) at hand, so that publishing does not read them again.
func (s *Service) storeFrom(ctx context.Context, tx *ent.Tx, em *emitter, roomID int, pos position, d draft, sender *ent.User, r *ent.Room) (*ent.Message, error) {
	m, err := tx.Message.Create().
		SetRoomID(roomID).
		SetNillableSenderID(d.sender).
		SetKind(d.kind).
		SetBody(d.body).
		SetSeq(pos.seq).
		SetRevision(pos.rev).
		SetLastChange(message.LastChangeADDED).
		SetNillableClientID(d.clientID).
		SetNillableAttachmentID(d.attachmentID).
		SetNillableReplyToID(d.replyTo).
		SetCreatedAt(s.now()).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("store message in room %d: %w", roomID, err)
	}
	if err := s.index(ctx, tx, m, d.filename); err != nil { // the search index: one statement
		return nil, err
	}
	em.emit(Event{Kind: EventMessageCreated, RoomID: roomID, ActorID: deref(d.sender), Message: m, Sender: sender, Room: r, Left: d.left})
	return m, nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// SendMessageInput is a text message.
type SendMessageInput struct {
	RoomID   int
	Body     string
	ClientID *string
	// ReplyToID: the message of the same room this one answers.
	ReplyToID *int
}

// normalizeClientID trims an idempotency key; empty means none.
func normalizeClientID(p *string) (*string, error) {
	if p == nil {
		return nil, nil
	}
	c := strings.TrimSpace(*p)
	if c == "" {
		return nil, nil
	}
	if utf8.RuneCountInString(c) > MaxClientIDLen || len(c) > 4*MaxClientIDLen {
		return nil, apperr.Input("clientId", "clientId is at most %d characters", MaxClientIDLen)
	}
	return &c, nil
}

// SendMessage posts a text message to a room the viewer is in. The body is
// trimmed and must not be empty. Sending with a clientId the viewer has
// used in this room before returns that first message instead.
func (s *Service) SendMessage(ctx context.Context, v viewer.Viewer, in SendMessageInput) (*ent.Message, error) {
	body := strings.TrimSpace(in.Body)
	switch {
	case body == "":
		return nil, apperr.Input("body", "a message must not be empty")
	case !utf8.ValidString(body):
		return nil, apperr.Input("body", "a message must be valid UTF-8")
	case utf8.RuneCountInString(body) > MaxBodyLen:
		return nil, apperr.Input("body", "a message is at most %d characters", MaxBodyLen)
	}
	clientID, err := normalizeClientID(in.ClientID)
	if err != nil {
		return nil, err
	}
	return s.send(ctx, v, in.RoomID, draft{kind: message.KindTEXT, body: body, sender: &v.UserID, clientID: clientID, replyTo: in.ReplyToID})
}

// send posts d for the viewer, honouring its idempotency key. In the
// common case that is four statements on MariaDB, five on SQLite: BEGIN,
// the seq (the membership and blocks checked under the room's lock, the
// unread counters bumped; SQLite bumps the sender's counter in a second
// statement), the INSERT (which returns the room and the sender the event
// carries), the message's grams for the search index, and COMMIT;
// concurrent sends to one room share BEGIN and COMMIT (sendbatch.go).
// Nothing is read before the room's turn: who is refused (not a member, a
// block) finds out under the lock, on a slow path that says why. An
// idempotency key used before is looked up only when the INSERT hits the
// unique key.
func (s *Service) send(ctx context.Context, v viewer.Viewer, roomID int, d draft) (*ent.Message, error) {
	if !s.senders.known(roomID, v.UserID, s.now()) {
		// A plain read first, unless they sent here lately: who is not a
		// member (or is blocked) never waits for, nor holds, the room's
		// lock.
		if _, err := postingMember(ctx, s.db, roomID, v.UserID); err != nil {
			return nil, err
		}
	}
	if d.replyTo != nil {
		if err := checkReplyTo(ctx, s.db, roomID, v.UserID, *d.replyTo); err != nil {
			if errors.Is(err, errBadReplyTo) {
				// An outsider learns that they are one, not about messages.
				if _, merr := postingMember(ctx, s.db, roomID, v.UserID); merr != nil {
					return nil, merr
				}
			}
			return nil, err
		}
	}
	p := &pendingSend{ctx: ctx, roomID: roomID, userID: v.UserID, d: d, done: make(chan struct{})}
	m, err := s.sendInTurn(p)
	if err == nil {
		s.senders.remember(roomID, v.UserID, s.now())
	}
	var taken *clientIDTaken
	if errors.As(err, &taken) {
		if taken.looked {
			if taken.first != nil {
				return taken.first, nil
			}
			return nil, taken.err
		}
		first, ferr := s.byClientID(ctx, s.db, roomID, v.UserID, *d.clientID)
		if ferr != nil || first != nil {
			return first, ferr
		}
		return nil, taken.err
	}
	return m, err
}

func (s *Service) byClientID(ctx context.Context, c *ent.Client, roomID, sender int, clientID string) (*ent.Message, error) {
	m, err := c.Message.Query().
		Where(message.RoomID(roomID), message.SenderID(sender), message.ClientID(clientID)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find message by clientId: %w", err)
	}
	return m, nil
}

// Messages is the query of the messages of room roomID that the viewer
// may read: those after they joined, while they are a member; the caller
// pages it. It reads nothing itself: the membership is a condition of
// the query (a subquery on memberships), so a page costs one statement
// and is empty for someone who is not a member, also one who left while
// it was read. When a page comes back empty, CheckMember tells whether
// the viewer may read the room at all.
func (s *Service) Messages(v viewer.Viewer, roomID int) *ent.MessageQuery {
	return s.db.Message.Query().Where(message.RoomID(roomID), readableIn(roomID, v.UserID))
}

// readableIn is readableBy for the messages of one room: "seq is past
// the one userID joined room roomID at, and userID is still a member".
// The subquery does not depend on the message: the database reads it
// once, not once per message. With no current membership it is NULL,
// and seq > NULL holds for no message.
func readableIn(roomID, userID int) predicate.Message {
	return func(s *sql.Selector) {
		t := sql.Table(membership.Table)
		joined := sql.Select(t.C(membership.FieldJoinedSeq)).From(t).Where(sql.And(
			sql.EQ(t.C(membership.FieldRoomID), roomID),
			sql.EQ(t.C(membership.FieldUserID), userID),
			sql.IsNull(t.C(membership.FieldLeftAt)),
		))
		s.Where(sql.P(func(b *sql.Builder) {
			b.Ident(s.C(message.FieldSeq)).WriteOp(sql.OpGT).Wrap(func(b *sql.Builder) { b.Join(joined) })
		}))
	}
}

// CheckMember returns ErrRoomNotFound unless the viewer is a member of
// room roomID.
func (s *Service) CheckMember(ctx context.Context, v viewer.Viewer, roomID int) error {
	_, err := currentMember(ctx, s.db, roomID, v.UserID)
	return err
}

// MarkRoomRead moves the viewer's read marker in a room to messageID, or
// to the newest message when messageID is nil. It never moves backwards.
// It runs in the room's turn, taking the room's lock before the membership
// and the messages it counts, as every writer of the room does (a send
// holds the room's row, its new message and the members' rows: taking them
// in another order deadlocks on MariaDB), and the read event goes out from
// the transaction, after the commit, in the room's order.
func (s *Service) MarkRoomRead(ctx context.Context, v viewer.Viewer, roomID int, messageID *int) (*ent.Room, error) {
	// A plain read first: an outsider never takes the room's lock.
	if _, err := currentMember(ctx, s.db, roomID, v.UserID); err != nil {
		return nil, err
	}
	var r *ent.Room
	err := s.inRoomTx(ctx, roomID, func(tx *ent.Tx, em *emitter) error {
		var err error
		if r, err = lockRoom(ctx, tx, roomID); err != nil {
			return err
		}
		m, err := currentMember(ctx, tx.Client(), roomID, v.UserID) // still, under the lock
		if err != nil {
			return err
		}
		var msg *ent.Message
		seq := r.LastSeq
		if messageID != nil {
			msg, err = tx.Message.Query().Where(message.ID(*messageID), message.RoomID(roomID), message.SeqGT(m.JoinedSeq)).Only(ctx)
			if ent.IsNotFound(err) {
				return ErrMessageNotFound
			}
			if err != nil {
				return fmt.Errorf("load message %d: %w", *messageID, err)
			}
			seq = msg.Seq
		}
		// The marker never moves back, also when two devices mark at once.
		moved, err := s.markRead(ctx, tx, m.ID, roomID, v.UserID, seq)
		if err != nil || !moved {
			return err
		}
		if msg == nil && seq > 0 {
			if msg, err = tx.Message.Query().Where(message.RoomID(roomID), message.Seq(seq)).Only(ctx); err != nil {
				return fmt.Errorf("load read message of room %d: %w", roomID, err)
			}
		}
		em.emit(Event{Kind: EventReadMoved, RoomID: roomID, ActorID: v.UserID, Message: msg, At: s.now()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r.Unwrap(), nil
}
