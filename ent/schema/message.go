package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Message is one post in a room, at a position (seq) unique in the room.
type Message struct{ ent.Schema }

// Mixin of Message.
func (Message) Mixin() []ent.Mixin { return []ent.Mixin{CreateTime{}} }

// Fields of Message.
func (Message) Fields() []ent.Field {
	return []ent.Field{
		field.Int("room_id").Immutable().
			Annotations(entgql.Skip()),
		// Null for SYSTEM messages.
		field.Int("sender_id").Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		// Cleared when the message is deleted (the attachment goes with it).
		field.Int("attachment_id").Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Enum("kind").Values("TEXT", "IMAGE", "FILE", "SYSTEM").Immutable(),
		// Edited by the sender; "" once the message is deleted.
		field.Text("body"),
		field.Int64("seq").Immutable().
			Annotations(entgql.OrderField("SEQ")),
		// The sender's idempotency key (64 characters; the length is in bytes of UTF-8).
		field.String("client_id").MaxLen(256).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()), // exposed as clientId by graph/chat.graphqls
		// The message of the same room this one answers (graph/replies.graphqls
		// exposes it as replyTo, checked and batched by the domain).
		field.Int("reply_to_id").Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		optionalTime("edited_at"),
		optionalTime("deleted_at"),
		// The room's change feed: the revision of the latest stored change
		// to this message (rooms.revision at that change) and what it was.
		// Replaying a room from a revision is one range scan of
		// (room_id, revision). Null only on rows stored before the feed
		// existed, until database.Migrate backfills them.
		field.Int64("revision").Optional().Nillable().
			Annotations(entgql.Skip()),
		field.Enum("last_change").Values("ADDED", "EDITED", "DELETED", "REACTIONS_CHANGED").Default("ADDED").
			Annotations(entgql.Skip()),
	}
}

// Edges of Message.
func (Message) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("room", Room.Type).Ref("messages").
			Field("room_id").Unique().Required().Immutable().
			Annotations(entgql.Skip()),
		edge.From("sender", User.Type).Ref("messages").
			Field("sender_id").Unique().Immutable().
			Annotations(entgql.Skip()),
		edge.From("attachment", Attachment.Type).Ref("message").
			Field("attachment_id").Unique().
			Annotations(entgql.Skip()),
		edge.To("replies", Message.Type).
			Annotations(entgql.Skip()).
			From("reply_to").Field("reply_to_id").Unique().Immutable().
			Annotations(entgql.Skip()),
	}
}

// Indexes of Message.
func (Message) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("room_id", "seq").Unique(),
		index.Fields("room_id", "sender_id", "client_id").Unique(),
		index.Fields("room_id", "revision").Unique(),
	}
}

// Annotations of Message.
func (Message) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
