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

// User is an account. Deleting an account is a soft delete: the row stays so
// that its messages keep their place, but everything personal is cleared.
type User struct{ ent.Schema }

// Mixin of User.
func (User) Mixin() []ent.Mixin { return []ent.Mixin{CreateTime{}} }

// Fields of User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		// Normalised (trimmed, lower-case); null for OAuth accounts without
		// one and for deleted accounts. The viewer's own only: see graph.
		field.String("email").
			MaxLen(254).
			Optional().
			Nillable().
			Annotations(entgql.Skip()),
		field.String("password_hash").
			Optional().
			Nillable().
			Sensitive().
			Annotations(entgql.Skip()),
		field.String("nickname").
			MaxLen(120). // 30 characters are validated in the domain; this is bytes of UTF-8 headroom.
			Annotations(entgql.OrderField("NICKNAME")),
		field.String("bio").
			MaxLen(2000).
			Optional().
			Nillable(),
		// The profile image (an Attachment of no message).
		field.Int("avatar_id").
			Optional().
			Nillable().
			Annotations(entgql.Skip()),
		field.Time("last_seen_at").
			SchemaType(timeType).
			Optional().
			Nillable(),
		field.Time("updated_at").
			SchemaType(timeType).
			Default(func() time.Time { return time.Now().UTC() }).
			UpdateDefault(func() time.Time { return time.Now().UTC() }).
			Annotations(entgql.Skip()),
		field.Time("deleted_at").
			SchemaType(timeType).
			Optional().
			Nillable().
			Annotations(entgql.Skip()),
	}
}

// Edges of User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("identities", Identity.Type).
			Annotations(entgql.Skip()),
		edge.To("sessions", Session.Type).
			Annotations(entgql.Skip()),
		edge.To("memberships", Membership.Type).
			Annotations(entgql.Skip()),
		edge.To("messages", Message.Type).
			Annotations(entgql.Skip()),
		edge.To("friendships_sent", Friendship.Type).
			Annotations(entgql.Skip()),
		edge.To("friendships_received", Friendship.Type).
			Annotations(entgql.Skip()),
		edge.To("uploads", Attachment.Type).
			Annotations(entgql.Skip()),
		// Users this one blocked, and who blocked this one.
		edge.To("blocks", Block.Type).
			Annotations(entgql.Skip()),
		edge.To("blocked_by", Block.Type).
			Annotations(entgql.Skip()),
		// The profile image: an Attachment that belongs to no message.
		edge.To("avatar", Attachment.Type).
			Field("avatar_id").
			Unique().
			Annotations(entgql.Skip()),
	}
}

// Indexes of User.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("email").Unique(),
		index.Fields("nickname"),
	}
}

// Annotations of User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}
