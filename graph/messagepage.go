package graph

import (
	"context"

	"github.com/chatty/chatty/ent"
)

// prefetchMessages loads, in one query each, what the operation asks of
// the messages of a page beyond their own columns (the messages they
// answer, their reactions) and primes the loaders with it, so a page costs
// the same statements whatever its size.
func prefetchMessages(ctx context.Context, conn *ent.MessageConnection) error {
	if conn == nil || len(conn.Edges) == 0 {
		return nil
	}
	fields := nodeFields(ctx)
	l := loadersOf(ctx)
	if fields["replyTo"] {
		var targets []int
		seen := map[int]bool{}
		for _, e := range conn.Edges {
			if id := e.Node.ReplyToID; id != nil && !seen[*id] {
				seen[*id] = true
				targets = append(targets, *id)
			}
		}
		if err := l.repliedTo.prime(ctx, targets); err != nil {
			return err
		}
	}
	if fields["reactions"] {
		ids := make([]int, len(conn.Edges))
		for i, e := range conn.Edges {
			ids[i] = e.Node.ID
		}
		if err := l.reactions.prime(ctx, ids); err != nil {
			return err
		}
	}
	return nil
}
