package chat

import (
	"context"
	"fmt"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

// MaxNodes caps how many ids one nodes(ids:) call may ask for.
const MaxNodes = 100

// Nodes resolves global ids for node(id:) and nodes(ids:) as the viewer may
// see them: the result has one entry per id, nil where the id names nothing
// the viewer may see. IDs are unique across types, so each type is asked
// for the whole list once: a bounded number of queries whatever the count.
//
// Visible now: live (not deleted) users. Rooms, messages and attachments
// join with their membership checks.
func (s *Service) Nodes(ctx context.Context, _ viewer.Viewer, ids []int) ([]ent.Noder, error) {
	if len(ids) > MaxNodes {
		return nil, apperr.Input("ids", "ask for at most %d ids at once", MaxNodes)
	}
	found := make(map[int]ent.Noder, len(ids))
	users, err := s.db.User.Query().Where(user.IDIn(ids...), user.DeletedAtIsNil()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load user nodes: %w", err)
	}
	for _, u := range users {
		found[u.ID] = u
	}
	out := make([]ent.Noder, len(ids))
	for i, id := range ids {
		out[i] = found[id] // nil when not found or not visible
	}
	return out, nil
}
