package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/friendship"
	"github.com/chatty/chatty/ent/user"
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

// FriendshipStates tells how each of others stands towards the viewer, in
// one query.
func (s *Service) FriendshipStates(ctx context.Context, v viewer.Viewer, others []int) (map[int]FriendshipState, error) {
	out := make(map[int]FriendshipState, len(others))
	keys := make([]string, 0, len(others))
	for _, o := range others {
		if o == v.UserID {
			out[o] = FriendshipSelf
			continue
		}
		out[o] = FriendshipNone
		keys = append(keys, pairKey(v.UserID, o))
	}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := s.db.Friendship.Query().Where(friendship.PairKeyIn(keys...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("friendships of user %d: %w", v.UserID, err)
	}
	for _, f := range rows {
		other := f.RequesterID
		if other == v.UserID {
			other = f.AddresseeID
		}
		out[other] = stateOf(f, v.UserID)
	}
	return out, nil
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

// liveUser loads a user who has not deleted their account.
func liveUser(ctx context.Context, c *ent.Client, id int) (*ent.User, error) {
	u, err := c.User.Query().Where(user.ID(id), user.DeletedAtIsNil()).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load user %d: %w", id, err)
	}
	return u, nil
}

// AddFriend asks other to be the viewer's friend, or accepts the request
// other already sent. Asking again is harmless. It returns other.
func (s *Service) AddFriend(ctx context.Context, v viewer.Viewer, other int) (*ent.User, error) {
	if other == v.UserID {
		return nil, ErrBefriendSelf
	}
	u, err := s.addFriend(ctx, v, other)
	if errors.Is(err, errRetry) {
		u, err = s.addFriend(ctx, v, other)
	}
	return u, err
}

func (s *Service) addFriend(ctx context.Context, v viewer.Viewer, other int) (*ent.User, error) {
	var target *ent.User
	err := s.inTx(ctx, func(tx *ent.Tx, em *emitter) error {
		var err error
		if target, err = liveUser(ctx, tx.Client(), other); err != nil {
			return err
		}
		if err := mayContact(ctx, tx.Client(), v.UserID, other); err != nil {
			return err
		}
		f, err := tx.Friendship.Query().Where(friendship.PairKey(pairKey(v.UserID, other))).Only(ctx)
		switch {
		case ent.IsNotFound(err):
			err = tx.Friendship.Create().
				SetRequesterID(v.UserID).
				SetAddresseeID(other).
				SetPairKey(pairKey(v.UserID, other)).
				SetCreatedAt(s.now()).
				SetUpdatedAt(s.now()).
				Exec(ctx)
			if ent.IsConstraintError(err) {
				// The other side asked at the same moment; asking again settles it.
				return errRetry
			}
			if err != nil {
				return fmt.Errorf("create friend request: %w", err)
			}
			em.emit(Event{Kind: EventFriendRequest, ActorID: v.UserID, UserIDs: []int{other}})
		case err != nil:
			return fmt.Errorf("load friendship: %w", err)
		case f.State == friendship.StatePENDING && f.AddresseeID == v.UserID:
			if err := tx.Friendship.UpdateOne(f).SetState(friendship.StateACCEPTED).SetUpdatedAt(s.now()).Exec(ctx); err != nil {
				return fmt.Errorf("accept friend request: %w", err)
			}
			em.emit(Event{Kind: EventFriendAccepted, ActorID: v.UserID, UserIDs: []int{other}})
		}
		return nil // already friends, or already asked
	})
	return target, err
}

// errRetry asks for a transaction to be tried once more after a race.
var errRetry = apperr.New(apperr.Conflict, "a concurrent change got in the way; try again")

// DeclineFriendRequest turns down the request other sent. It returns other.
func (s *Service) DeclineFriendRequest(ctx context.Context, v viewer.Viewer, other int) (*ent.User, error) {
	n, err := s.db.Friendship.Delete().
		Where(friendship.RequesterID(other), friendship.AddresseeID(v.UserID), friendship.StateEQ(friendship.StatePENDING)).
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("decline friend request: %w", err)
	}
	if n == 0 {
		return nil, ErrNoFriendRequest
	}
	return s.anyUser(ctx, other)
}

// RemoveFriend ends a friendship with other, or withdraws the request the
// viewer sent. It returns other.
func (s *Service) RemoveFriend(ctx context.Context, v viewer.Viewer, other int) (*ent.User, error) {
	n, err := s.db.Friendship.Delete().
		Where(
			friendship.PairKey(pairKey(v.UserID, other)),
			friendship.Or(friendship.StateEQ(friendship.StateACCEPTED), friendship.RequesterID(v.UserID)),
		).
		Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("remove friendship: %w", err)
	}
	if n == 0 {
		return nil, ErrNoFriendship
	}
	return s.anyUser(ctx, other)
}

// anyUser loads a user, deleted or not (to answer a mutation about them).
func (s *Service) anyUser(ctx context.Context, id int) (*ent.User, error) {
	u, err := s.db.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load user %d: %w", id, err)
	}
	return u, nil
}

// Friends is the query of the viewer's friends (live accounts); the caller pages it.
func (s *Service) Friends(_ context.Context, v viewer.Viewer) *ent.UserQuery {
	return s.db.User.Query().Where(
		user.DeletedAtIsNil(),
		user.Or(
			user.HasFriendshipsSentWith(friendship.AddresseeID(v.UserID), friendship.StateEQ(friendship.StateACCEPTED)),
			user.HasFriendshipsReceivedWith(friendship.RequesterID(v.UserID), friendship.StateEQ(friendship.StateACCEPTED)),
		),
	)
}

// FriendRequests is the query of users waiting for the viewer's answer.
func (s *Service) FriendRequests(_ context.Context, v viewer.Viewer) *ent.UserQuery {
	return s.db.User.Query().Where(
		user.DeletedAtIsNil(),
		user.HasFriendshipsSentWith(friendship.AddresseeID(v.UserID), friendship.StateEQ(friendship.StatePENDING)),
	)
}
