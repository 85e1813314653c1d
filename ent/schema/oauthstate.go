package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// OAuthState is a sign-in at a provider that has started and not yet come
// back: completeOAuth must present its state, once, before it expires.
type OAuthState struct{ ent.Schema }

// Mixin of OAuthState.
func (OAuthState) Mixin() []ent.Mixin { return []ent.Mixin{CreateTime{}} }

// Fields of OAuthState.
func (OAuthState) Fields() []ent.Field {
	return []ent.Field{
		// SHA-256 of the state handed to the browser, hex.
		field.String("state_hash").MaxLen(64).NotEmpty().Immutable().Sensitive(),
		field.Enum("provider").Values("GOOGLE", "NAVER", "KAKAO").Immutable(),
		field.String("redirect_uri").MaxLen(2000).Immutable(),
		// The PKCE code verifier sent with the code exchange.
		field.String("code_verifier").MaxLen(128).Immutable().Sensitive(),
		field.Time("expires_at").SchemaType(timeType).Immutable(),
	}
}

// Indexes of OAuthState.
func (OAuthState) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("state_hash").Unique(),
		index.Fields("expires_at"),
	}
}

// Annotations of OAuthState.
func (OAuthState) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip()}
}
