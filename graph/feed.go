package graph

import (
	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/chat"
)

// A room events cursor is the room's id and a revision of its change feed
// (entgql's cursor form, opaque to clients and checked by
// scalar.UnmarshalCursor). IDs are unique across types, so a cursor of a
// message page (a message's id) is never taken for one of a room.

func feedCursor(roomID int, revision int64) *ent.Cursor {
	return &ent.Cursor{ID: roomID, Value: revision}
}

var errNotFeedCursor = chat.ErrBadFeedCursor

// feedRevision reads the revision of a cursor of room roomID's events.
func feedRevision(roomID int, c *ent.Cursor) (int64, error) {
	if c.ID != roomID {
		return 0, errNotFeedCursor
	}
	var rev int64
	switch v := c.Value.(type) {
	case nil: // revision 0: the cursor leaves out a zero value
	case int8:
		rev = int64(v)
	case int16:
		rev = int64(v)
	case int32:
		rev = int64(v)
	case int64:
		rev = v
	case int:
		rev = int64(v)
	case uint8:
		rev = int64(v)
	case uint16:
		rev = int64(v)
	case uint32:
		rev = int64(v)
	case uint64:
		if v > 1<<62 {
			return 0, errNotFeedCursor
		}
		rev = int64(v)
	default:
		return 0, errNotFeedCursor
	}
	if rev < 0 {
		return 0, errNotFeedCursor
	}
	return rev, nil
}
