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

// Membership is a user's place in a room: when they joined, when they left
// (null while they are a member) and how far they have read.
type Membership struct{ ent.Schema }

// Fields of Membership.
func (Membership) Fields() []ent.Field {
	return []ent.Field{
		field.Int("room_id").Immutable(),
		field.Int("user_id").Immutable(),
		field.Time("joined_at").
			SchemaType(timeType).
			Default(func() time.Time { return time.Now().UTC() }),
		optionalTime("left_at"),
		// The seq the member joined after: what came before is not theirs.
		field.Int64("joined_seq").Default(0),
		// The seq of the newest message the member has read.
		field.Int64("last_read_seq").Default(0),
		// When the read marker last moved forward (null: never, or before
		// read receipts were recorded).
		optionalTime("last_read_at"),
		// The unread counters (see internal/chat/unread.go): the member's
		// unread count is the room's message_count - sent_count - read_count.
		// sent_count: the member's own messages in the room that count
		// (not SYSTEM); read_count: the others' messages that count but are
		// not unread for the member (read, or from before they joined).
		// Null only in a database from before the counters, until
		// database.Migrate fills them in; never null in a new row.
		field.Int64("sent_count").Optional().Nillable().
			DefaultFunc(func() int64 { return 0 }),
		field.Int64("read_count").Optional().Nillable().
			DefaultFunc(func() int64 { return 0 }),
	}
}

// Edges of Membership.
func (Membership) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("room", Room.Type).Ref("memberships").
			Field("room_id").Unique().Required().Immutable(),
		edge.From("user", User.Type).Ref("memberships").
			Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of Membership.
func (Membership) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("room_id", "user_id").Unique(),
		index.Fields("user_id", "left_at"),
	}
}

// Annotations of Membership.
func (Membership) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
