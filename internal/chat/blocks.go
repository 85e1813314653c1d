package chat

import (
	"context"
	"errors"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/block"
	"github.com/chatty/chatty/ent/friendship"
	"github.com/chatty/chatty/ent/membership"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/predicate"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

// Blocking. While A blocks B:
//   - B can't send A a friend request, create or open their direct room, or
//     post in it; neither can A (both get FORBIDDEN: the direct room is
//     closed both ways until A unblocks, so nobody talks past the block). B
//     is only told "you cannot message this user". Editing, reacting
//     (adding or removing) and typing there are refused the same way;
//     deleting one's own message is not (taking it back reaches nobody).
//   - their friendship, or a pending request either way, ended with the block.
//   - neither can put the other in a group room (createRoom, addRoomMembers):
//     the same refusals, so B can't reach A by making a room of them.
//   - A gets no notification B causes (messages in shared groups); B's
//     notifications are unchanged.
//   - group rooms both are in work as before for both (a third member may
//     add either); nothing is hidden from A.

// Errors of blocking.
var (
	ErrBlockSelf = apperr.Input("userId", "you can't block yourself")
	// ErrCannotContact refuses the blocked user (and tells them no more).
	ErrCannotContact = apperr.New(apperr.Forbidden, "you cannot message this user")
	// ErrYouBlocked refuses the blocker, who knows.
	ErrYouBlocked = apperr.New(apperr.Forbidden, "you blocked this user: unblock them to reach them")
)

// BlockUser blocks other for the viewer: it ends their friendship or
// pending request in the same transaction. Blocking twice is harmless. It
// returns other.
func (s *Service) BlockUser(ctx context.Context, v viewer.Viewer, other int) (*ent.User, error) {
	if other == v.UserID {
		return nil, ErrBlockSelf
	}
	u, err := s.blockUser(ctx, v, other)
	if errors.Is(err, errRetry) { // the same block, made at the same moment
		u, err = s.blockUser(ctx, v, other)
	}
	return u, err
}

func (s *Service) blockUser(ctx context.Context, v viewer.Viewer, other int) (*ent.User, error) {
	key := pairKey(v.UserID, other)
	// Their direct room's id never changes: found outside the transaction.
	roomIDs, err := s.db.Room.Query().Where(room.DirectKey(key)).IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("find direct room: %w", err)
	}
	var target *ent.User
	fn := func(tx *ent.Tx, _ *emitter) error {
		if len(roomIDs) > 0 {
			// The direct room's lock first, as its senders take it: a send
			// either commits before the block or sees it.
			if err := touchRoom(ctx, tx, roomIDs[0]); err != nil {
				return err
			}
		}
		var err error
		if target, err = liveUser(ctx, tx.Client(), other); err != nil {
			return err
		}
		done, err := tx.Block.Query().Where(block.BlockerID(v.UserID), block.BlockedID(other)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("find block: %w", err)
		}
		if done {
			return nil
		}
		// The block first, then the friendship: a friend request racing
		// it reads the block with a lock (mayContact), so it either waits
		// for this commit and is refused, or commits first and is ended here.
		err = tx.Block.Create().SetBlockerID(v.UserID).SetBlockedID(other).SetPairKey(key).SetCreatedAt(s.now()).Exec(ctx)
		if ent.IsConstraintError(err) {
			return errRetry
		}
		if err != nil {
			return fmt.Errorf("create block: %w", err)
		}
		if _, err := tx.Friendship.Delete().Where(friendship.PairKey(key)).Exec(ctx); err != nil {
			return fmt.Errorf("end friendship: %w", err)
		}
		return nil
	}
	if len(roomIDs) > 0 {
		err = s.inRoomTx(ctx, roomIDs[0], fn)
		s.senders.forgetRoom(roomIDs[0])
	} else {
		err = s.inTx(ctx, fn)
	}
	if err != nil {
		return nil, err
	}
	return target, nil
}

