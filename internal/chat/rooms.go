package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/membership"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

// currentMember returns userID's membership of roomID while they are in
// it; ErrRoomNotFound otherwise (a room one is not in is not told about).
func currentMember(ctx context.Context, c *ent.Client, roomID, userID int) (*ent.Membership, error) {
	m, err := c.Membership.Query().
		Where(membership.RoomID(roomID), membership.UserID(userID), membership.LeftAtIsNil()).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrRoomNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("membership of user %d in room %d: %w", userID, roomID, err)
	}
	return m, nil
}

// Room returns a room the viewer is a member of.
func (s *Service) Room(ctx context.Context, v viewer.Viewer, id int) (*ent.Room, error) {
	r, err := s.Rooms(v).Where(room.ID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrRoomNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load room %d: %w", id, err)
	}
	return r, nil
}

// Rooms is the query of the viewer's current rooms; the caller pages it.
func (s *Service) Rooms(v viewer.Viewer) *ent.RoomQuery {
	return s.db.Room.Query().Where(room.HasMembershipsWith(membership.UserID(v.UserID), membership.LeftAtIsNil()))
}

// others returns ids without duplicates and without self, checking the count.
func others(field string, ids []int, self int, max int) ([]int, error) {
	seen := map[int]bool{self: true}
	out := make([]int, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, apperr.Input(field, "name at least one user other than yourself")
	}
	if len(out) > max {
		return nil, apperr.Input(field, "name at most %d users at once", max)
	}
	return out, nil
}

