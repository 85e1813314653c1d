package database

import (
	"context"
	"fmt"
)

// Data upgrades: what a new column needs filled in for the rows written
// before it existed. Each runs on every Migrate, touches only rows still
// missing the value, and is one statement, so running it again (or on a
// database that never needed it) costs one indexed-or-small scan.

// upgrades run in order after the schema is migrated.
var upgrades = []struct {
	name string
	sql  string
}{
	{
		// Groups from before room owners: the creator was the first member
		// written (CreateRoom adds the creator first, all with one
		// joined_at), so the longest-standing current member with a live
		// account — earliest joined_at, then the oldest membership row — is
		// the creator while they are still in the group, and otherwise the
		// member who would have inherited it.
		name: "owners of existing groups",
		sql: `UPDATE rooms SET owner_id = (
			SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE m.room_id = rooms.id AND m.left_at IS NULL AND u.deleted_at IS NULL
			ORDER BY m.joined_at, m.id LIMIT 1)
		WHERE kind = 'GROUP' AND owner_id IS NULL`,
	},
}

// upgrade runs the data upgrades.
func (d *DB) upgrade(ctx context.Context) error {
	for _, u := range upgrades {
		if _, err := d.SQL.ExecContext(ctx, u.sql); err != nil {
			return fmt.Errorf("upgrade %s: %w", u.name, err)
		}
	}
	return nil
}
