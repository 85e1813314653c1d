package chat

import (
	"reflect"
	"testing"
)

// The members read of the send script comes unsorted, a row per member
// and batch sender it blocks (one if none): grouped, each member once, in
// id order, with every sender it blocks.
func TestGroupMembers(t *testing.T) {
	rows := []member{
		{userID: 7, blocking: []int{3}},
		{userID: 2},
		{userID: 9},
		{userID: 7, blocking: []int{5}},
		{userID: 3},
	}
	var got [][2]any
	for _, m := range groupMembers(rows) {
		got = append(got, [2]any{m.userID, m.blocking})
	}
	want := [][2]any{{2, []int(nil)}, {3, []int(nil)}, {7, []int{3, 5}}, {9, []int(nil)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("grouped %v, want %v", got, want)
	}
}
