package graph

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"entgo.io/contrib/entgql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

// pageUsers pages a list of users by nickname.
func pageUsers(ctx context.Context, q *ent.UserQuery, first *int, after *ent.Cursor) (*ent.UserConnection, error) {
	n, err := pageSize("first", first)
	if err != nil {
		return nil, err
	}
	return q.Paginate(ctx, after, &n, nil, nil, ent.WithUserOrder(&ent.UserOrder{
		Field: ent.UserOrderFieldNickname, Direction: entgql.OrderDirectionAsc,
	}))
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
		if p, ok := partner(e.Node, v.UserID); ok && !seen[p] {
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
	return nil
}

// partner is the other user of a direct room, read off its pair key.
func partner(r *ent.Room, viewerID int) (int, bool) {
	if r.Kind != room.KindDIRECT || r.DirectKey == nil {
		return 0, false
	}
	a, b, _ := strings.Cut(*r.DirectKey, ":")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	if lo == viewerID {
		return hi, true
	}
	return lo, true
}

// roomName is a group's name; for a direct room the other member's
// nickname (also after they left); for a group without a name, the
// nicknames of its first members.
func roomName(ctx context.Context, r *ent.Room, viewerID int) (string, error) {
	if r.Kind == room.KindGROUP && r.Name != nil {
		return *r.Name, nil
	}
	l := loadersOf(ctx)
	if p, ok := partner(r, viewerID); ok {
		u, err := l.users.Load(ctx, p)
		if err != nil || u == nil {
			return "", err
		}
		return u.Nickname, nil
	}
	members, err := l.members.Load(ctx, r.ID)
	if err != nil {
		return "", err
	}
	var names []string
	for _, m := range members {
		if m.ID != viewerID {
			names = append(names, m.Nickname)
		}
	}
	switch {
	case len(names) == 0:
		return "(no other members)", nil
	case len(names) > 3:
		return fmt.Sprintf("%s and %d more", strings.Join(names[:3], ", "), len(names)-3), nil
	}
	return strings.Join(names, ", "), nil
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
