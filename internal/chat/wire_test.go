package chat

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// A notification spliced from the shared encoding of a message's
// notifications (noteJSON) reads as the one encoded for its recipient
// alone: the same id, total (or none), room, message, actor and times.
func TestNoteJSON(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 4, 5, 6000, time.UTC)
	name, sender, rev := "room", 7, int64(12)
	read := at.Add(time.Minute)
	for _, e := range []userEvent{
		{ID: 41, Kind: NotifyNewMessage, TotalUnread: new(3), CreatedAt: at,
			Room:    &wireRoom{ID: 2, Kind: "GROUP", Name: &name, LastSeq: 9, Revision: rev, CreatedAt: at, UpdatedAt: at},
			Message: &wireMessage{ID: 5, RoomID: 2, SenderID: &sender, Kind: "TEXT", Body: `"quoted" <b> & ünïcode`, Seq: 9, CreatedAt: at, Revision: &rev, Reactions: []wireReaction{}},
			Actor:   &wireUser{ID: sender, Nickname: "ann", CreatedAt: at}},
		{ID: 1, Kind: NotifyNewMessage, TotalUnread: new(0), CreatedAt: at}, // a total of 0
		{ID: 2, Kind: NotifyNewMessage, CreatedAt: at},                      // no total: its user was offline
		{ID: 1 << 40, Kind: NotifyRoomRead, TotalUnread: new(1 << 20), CreatedAt: at, ReadAt: &read},
	} {
		alone, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		shared := e
		shared.ID, shared.TotalUnread = 0, nil
		common, err := json.Marshal(shared)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeNotification(alone)
		if err != nil {
			t.Fatal(err)
		}
		spliced := noteJSON(common, e.ID, e.TotalUnread)
		got, err := decodeNotification(spliced)
		if err != nil {
			t.Fatalf("%s: %v", spliced, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("spliced %s\nreads %+v\nwant %+v (from %s)", spliced, got, want, alone)
		}
	}
}
