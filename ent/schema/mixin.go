// Package schema holds chatty's data model: one file per entity, GraphQL
// exposure declared by entgql annotations.
package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// timeType stores times with microseconds on MySQL/MariaDB; ent's default
// there is `timestamp` (whole seconds, nothing after 2038).
var timeType = map[string]string{dialect.MySQL: "datetime(6)"}

// timeField is a time column with the precision chatty needs on every backend.
func timeField(name string) ent.Field {
	return field.Time(name).SchemaType(timeType)
}

// optionalTime is a nullable time column.
func optionalTime(name string) ent.Field {
	return field.Time(name).SchemaType(timeType).Optional().Nillable()
}

// CreateTime records when a row was created; exposed as createdAt.
type CreateTime struct{ mixin.Schema }

// Fields of the CreateTime mixin.
func (CreateTime) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").
			SchemaType(timeType).
			Default(func() time.Time { return time.Now().UTC() }).
			Immutable(),
	}
}
