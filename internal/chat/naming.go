package chat

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/room"
)

// pairKey is the order-independent key of a pair of users, "lo:hi": a
// friendship's key and a direct room's DirectKey.
func pairKey(a, b int) string {
	if a > b {
		a, b = b, a
	}
	return strconv.Itoa(a) + ":" + strconv.Itoa(b)
}

// splitPairKey reads the two user ids of a pair key.
func splitPairKey(key string) (lo, hi int, ok bool) {
	a, b, found := strings.Cut(key, ":")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	return lo, hi, found && err1 == nil && err2 == nil
}

// DirectPartner is the other user of a direct room, as seen by viewerID,
// read off the room's pair key (it stays after either of them leaves).
func DirectPartner(r *ent.Room, viewerID int) (int, bool) {
	if r.Kind != room.KindDIRECT || r.DirectKey == nil {
		return 0, false
	}
	lo, hi, ok := splitPairKey(*r.DirectKey)
	switch {
	case !ok:
		return 0, false
	case lo == viewerID:
		return hi, true
	}
	return lo, true
}

// RoomLookup loads what naming a room needs (the GraphQL layer passes its
// batching loaders, so a page of rooms costs one query each).
type RoomLookup struct {
	User    func(ctx context.Context, id int) (*ent.User, error)
	Members func(ctx context.Context, roomID int) ([]*ent.User, error)
}

// roomNameMembers is how many members a group without a name is called by.
const roomNameMembers = 3

// RoomName is what viewerID sees a room called: a group's name; for a
// direct room the other user's nickname (also after they left); for a group
// without a name, the nicknames of its first other members ("A, B, C and 2
// more"), or "(no other members)".
func RoomName(ctx context.Context, r *ent.Room, viewerID int, look RoomLookup) (string, error) {
	if r.Kind == room.KindGROUP && r.Name != nil {
		return *r.Name, nil
	}
	if p, ok := DirectPartner(r, viewerID); ok {
		u, err := look.User(ctx, p)
		if err != nil || u == nil {
			return "", err
		}
		return u.Nickname, nil
	}
	members, err := look.Members(ctx, r.ID)
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
	case len(names) > roomNameMembers:
		return fmt.Sprintf("%s and %d more", strings.Join(names[:roomNameMembers], ", "), len(names)-roomNameMembers), nil
	}
	return strings.Join(names, ", "), nil
}
