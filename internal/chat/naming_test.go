package chat

import (
	"context"
	"testing"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/room"
)

func TestRoomName(t *testing.T) {
	users := map[int]*ent.User{}
	for id, nick := range map[int]string{1: "나", 2: "민수", 3: "지영", 4: "Ann", 5: "Bo", 6: "Cy"} {
		users[id] = &ent.User{ID: id, Nickname: nick}
	}
	members := map[int][]int{10: {1, 2, 3}, 11: {1, 2, 3, 4, 5, 6}, 12: {1}, 13: {1, 2}}
	look := RoomLookup{
		User: func(_ context.Context, id int) (*ent.User, error) { return users[id], nil },
		Members: func(_ context.Context, roomID int) ([]*ent.User, error) {
			var out []*ent.User
			for _, id := range members[roomID] {
				out = append(out, users[id])
			}
			return out, nil
		},
	}
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name   string
		room   *ent.Room
		viewer int
		want   string
	}{
		{"named group", &ent.Room{ID: 10, Kind: room.KindGROUP, Name: str("스터디")}, 1, "스터디"},
		{"unnamed group", &ent.Room{ID: 10, Kind: room.KindGROUP}, 1, "민수, 지영"},
		{"unnamed group seen by another member", &ent.Room{ID: 10, Kind: room.KindGROUP}, 3, "나, 민수"},
		{"unnamed big group", &ent.Room{ID: 11, Kind: room.KindGROUP}, 1, "민수, 지영, Ann and 2 more"},
		{"alone", &ent.Room{ID: 12, Kind: room.KindGROUP}, 1, "(no other members)"},
		{"direct, lower id viewing", &ent.Room{ID: 13, Kind: room.KindDIRECT, DirectKey: str(pairKey(2, 1))}, 1, "민수"},
		{"direct, higher id viewing", &ent.Room{ID: 13, Kind: room.KindDIRECT, DirectKey: str(pairKey(1, 2))}, 2, "나"},
		// The partner left: the key still names them.
		{"direct after the partner left", &ent.Room{ID: 12, Kind: room.KindDIRECT, DirectKey: str(pairKey(1, 6))}, 1, "Cy"},
	} {
		got, err := RoomName(context.Background(), tc.room, tc.viewer, look)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestPairKey(t *testing.T) {
	if pairKey(7, 3) != "3:7" || pairKey(3, 7) != "3:7" {
		t.Fatalf("pairKey(7, 3) = %q, pairKey(3, 7) = %q; want 3:7 both", pairKey(7, 3), pairKey(3, 7))
	}
	for _, tc := range []struct {
		key    string
		viewer int
		want   int
		ok     bool
	}{{"3:7", 3, 7, true}, {"3:7", 7, 3, true}, {"3-7", 3, 0, false}, {"x:7", 7, 0, false}, {"", 1, 0, false}} {
		got, ok := DirectPartner(&ent.Room{Kind: room.KindDIRECT, DirectKey: &tc.key}, tc.viewer)
		if got != tc.want || ok != tc.ok {
			t.Errorf("DirectPartner(%q, %d) = %d, %v; want %d, %v", tc.key, tc.viewer, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := DirectPartner(&ent.Room{Kind: room.KindGROUP}, 1); ok {
		t.Error("a group has a direct partner")
	}
}
