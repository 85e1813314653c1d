package database

import (
	"context"
	"fmt"
)

// fillUnreadCounters gives the unread counters (rooms.message_count,
// memberships.sent_count and read_count; their meaning is in
// internal/chat/unread.go) of a database from before them their true
// values. The migration adds them as null columns, and every new row gets
// 0 from the code, so null means "not counted yet": each statement counts
// only those, so running it again (every start does) changes nothing, and
// instances starting together compute the same numbers. A send to a room
// whose counter is still null leaves it null (null + 1), so nothing is
// counted twice.
func (d *DB) fillUnreadCounters(ctx context.Context) error {
	for _, q := range []string{
		`UPDATE rooms SET message_count = (SELECT COUNT(*) FROM messages msg
  WHERE msg.room_id = rooms.id AND msg.kind <> 'SYSTEM' AND msg.deleted_at IS NULL)
WHERE message_count IS NULL`,
		// read_count: the others' counting messages up to the read
		// marker or the join, whichever is later.
		`UPDATE memberships SET
  sent_count = (SELECT COUNT(*) FROM messages msg
    WHERE msg.room_id = memberships.room_id AND msg.kind <> 'SYSTEM' AND msg.deleted_at IS NULL AND msg.sender_id = memberships.user_id),
  read_count = (SELECT COUNT(*) FROM messages msg
    WHERE msg.room_id = memberships.room_id AND msg.kind <> 'SYSTEM' AND msg.deleted_at IS NULL AND msg.sender_id <> memberships.user_id
      AND (msg.seq <= memberships.last_read_seq OR msg.seq <= memberships.joined_seq))
WHERE sent_count IS NULL OR read_count IS NULL`,
	} {
		if _, err := d.SQL.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("fill unread counters: %w", err)
		}
	}
	return nil
}
