package chat

import "github.com/chatty/chatty/internal/apperr"

// Errors of the chat domain; graph/errors.go turns their kinds into codes.
// A room the viewer is not in is "not found": its existence is not told.
var (
	ErrUserNotFound       = apperr.New(apperr.NotFound, "no such user")
	ErrRoomNotFound       = apperr.New(apperr.NotFound, "no such room, or you are not a member")
	ErrNodeNotFound       = apperr.New(apperr.NotFound, "nothing with that id, or nothing you may see")
	ErrMessageNotFound    = apperr.New(apperr.NotFound, "no such message in this room")
	ErrNoFriendRequest    = apperr.New(apperr.NotFound, "that user has not asked to be your friend")
	ErrNoFriendship       = apperr.New(apperr.NotFound, "you are not friends with that user and have no pending request")
	ErrBefriendSelf       = apperr.Input("userId", "you can't befriend yourself")
	ErrDirectRoomIsClosed = apperr.Input("roomId", "a direct room has exactly two members: create a group room instead")
)
