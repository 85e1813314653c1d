package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Attachment is an uploaded file: the file of an IMAGE or FILE message, or a
// user's avatar. The bytes live in upload storage under storage_key.
type Attachment struct{ ent.Schema }

// Mixin of Attachment.
func (Attachment) Mixin() []ent.Mixin { return []ent.Mixin{CreateTime{}} }

// Fields of Attachment.
func (Attachment) Fields() []ent.Field {
	return []ent.Field{
		field.Int("uploader_id").Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		// The name the uploader gave, unicode kept.
		field.String("filename").MaxLen(1020).Immutable(),
		// Detected from the bytes.
		field.String("content_type").MaxLen(255).Immutable(),
		field.Int64("size").Immutable(),
		// SHA-256 of the bytes, hex.
		field.String("sha256").MaxLen(64).Immutable().
			Annotations(entgql.Skip()),
		field.String("storage_key").MaxLen(255).Immutable().Sensitive().
			Annotations(entgql.Skip()),
		field.String("thumbnail_key").MaxLen(255).Optional().Nillable().Sensitive().
			Annotations(entgql.Skip()),
		field.Int("width").Optional().Nillable(),
		field.Int("height").Optional().Nillable(),
	}
}

// Edges of Attachment.
func (Attachment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("uploader", User.Type).Ref("uploads").
			Field("uploader_id").Unique().Immutable().
			Annotations(entgql.Skip()),
		edge.To("message", Message.Type).Unique().
			Annotations(entgql.Skip()),
	}
}

// Indexes of Attachment.
func (Attachment) Indexes() []ent.Index {
	return []ent.Index{
		// A user's stored bytes are summed for the upload quota.
		index.Fields("uploader_id"),
	}
}
