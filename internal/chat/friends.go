package chat

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/friendship"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

// FriendshipState is how a user stands towards the viewer.
type FriendshipState string

// The states of FriendshipState.
const (
	FriendshipSelf            FriendshipState = "SELF"
	FriendshipNone            FriendshipState = "NONE"
	FriendshipRequestSent     FriendshipState = "REQUEST_SENT"
	FriendshipRequestReceived FriendshipState = "REQUEST_RECEIVED"
	FriendshipFriends         FriendshipState = "FRIENDS"
)

// MarshalGQL writes the state as a GraphQL enum value.
func (s FriendshipState) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads the state from a GraphQL enum value.
func (s *FriendshipState) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return apperr.New(apperr.BadInput, "a friendship state must be a string")
	}
	switch st := FriendshipState(str); st {
	case FriendshipSelf, FriendshipNone, FriendshipRequestSent, FriendshipRequestReceived, FriendshipFriends:
		*s = st
		return nil
	}
	return apperr.New(apperr.BadInput, "%q is not a friendship state", str)
}

// pairKey is the order-independent key of a pair of users.
func pairKey(a, b int) string {
	if a > b {
		a, b = b, a
	}
	return strconv.Itoa(a) + ":" + strconv.Itoa(b)
}

// FriendshipState tells how user other stands towards the viewer.
func (s *Service) FriendshipState(ctx context.Context, v viewer.Viewer, other int) (FriendshipState, error) {
	if other == v.UserID {
		return FriendshipSelf, nil
	}
	f, err := s.db.Friendship.Query().Where(friendship.PairKey(pairKey(v.UserID, other))).Only(ctx)
	if ent.IsNotFound(err) {
		return FriendshipNone, nil
	}
	if err != nil {
		return "", fmt.Errorf("friendship of %d and %d: %w", v.UserID, other, err)
	}
	return stateOf(f, v.UserID), nil
}

func stateOf(f *ent.Friendship, viewerID int) FriendshipState {
	switch {
	case f.State == friendship.StateACCEPTED:
		return FriendshipFriends
	case f.RequesterID == viewerID:
		return FriendshipRequestSent
	default:
		return FriendshipRequestReceived
	}
}