// liveUsers loads users by id, failing with ErrUserNotFound when one of
// them does not exist or has deleted their account.
func liveUsers(ctx context.Context, c *ent.Client, ids []int) ([]*ent.User, error) {
	us, err := c.User.Query().Where(user.IDIn(ids...), user.DeletedAtIsNil()).Order(user.ByID()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	if len(us) != len(ids) {
		return nil, ErrUserNotFound
	}
	return us, nil
}

// CreateRoomInput describes a new room.
type CreateRoomInput struct {
	MemberIDs []int
	Name      *string
}

// CreateRoom makes a room of the viewer and the given members. One other
// member and no name make a DIRECT room: there is one per pair, so asking
// again (from either side) returns it, with both of them in it again.
// Anything else makes a GROUP room.
func (s *Service) CreateRoom(ctx context.Context, v viewer.Viewer, in CreateRoomInput) (*ent.Room, error) {
	ids, err := others("memberIds", in.MemberIDs, v.UserID, MaxRoomMembers-1)
	if err != nil {
		return nil, err
	}
	var name *string
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		if utf8.RuneCountInString(n) > MaxRoomNameLen {
			return nil, apperr.Input("name", "a room name is at most %d characters", MaxRoomNameLen)
		}
		if n != "" {
			name = &n
		}
	}
	if len(ids) == 1 && name == nil {
		r, err := s.directRoom(ctx, v, ids[0])
		if errors.Is(err, errRetry) { // created by the other side at the same moment
			r, err = s.directRoom(ctx, v, ids[0])
		}
		return r, err
	}
	var out *ent.Room
	err = s.inTx(ctx, func(tx *ent.Tx, em *emitter) error {
		if _, err := liveUsers(ctx, tx.Client(), ids); err != nil {
			return err
		}
		if err := mayContactAll(ctx, tx.Client(), v.UserID, ids); err != nil {
			return err
		}
		now := s.now()
		r, err := tx.Room.Create().SetKind(room.KindGROUP).SetNillableName(name).SetOwnerID(v.UserID).SetCreatedAt(now).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return fmt.Errorf("create room: %w", err)
		}
		if err := s.join(ctx, tx, r, append([]int{v.UserID}, ids...)); err != nil {
			return err
		}
		em.emit(Event{Kind: EventRoomAdded, RoomID: r.ID, ActorID: v.UserID, UserIDs: ids})
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// directRoom returns the viewer's direct room with other, creating it or
// bringing back whichever of them had left.
func (s *Service) directRoom(ctx context.Context, v viewer.Viewer, other int) (*ent.Room, error) {
	key := pairKey(v.UserID, other)
	// The common case, opening a chat that both are in, only reads: no
	// transaction, no lock to wait for. Else the room's writers take turns
	// (one connection per instance waits on a room locked elsewhere).
	existing, err := s.db.Room.Query().Where(room.DirectKey(key)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		existing = nil
	case err != nil:
		return nil, fmt.Errorf("find direct room: %w", err)
	default:
		if _, err := liveUser(ctx, s.db, other); err != nil {
			return nil, err
		}
		if err := mayContact(ctx, s.db, v.UserID, other); err != nil {
			return nil, err
		}
		_, errMe := currentMember(ctx, s.db, existing.ID, v.UserID)
		_, errOther := currentMember(ctx, s.db, existing.ID, other)
		if errMe == nil && errOther == nil {
			return existing, nil
		}
	}
	var out *ent.Room
	txFn := func(tx *ent.Tx, em *emitter) error {
		if _, err := liveUser(ctx, tx.Client(), other); err != nil {
			return err
		}
		if err := mayContact(ctx, tx.Client(), v.UserID, other); err != nil {
			return err
		}
		r, err := tx.Room.Query().Where(room.DirectKey(key)).Only(ctx)
		if ent.IsNotFound(err) {
			now := s.now()
			r, err = tx.Room.Create().SetKind(room.KindDIRECT).SetDirectKey(key).SetCreatedAt(now).SetUpdatedAt(now).Save(ctx)
			if ent.IsConstraintError(err) {
				return errRetry
			}
			if err != nil {
				return fmt.Errorf("create direct room: %w", err)
			}
			if err := s.join(ctx, tx, r, []int{v.UserID, other}); err != nil {
				return err
			}
			em.emit(Event{Kind: EventRoomAdded, RoomID: r.ID, ActorID: v.UserID, UserIDs: []int{other}})
			out = r
			return nil
		}
		if err != nil {
			return fmt.Errorf("find direct room: %w", err)
		}
		if r, err = lockRoom(ctx, tx, r.ID); err != nil {
			return err
		}
		back, err := s.rejoin(ctx, tx, r, []int{v.UserID, other})
		if err != nil {
			return err
		}
		if len(back) > 0 {
			em.emit(Event{Kind: EventMemberJoined, RoomID: r.ID, ActorID: v.UserID, UserIDs: back})
			if back := without(back, v.UserID); len(back) > 0 {
				em.emit(Event{Kind: EventRoomAdded, RoomID: r.ID, ActorID: v.UserID, UserIDs: back})
			}
		}
		out = r
		return nil
	}
	if existing != nil {
		err = s.inRoomTx(ctx, existing.ID, txFn)
	} else {
		err = s.inTx(ctx, txFn)
	}
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// derefCount reads a counter (never null once database.Migrate has run).
func derefCount(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func without(ids []int, id int) []int {
	out := ids[:0:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// join makes users members of the new room r.
func (s *Service) join(ctx context.Context, tx *ent.Tx, r *ent.Room, users []int) error {
	now := s.now()
	creates := make([]*ent.MembershipCreate, len(users))
	for i, u := range users {
		creates[i] = tx.Membership.Create().SetRoomID(r.ID).SetUserID(u).SetJoinedAt(now)
	}
	if err := tx.Membership.CreateBulk(creates...).Exec(ctx); err != nil {
		return fmt.Errorf("add members to room %d: %w", r.ID, err)
	}
	return nil
}

// rejoin makes users current members of r from its newest message on:
// new rows for newcomers, and those who had left come back (without the
// history they missed). It returns who was not a member before.
func (s *Service) rejoin(ctx context.Context, tx *ent.Tx, r *ent.Room, users []int) ([]int, error) {
	existing, err := tx.Membership.Query().Where(membership.RoomID(r.ID), membership.UserIDIn(users...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("memberships of room %d: %w", r.ID, err)
	}
	byUser := make(map[int]*ent.Membership, len(existing))
	for _, m := range existing {
		byUser[m.UserID] = m
	}
	now := s.now()
	var back []int
	for _, u := range users {
		m, ok := byUser[u]
		switch {
		case ok && m.LeftAt == nil:
			continue
		case ok:
			// Everything before the return is read: the unread count starts at 0.
			err = tx.Membership.UpdateOne(m).ClearLeftAt().SetJoinedAt(now).SetJoinedSeq(r.LastSeq).SetLastReadSeq(r.LastSeq).
				SetReadCount(derefCount(r.MessageCount) - derefCount(m.SentCount)).Exec(ctx)
		default:
			err = tx.Membership.Create().SetRoomID(r.ID).SetUserID(u).SetJoinedAt(now).SetJoinedSeq(r.LastSeq).SetLastReadSeq(r.LastSeq).
				SetSentCount(0).SetReadCount(derefCount(r.MessageCount)).Exec(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("add user %d to room %d: %w", u, r.ID, err)
		}
		back = append(back, u)
	}
	if len(back) > 0 {
		if err := tx.Room.UpdateOne(r).SetUpdatedAt(now).Exec(ctx); err != nil {
			return nil, fmt.Errorf("touch room %d: %w", r.ID, err)
		}
	}
	return back, nil
}

// AddRoomMembers adds users to a group room the viewer is in. Those who
// are members already are left as they are. The others see a SYSTEM
// message, and the new members the room from that message on. Adding a
// user with a block between them and the viewer (either way) is refused
// as a direct room is (ErrCannotContact, ErrYouBlocked).
func (s *Service) AddRoomMembers(ctx context.Context, v viewer.Viewer, roomID int, userIDs []int) (*ent.Room, error) {
	ids, err := others("userIds", userIDs, v.UserID, MaxAddAtOnce)
	if err != nil {
		return nil, err
	}
	if _, err := currentMember(ctx, s.db, roomID, v.UserID); err != nil {
		return nil, err // a plain read: a non-member never takes the room's lock
	}
	var out *ent.Room
	err = s.inRoomTx(ctx, roomID, func(tx *ent.Tx, em *emitter) error {
		r, err := lockRoom(ctx, tx, roomID)
		if err != nil {
			return err
		}
		if _, err := currentMember(ctx, tx.Client(), roomID, v.UserID); err != nil {
			return err
		}
		if r.Kind == room.KindDIRECT {
			return ErrDirectRoomIsClosed
		}
		users, err := liveUsers(ctx, tx.Client(), ids)
		if err != nil {
			return err
		}
		count, err := tx.Membership.Query().Where(membership.RoomID(roomID), membership.LeftAtIsNil()).Count(ctx)
		if err != nil {
			return fmt.Errorf("count members of room %d: %w", roomID, err)
		}
		back, err := s.rejoin(ctx, tx, r, ids)
		if err != nil {
			return err
		}
		if len(back) > 0 { // those already in stay, blocked or not
			if err := mayContactAll(ctx, tx.Client(), v.UserID, back); err != nil {
				return err
			}
		}
		if count+len(back) > MaxRoomMembers {
			return apperr.Input("userIds", "a room has at most %d members", MaxRoomMembers)
		}
		out = r
		if len(back) == 0 {
			return nil
		}
		actor, err := tx.User.Get(ctx, v.UserID)
		if err != nil {
			return fmt.Errorf("load user %d: %w", v.UserID, err)
		}
		names := make([]string, 0, len(back))
		for _, u := range users {
			if contains(back, u.ID) {
				names = append(names, u.Nickname)
			}
		}
		em.emit(Event{Kind: EventMemberJoined, RoomID: r.ID, ActorID: v.UserID, UserIDs: back})
		em.emit(Event{Kind: EventRoomAdded, RoomID: r.ID, ActorID: v.UserID, UserIDs: back})
		_, err = s.post(ctx, tx, em, r.ID, draft{kind: message.KindSYSTEM, body: actor.Nickname + " added " + strings.Join(names, ", ")})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.db.Room.Get(ctx, out.ID)
}

func contains(ids []int, id int) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// LeaveRoom takes the viewer out of a room. The others see a SYSTEM
// message; the viewer can no longer read the room. A direct room keeps its
// history for the one who stays.
func (s *Service) LeaveRoom(ctx context.Context, v viewer.Viewer, roomID int) error {
	if _, err := currentMember(ctx, s.db, roomID, v.UserID); err != nil {
		return err // a plain read: a non-member never takes the room's lock
	}
	return s.inRoomTx(ctx, roomID, func(tx *ent.Tx, em *emitter) error {
		r, err := lockRoom(ctx, tx, roomID)
		if err != nil {
			return err
		}
		m, err := currentMember(ctx, tx.Client(), roomID, v.UserID)
		if err != nil {
			return err
		}
		if err := tx.Membership.UpdateOne(m).SetLeftAt(s.now()).Exec(ctx); err != nil {
			return fmt.Errorf("leave room %d: %w", roomID, err)
		}
		if err := passOwnership(ctx, tx, r, v.UserID); err != nil {
			return err
		}
		em.emit(Event{Kind: EventMemberLeft, RoomID: roomID, ActorID: v.UserID})
		u, err := tx.User.Get(ctx, v.UserID)
		if err != nil {
			return fmt.Errorf("load user %d: %w", v.UserID, err)
		}
		_, err = s.post(ctx, tx, em, roomID, draft{kind: message.KindSYSTEM, body: u.Nickname + " left", left: []int{v.UserID}})
		return err
	})
}