// UnblockUser lifts the viewer's block of other (unblocking someone not
// blocked is harmless); a friendship that ended stays ended. It returns
// other.
func (s *Service) UnblockUser(ctx context.Context, v viewer.Viewer, other int) (*ent.User, error) {
	if other == v.UserID {
		return nil, ErrBlockSelf
	}
	u, err := liveUser(ctx, s.db, other)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.Block.Delete().Where(block.BlockerID(v.UserID), block.BlockedID(other)).Exec(ctx); err != nil {
		return nil, fmt.Errorf("remove block: %w", err)
	}
	return u, nil
}

// mayContact refuses (FORBIDDEN) when a block stands between the viewer
// and other, either way. In a transaction it reads with a shared lock on
// MySQL/MariaDB, so a block committing meanwhile is waited for and seen.
func mayContact(ctx context.Context, c *ent.Client, viewerID, other int) error {
	return mayContactAll(ctx, c, viewerID, []int{other})
}

// mayContactAll is mayContact for several others, in one statement: the
// refusal of the first block found (the viewer's own first).
func mayContactAll(ctx context.Context, c *ent.Client, viewerID int, others []int) error {
	keys := make([]string, len(others))
	for i, o := range others {
		keys[i] = pairKey(viewerID, o)
	}
	blockers, err := c.Block.Query().
		Where(block.PairKeyIn(keys...)).
		Select(block.FieldBlockerID).
		Modify(func(s *entsql.Selector) {
			if s.Dialect() == dialect.MySQL {
				// MariaDB knows no FOR SHARE.
				s.For(entsql.LockShare, entsql.WithLockClause("LOCK IN SHARE MODE"))
			}
		}).
		Ints(ctx)
	if err != nil {
		return fmt.Errorf("find blocks: %w", err)
	}
	return blockError(blockers, viewerID)
}

// blockError is the refusal for a pair whose blocks were made by blockers.
func blockError(blockers []int, viewerID int) error {
	switch {
	case len(blockers) == 0:
		return nil
	case contains(blockers, viewerID):
		return ErrYouBlocked
	}
	return ErrCannotContact
}

// postingMember is currentMember for a sender about to post: also
// FORBIDDEN when the room is a direct room with a block between its two
// members. The block check rides on the membership read (no statement of
// its own): for a group room it costs the probe of the room row by its
// key, for a direct room one more lookup by the blocks' pair_key index.
func postingMember(ctx context.Context, c *ent.Client, roomID, userID int) (*ent.Membership, error) {
	m, err := c.Membership.Query().
		Where(membership.RoomID(roomID), membership.UserID(userID), membership.LeftAtIsNil(), notInBlockedRoom()).
		Only(ctx)
	if !ent.IsNotFound(err) {
		if err != nil {
			return nil, fmt.Errorf("membership of user %d in room %d: %w", userID, roomID, err)
		}
		return m, nil
	}
	// Refused: not a member, or blocked (the rare path says which).
	if m, err = currentMember(ctx, c, roomID, userID); err != nil {
		return nil, err
	}
	r, err := c.Room.Get(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("load room %d: %w", roomID, err)
	}
	if r.DirectKey == nil {
		return m, nil
	}
	blockers, err := c.Block.Query().Where(block.PairKey(*r.DirectKey)).Select(block.FieldBlockerID).Ints(ctx)
	if err != nil {
		return nil, fmt.Errorf("find blocks of room %d: %w", roomID, err)
	}
	if err := blockError(blockers, userID); err != nil {
		return nil, err
	}
	return m, nil // the block was lifted meanwhile
}

// notInBlockedRoom is the membership predicate "the room is not a direct
// room whose pair has a block" (see roomNotBlocked).
func notInBlockedRoom() predicate.Membership {
	return func(s *entsql.Selector) { s.Where(roomNotBlocked(s.C(membership.FieldRoomID))) }
}

