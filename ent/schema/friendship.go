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

// Friendship is a request from one user to another, and once accepted, the
// friendship itself. There is at most one row per pair of users, whichever
// side asked: pair_key ("<low id>:<high id>") is unique.
type Friendship struct{ ent.Schema }

// Mixin of Friendship.
func (Friendship) Mixin() []ent.Mixin { return []ent.Mixin{CreateTime{}} }

// Fields of Friendship.
func (Friendship) Fields() []ent.Field {
	return []ent.Field{
		field.Int("requester_id").Immutable(),
		field.Int("addressee_id").Immutable(),
		field.String("pair_key").MaxLen(64).NotEmpty().Immutable(),
		field.Enum("state").Values("PENDING", "ACCEPTED").Default("PENDING"),
		field.Time("updated_at").
			SchemaType(timeType).
			Default(func() time.Time { return time.Now().UTC() }).
			UpdateDefault(func() time.Time { return time.Now().UTC() }),
	}
}

// Edges of Friendship.
func (Friendship) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("requester", User.Type).Ref("friendships_sent").
			Field("requester_id").Unique().Required().Immutable(),
		edge.From("addressee", User.Type).Ref("friendships_received").
			Field("addressee_id").Unique().Required().Immutable(),
	}
}

// Indexes of Friendship.
func (Friendship) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("pair_key").Unique(),
		index.Fields("addressee_id", "state"),
		index.Fields("requester_id", "state"),
	}
}

// Annotations of Friendship.
func (Friendship) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
