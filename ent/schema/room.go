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

// Room is where messages are posted: DIRECT (exactly one per pair of users)
// or GROUP.
type Room struct{ ent.Schema }

// Mixin of Room.
func (Room) Mixin() []ent.Mixin { return []ent.Mixin{CreateTime{}} }

// Fields of Room.
func (Room) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("DIRECT", "GROUP").Immutable(),
		// Group name; the name of a direct room is computed per viewer.
		field.String("name").MaxLen(400).Optional().Nillable().
			Annotations(entgql.Skip()),
		// "<low user id>:<high user id>" for DIRECT rooms, so a pair can have
		// only one; null for groups.
		field.String("direct_key").MaxLen(64).Optional().Nillable().Immutable().
			Annotations(entgql.Skip()),
		// The seq of the newest message. Bumped in the sending transaction,
		// which serialises concurrent senders on the room row.
		field.Int64("last_seq").Default(0).
			Annotations(entgql.Skip()),
		// The OWNER of a GROUP room: its creator, then the longest-standing
		// remaining member when the owner leaves; null for DIRECT rooms and
		// for groups nobody is left in. database.Migrate fills it for groups
		// from before owners existed.
		field.Int("owner_id").Optional().Nillable().
			Annotations(entgql.Skip()),
		// The messages that count as unread for someone (all but SYSTEM
		// ones), bumped with last_seq; see Membership's sent_count and
		// read_count. Null only in a database from before the counter,
		// until database.Migrate fills it in; never null in a new row (a
		// function default, so that adding the column leaves old rows null).
		field.Int64("message_count").Optional().Nillable().
			DefaultFunc(func() int64 { return 0 }).
			Annotations(entgql.Skip()),
		// The revision of the room's latest stored change to a message
		// (added, edited, deleted, reactions changed): bumped by one per
		// change, under the room's lock, in the changing transaction.
		field.Int64("revision").Default(0).
			Annotations(entgql.Skip()),
		// Time of the last message or membership change.
		field.Time("updated_at").
			SchemaType(timeType).
			Default(func() time.Time { return time.Now().UTC() }).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}

// Edges of Room.
func (Room) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("memberships", Membership.Type).
			Annotations(entgql.Skip()),
		edge.To("messages", Message.Type).
			Annotations(entgql.Skip()),
	}
}

// Indexes of Room.
func (Room) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("direct_key").Unique(),
		index.Fields("updated_at"),
	}
}

// Annotations of Room.
func (Room) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
