package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Notification is one stored notification of one user (the outbox of the
// notifications subscription and the source of notificationHistory). It
// is written in the transaction of what caused it and pruned after the
// retention period. GraphQL shows it as internal/chat.Notification, the
// same type the live stream delivers (with totalUnread, which is not
// stored), so the entity itself is not exposed.
//
// No edges, so no foreign keys: on MariaDB a foreign key check takes a
// shared lock on the parent row, and a notification is inserted in the
// transaction of what caused it. The ROOM_READ of markRoomRead would then
// wait for the room row a send holds while that send's notifications
// (read from the members) wait for the reader's membership row: a
// deadlock. Rooms, messages and users are never deleted (users and
// messages are soft-deleted), so the ids stay good; pruning removes rows.
type Notification struct{ ent.Schema }

// Fields of Notification.
func (Notification) Fields() []ent.Field {
	return []ent.Field{
		// The recipient (users.id).
		field.Int("user_id").Immutable(),
		// NEW_MESSAGE, FRIEND_REQUEST, … (internal/chat.NotificationKind).
		field.String("kind").MaxLen(32).NotEmpty().Immutable(),
		// rooms.id and messages.id, when it is about one.
		field.Int("room_id").Optional().Nillable().Immutable(),
		field.Int("message_id").Optional().Nillable().Immutable(),
		// Who caused it (users.id).
		field.Int("actor_id").Optional().Nillable().Immutable(),
		field.Time("created_at").
			SchemaType(timeType).
			Default(func() time.Time { return time.Now().UTC() }).
			Immutable(),
		// Set by markNotificationsRead (ROOM_READ is stored read).
		optionalTime("read_at"),
	}
}

// Indexes of Notification.
func (Notification) Indexes() []ent.Index {
	return []ent.Index{
		// History (newest first) and replay (after a cursor): the id
		// follows user_id in the index on every backend.
		index.Fields("user_id"),
		// Unread counts.
		index.Fields("user_id", "read_at"),
		// Who a message notified (publishing it).
		index.Fields("message_id"),
		// Pruning.
		index.Fields("created_at"),
	}
}

// Annotations of Notification.
func (Notification) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