// messageNotInBlockedRoom is notInBlockedRoom for messages: the message's
// room is not a direct room whose pair has a block.
func messageNotInBlockedRoom() predicate.Message {
	return func(s *entsql.Selector) { s.Where(roomNotBlocked(s.C(message.FieldRoomID))) }
}

// roomNotBlocked is NOT EXISTS (a block whose pair_key is the direct_key
// of the room whose id is in column roomID). A group room's direct_key is
// NULL and matches none.
func roomNotBlocked(roomID string) *entsql.Predicate {
	r, b := entsql.Table(room.Table).As("blocked_room"), entsql.Table(block.Table).As("room_block")
	return entsql.Not(entsql.Exists(
		entsql.Select(r.C(room.FieldID)).From(r).
			Join(b).On(b.C(block.FieldPairKey), r.C(room.FieldDirectKey)).
			Where(entsql.ColumnsEQ(r.C(room.FieldID), roomID)),
	))
}

// reachable loads message id for a change by the viewer that the other
// member of a direct room would see as them speaking (an edit, a
// reaction): a message they may read (notFound otherwise) in a room they
// may post in, refused like a send (FORBIDDEN) while a block stands in its
// direct room. As postingMember, the block check rides on the one read;
// only a refusal reads again to say why.
func reachable(ctx context.Context, c *ent.Client, v viewer.Viewer, id int, notFound error) (*ent.Message, error) {
	m, err := c.Message.Query().Where(message.ID(id), readableBy(v.UserID), messageNotInBlockedRoom()).Only(ctx)
	if !ent.IsNotFound(err) {
		if err != nil {
			return nil, fmt.Errorf("load message %d: %w", id, err)
		}
		return m, nil
	}
	if m, err = c.Message.Query().Where(message.ID(id), readableBy(v.UserID)).Only(ctx); err != nil {
		if ent.IsNotFound(err) {
			return nil, notFound
		}
		return nil, fmt.Errorf("load message %d: %w", id, err)
	}
	if _, err := postingMember(ctx, c, m.RoomID, v.UserID); err != nil {
		return nil, err
	}
	return m, nil // the block was lifted meanwhile
}

// withoutBlockers returns users without those who blocked actor, in one
// query.
func withoutBlockers(ctx context.Context, c *ent.Client, users []int, actor int) ([]int, error) {
	if len(users) == 0 || actor == 0 {
		return users, nil
	}
	blockers, err := c.Block.Query().
		Where(block.BlockedID(actor), block.BlockerIDIn(users...)).
		Select(block.FieldBlockerID).
		Ints(ctx)
	if err != nil {
		return nil, fmt.Errorf("find who blocked user %d: %w", actor, err)
	}
	if len(blockers) == 0 {
		return users, nil
	}
	out := make([]int, 0, len(users))
	for _, u := range users {
		if !contains(blockers, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// BlockedAmong tells, for each of ids, whether the viewer has blocked
// them, in one query.
func (s *Service) BlockedAmong(ctx context.Context, v viewer.Viewer, ids []int) (map[int]bool, error) {
	blocked, err := s.db.Block.Query().
		Where(block.BlockerID(v.UserID), block.BlockedIDIn(ids...)).
		Select(block.FieldBlockedID).
		Ints(ctx)
	if err != nil {
		return nil, fmt.Errorf("blocks of user %d: %w", v.UserID, err)
	}
	out := make(map[int]bool, len(ids))
	for _, id := range blocked {
		out[id] = true
	}
	return out, nil
}

// Blocks is the query of the viewer's blocks of live accounts; the caller
// pages it (newest first: by id, descending) with the blocked users.
func (s *Service) Blocks(_ context.Context, v viewer.Viewer) *ent.BlockQuery {
	return s.db.Block.Query().Where(block.BlockerID(v.UserID), block.HasBlockedWith(user.DeletedAtIsNil()))
}
