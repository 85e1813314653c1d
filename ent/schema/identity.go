package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Identity links a user to an account at an OAuth provider.
type Identity struct{ ent.Schema }

// Mixin of Identity.
func (Identity) Mixin() []ent.Mixin { return []ent.Mixin{CreateTime{}} }

// Fields of Identity.
func (Identity) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("provider").Values("GOOGLE", "NAVER", "KAKAO").Immutable(),
		// The provider's stable user id ("sub" for Google).
		field.String("subject").MaxLen(255).NotEmpty().Immutable(),
		// What the provider said the email was, for the record.
		field.String("email").MaxLen(254).Optional().Nillable(),
	}
}

// Edges of Identity.
func (Identity) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("identities").Unique().Required(),
	}
}

// Indexes of Identity.
func (Identity) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("provider", "subject").Unique(),
	}
}

// Annotations of Identity.
func (Identity) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
