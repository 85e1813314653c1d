package chat

import (
	"io"
	"strconv"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/apperr"
)

// NotificationKind says what a notification is about.
type NotificationKind string

// The kinds of notification.
const (
	NotifyNewMessage     NotificationKind = "NEW_MESSAGE"
	NotifyFriendRequest  NotificationKind = "FRIEND_REQUEST"
	NotifyFriendAccepted NotificationKind = "FRIEND_ACCEPTED"
	NotifyRoomAdded      NotificationKind = "ROOM_ADDED"
	// NotifyRoomRemoved: an OWNER removed the viewer from Room.
	NotifyRoomRemoved NotificationKind = "ROOM_REMOVED"
	// NotifyRoomRead: the viewer's read marker moved forward in Room (on
	// any of their devices), so a badge elsewhere shows the new total.
	NotifyRoomRead NotificationKind = "ROOM_READ"
)

// MarshalGQL writes the kind as a GraphQL enum value.
func (k NotificationKind) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(k))) }

// UnmarshalGQL reads the kind from a GraphQL enum value.
func (k *NotificationKind) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch NotificationKind(s) {
	case NotifyNewMessage, NotifyFriendRequest, NotifyFriendAccepted, NotifyRoomAdded, NotifyRoomRemoved, NotifyRoomRead:
		*k = NotificationKind(s)
		return nil
	}
	return apperr.New(apperr.BadInput, "%q is not a notification kind", s)
}

// Notification is what a user's notification widget is told.
type Notification struct {
	Kind        NotificationKind
	Room        *ent.Room
	Message     *ent.Message
	Actor       *ent.User
	TotalUnread int
	CreatedAt   time.Time
}

func itoa(i int) string { return strconv.Itoa(i) }
