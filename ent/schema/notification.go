package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Notification is one stored notification of one user (the outbox of the
// notifications subscription and the source of notificationHistory). It
// is written in the transaction of what caused it and pruned after the
// retention period. GraphQL shows it as internal/chat.Notification, the
// same type the live stream delivers (with totalUnread, which is not
// stored), so the entity itself is not exposed.
type Notification struct{ ent.Schema }

// Fields of Notification.
func (Notification) Fields() []ent.Field {
	return []ent.Field{
		// The recipient.
		field.Int("user_id").Immutable(),
		// NEW_MESSAGE, FRIEND_REQUEST, … (internal/chat.NotificationKind).
		field.String("kind").MaxLen(32).NotEmpty().Immutable(),
		field.Int("room_id").Optional().Nillable().Immutable(),
		field.Int("message_id").Optional().Nillable().Immutable(),
		// Who caused it.
		field.Int("actor_id").Optional().Nillable().Immutable(),
		field.Time("created_at").
			SchemaType(timeType).
			Default(func() time.Time { return time.Now().UTC() }).
			Immutable(),
		// Set by markNotificationsRead (ROOM_READ is stored read).
		optionalTime("read_at"),
	}
}

// Edges of Notification.
func (Notification) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
		edge.To("room", Room.Type).Field("room_id").Unique().Immutable(),
		edge.To("message", Message.Type).Field("message_id").Unique().Immutable(),
		edge.To("actor", User.Type).Field("actor_id").Unique().Immutable(),
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
