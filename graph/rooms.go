package graph

import (
	"context"

	"entgo.io/contrib/entgql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/viewer"
)

// pageUsers pages a list of users by nickname.
func pageUsers(ctx context.Context, q *ent.UserQuery, first *int, after *ent.Cursor) (*ent.UserConnection, error) {
	n, err := pageSize("first", first)
	if err != nil {
		return nil, err
	}
	conn, err := q.Paginate(ctx, after, &n, nil, nil, ent.WithUserOrder(&ent.UserOrder{
		Field: ent.UserOrderFieldNickname, Direction: entgql.OrderDirectionAsc,
	}))
	if err != nil {
		return nil, err
	}
	return conn, prefetchUsers(ctx, conn, false)
}

// prefetchUsers loads, in one query each, the viewer-dependent fields the
// operation asks of the users of a page (friendship, blocked unless the
// caller knows them all blocked), so the page costs the same statements
// whatever its size.
func prefetchUsers(ctx context.Context, conn *ent.UserConnection, allBlocked bool) error {
	if len(conn.Edges) == 0 {
		return nil
	}
	ids := make([]int, len(conn.Edges))
	for i, e := range conn.Edges {
		ids[i] = e.Node.ID
	}
	fields, l := nodeFields(ctx), loadersOf(ctx)
	if fields["friendship"] {
		if err := l.friendship.prime(ctx, ids); err != nil {
			return err
		}
	}
	switch {
	case allBlocked:
		for _, id := range ids {
			l.blocked.Prime(id, true) // known: no query
		}
	case fields["blocked"]:
		return l.blocked.prime(ctx, ids)
	}
	return nil
}

// prefetchRooms loads, in one query each, what the operation asks of the
// rooms of a page and primes the loaders with it, so the page costs the
// same statements whatever its size and however busy the machine is.
func prefetchRooms(ctx context.Context, conn *ent.RoomConnection) error {
	v, ok := viewer.FromContext(ctx)
	if len(conn.Edges) == 0 || !ok {
		return nil
	}
	ids := make([]int, len(conn.Edges))
	var partners []int
	seen := map[int]bool{}
	for i, e := range conn.Edges {
		ids[i] = e.Node.ID
		if p, ok := chat.DirectPartner(e.Node, v.UserID); ok && !seen[p] {
			seen[p] = true
			partners = append(partners, p)
		}
	}
	fields := nodeFields(ctx)
	l := loadersOf(ctx)
	if fields["members"] || fields["name"] {
		if err := l.members.prime(ctx, ids); err != nil {
			return err
		}
	}
	if fields["name"] && len(partners) > 0 {
		if err := l.users.prime(ctx, partners); err != nil {
			return err
		}
	}
	if fields["lastMessage"] {
		if err := l.lastMessage.prime(ctx, ids); err != nil {
			return err
		}
	}
	if fields["unreadCount"] {
		if err := l.unread.prime(ctx, ids); err != nil {
			return err
		}
	}
	if fields["readReceipts"] {
		if err := l.receipts.prime(ctx, ids); err != nil {
			return err
		}
	}
	return nil
}

// roomName is what the viewer sees the room called (chat.RoomName), loaded
// through the operation's batching loaders.
func roomName(ctx context.Context, r *ent.Room, viewerID int) (string, error) {
	if nameDependsOnViewer(r) {
		viewerDependent(ctx)
	}
	l := loadersOf(ctx)
	return chat.RoomName(ctx, r, viewerID, chat.RoomLookup{User: l.users.Load, Members: l.members.Load})
}

// messagePage turns a message connection's arguments into page sizes:
// without first or last, the newest DefaultPageSize (or the next ones
// after a cursor).
func messagePage(first *int, after *ent.Cursor, last *int, before *ent.Cursor) (*int, *int, error) {
	switch {
	case first != nil && last != nil:
		return nil, nil, apperr.Input("first", "give first or last, not both")
	case first != nil || (after != nil && before == nil && last == nil):
		n, err := pageSize("first", first)
		return &n, nil, err
	}
	n, err := pageSize("last", last)
	return nil, &n, err
}
