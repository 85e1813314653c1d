package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Block is one user (the blocker) blocking another: while it holds, the
// blocked user can't send the blocker friend requests nor reach them in a
// direct room, and the blocker hears nothing the blocked user causes. Two
// users may each block the other: two rows.
type Block struct{ ent.Schema }

// Mixin of Block.
func (Block) Mixin() []ent.Mixin { return []ent.Mixin{CreateTime{}} }

// Fields of Block.
func (Block) Fields() []ent.Field {
	return []ent.Field{
		field.Int("blocker_id").Immutable(),
		field.Int("blocked_id").Immutable(),
		// "<low id>:<high id>" of the pair, whichever side blocked: the same
		// key as their direct room's direct_key, so "is this direct room
		// blocked" is one indexed lookup.
		field.String("pair_key").MaxLen(64).NotEmpty().Immutable(),
	}
}

// Edges of Block.
func (Block) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("blocker", User.Type).Ref("blocks").
			Field("blocker_id").Unique().Required().Immutable(),
		edge.From("blocked", User.Type).Ref("blocked_by").
			Field("blocked_id").Unique().Required().Immutable(),
	}
}

// Indexes of Block.
func (Block) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("blocker_id", "blocked_id").Unique(),
		index.Fields("pair_key"),
	}
}

// Annotations of Block.
func (Block) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
