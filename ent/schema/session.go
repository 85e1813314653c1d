package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Session is one sign-in: a family of refresh tokens, each used once. When a
// spent token of the family is presented again the whole family is revoked.
type Session struct{ ent.Schema }

// Mixin of Session.
func (Session) Mixin() []ent.Mixin { return []ent.Mixin{CreateTime{}} }

// Fields of Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		timeField("expires_at"),
		optionalTime("last_used_at"),
		optionalTime("revoked_at"),
		field.String("user_agent").MaxLen(255).Optional(),
		field.String("client_ip").MaxLen(64).Optional(),
	}
}

// Edges of Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("sessions").Unique().Required(),
		edge.To("tokens", RefreshToken.Type),
	}
}

// Annotations of Session.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
