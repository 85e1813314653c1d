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

// Reaction is one user's emoji on one message. GraphQL shows them grouped
// by emoji (graph/reactions.graphqls), so the entity itself is not exposed.
type Reaction struct{ ent.Schema }

// Fields of Reaction.
func (Reaction) Fields() []ent.Field {
	return []ent.Field{
		field.Int("message_id").Immutable(),
		field.Int("user_id").Immutable(),
		// One grapheme cluster, at most 16 bytes (checked by the domain).
		field.String("emoji").MaxLen(16).NotEmpty().Immutable(),
		field.Time("created_at").
			SchemaType(timeType).
			Default(func() time.Time { return time.Now().UTC() }).
			Immutable(),
	}
}

// Edges of Reaction.
func (Reaction) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("message", Message.Type).Field("message_id").Unique().Required().Immutable(),
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of Reaction.
func (Reaction) Indexes() []ent.Index {
	return []ent.Index{
		// Idempotent per user and emoji; also serves the per-message reads.
		index.Fields("message_id", "emoji", "user_id").Unique(),
	}
}

// Annotations of Reaction.
func (Reaction) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
