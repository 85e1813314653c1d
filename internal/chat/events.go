package chat

import (
	"context"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/database"
)

// EventKind says what happened.
type EventKind string

// The events the chat domain publishes.
const (
	// EventMessageCreated: a message (any kind, SYSTEM included) was stored.
	EventMessageCreated EventKind = "MESSAGE_CREATED"
	// EventMessageChanged: a stored message was edited, deleted or had
	// its reactions changed (Message, stamped with its revision and
	// last change; see stampChange). It notifies nobody.
	EventMessageChanged EventKind = "MESSAGE_CHANGED"
	// EventRoomChanged: the room itself changed (renamed, a member
	// removed): its members' room streams are told.
	EventRoomChanged EventKind = "ROOM_CHANGED"
	// EventReadMoved: ActorID's read marker in the room moved forward to
	// Message, at At.
	EventReadMoved EventKind = "READ_MOVED"
	// EventMemberJoined: users were added to a room (UserIDs).
	EventMemberJoined EventKind = "MEMBER_JOINED"
	// EventMemberLeft: a user (ActorID) left a room.
	EventMemberLeft EventKind = "MEMBER_LEFT"
	// EventRoomAdded: users (UserIDs) were put in a room by ActorID,
	// as it was created or later.
	EventRoomAdded EventKind = "ROOM_ADDED"
	// EventRoomRenamed: the OWNER (ActorID) renamed group RoomID (or
	// cleared its name).
	EventRoomRenamed EventKind = "ROOM_RENAMED"
	// EventMemberRemoved: the OWNER (ActorID) removed UserIDs from RoomID;
	// their membership ended with the SYSTEM message that follows.
	EventMemberRemoved EventKind = "MEMBER_REMOVED"
	// EventFriendRequest: ActorID asked UserIDs[0] to be friends.
	EventFriendRequest EventKind = "FRIEND_REQUEST"
	// EventFriendAccepted: ActorID accepted the request of UserIDs[0].
	EventFriendAccepted EventKind = "FRIEND_ACCEPTED"
)

// Event is a committed change someone should hear about. It carries ids
// and the stored message, never a transaction-bound entity.
type Event struct {
	Kind    EventKind
	RoomID  int
	ActorID int
	// UserIDs are the users the event is about (added, asked, accepted).
	UserIDs []int
	// Message is the stored message of EventMessageCreated, detached from
	// its transaction.
	Message *ent.Message
	// Sender and Room: Message's sender and room (as the message left
	// it), when the sending code had them at hand (publishing reads them
	// otherwise).
	Sender *ent.User
	Room   *ent.Room
	// Left: users whose membership of the room ended with Message (the
	// SYSTEM message of a leave).
	Left []int
	// At is when it happened (EventReadMoved).
	At time.Time
	// notes: the id of the notification stored for each user the event
	// notifies (see storeNotifications), stored at notedAt; for a new
	// message, publishing reads them (recipientNotes) unless
	// recipientsKnown: then recipients are they, with their notification
	// ids and their unread totals as of the commit (read in the round
	// trip of the commit on MariaDB, sendscript.go; in the transaction on
	// SQLite, whose writers take turns, so nothing commits in between).
	notes           map[int]int
	notedAt         time.Time
	recipients      []recipientNote
	recipientsKnown bool
	// reactions: Message's reactions as of the change (EventMessageChanged,
	// read in its transaction; nil: unknown, read when publishing).
	reactions []reactionRow
}

// Publisher receives events after the change they describe is committed.
// It must not block: the realtime layer fans out from memory.
type Publisher interface {
	Publish(ctx context.Context, e Event)
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, e Event)

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, e Event) { f(ctx, e) }

// multiPublisher hands each event to every publisher in turn.
type multiPublisher []Publisher

func (m multiPublisher) Publish(ctx context.Context, e Event) {
	for _, p := range m {
		p.Publish(ctx, e)
	}
}

// emitter collects the events of one transaction.
type emitter struct{ events []Event }

func (em *emitter) emit(e Event) {
	if e.Message != nil {
		e.Message = e.Message.Unwrap() // usable after the transaction is gone
	}
	em.events = append(em.events, e)
}

// emitDetached is emit for an event whose message ent did not load (it has
// no transaction to be detached from).
func (em *emitter) emitDetached(e Event) {
	em.events = append(em.events, e)
}

// inTx runs fn in a transaction, stores the notifications of the events
// fn emitted in it (the outbox, see storeNotifications) and, once it has
// committed, publishes the events, in order. Nothing is published when fn
// fails or the commit does.
func (s *Service) inTx(ctx context.Context, fn func(tx *ent.Tx, em *emitter) error) error {
	var em emitter
	err := database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		if err := fn(tx, &em); err != nil {
			return err
		}
		return s.storeNotifications(ctx, tx, &em)
	})
	if err != nil {
		return err
	}
	for _, e := range em.events {
		switch e.Kind {
		case EventMessageCreated, EventMessageChanged, EventReadMoved:
		default: // members may have changed
			s.senders.forgetRoom(e.RoomID)
		}
		s.pub.Publish(ctx, e)
	}
	return nil
}
