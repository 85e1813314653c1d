package chat

import (
	"context"
	"fmt"
	"io"
	"strconv"
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

// Room owners. A GROUP room has one OWNER (rooms.owner_id): its creator,
// then, when the owner leaves, the longest-standing remaining member
// (earliest joined_at, then the oldest membership row; live accounts
// only). Only the owner renames the group and removes members. A DIRECT
// room has no owner: both are MEMBERs.

// RoomRole is the viewer's role in a room.
type RoomRole string

// The roles.
const (
	RoleOwner  RoomRole = "OWNER"
	RoleMember RoomRole = "MEMBER"
)

// MarshalGQL writes the role as a GraphQL enum value.
func (r RoomRole) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(r))) }

// UnmarshalGQL reads the role from a GraphQL enum value.
func (r *RoomRole) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch RoomRole(s) {
	case RoleOwner, RoleMember:
		*r = RoomRole(s)
		return nil
	}
	return apperr.New(apperr.BadInput, "%q is not a room role", s)
}

// RoleOf is userID's role in r, a room they are a member of.
func RoleOf(r *ent.Room, userID int) RoomRole {
	if r.Kind == room.KindGROUP && r.OwnerID != nil && *r.OwnerID == userID {
		return RoleOwner
	}
	return RoleMember
}

// Errors of the owner-only operations.
var (
	ErrNotOwner      = apperr.New(apperr.Forbidden, "only the owner of a group room may do this")
	ErrNotRoomMember = apperr.New(apperr.NotFound, "that user is not a member of this room")
	ErrRemoveSelf    = apperr.Input("userId", "you can't remove yourself: leave the room instead")
)

// nextOwner picks who owns group roomID after the current owner's
// membership ended: the longest-standing remaining member with a live
// account; nil when nobody is left.
func nextOwner(ctx context.Context, c *ent.Client, roomID int) (*int, error) {
	m, err := c.Membership.Query().
		Where(membership.RoomID(roomID), membership.LeftAtIsNil(), membership.HasUserWith(user.DeletedAtIsNil())).
		Order(membership.ByJoinedAt(), membership.ByID()).
		First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("next owner of room %d: %w", roomID, err)
	}
	return &m.UserID, nil
}

// passOwnership hands group r (locked by the transaction) to its next
// owner when userID, whose membership just ended, owned it.
func passOwnership(ctx context.Context, tx *ent.Tx, r *ent.Room, userID int) error {
	if r.Kind != room.KindGROUP || r.OwnerID == nil || *r.OwnerID != userID {
		return nil
	}
	next, err := nextOwner(ctx, tx.Client(), r.ID)
	if err != nil {
		return err
	}
	u := tx.Room.UpdateOne(r)
	if next == nil {
		u.ClearOwnerID()
	} else {
		u.SetOwnerID(*next)
	}
	if err := u.Exec(ctx); err != nil {
		return fmt.Errorf("pass ownership of room %d: %w", r.ID, err)
	}
	return nil
}

// ownerTx runs fn for the owner of group roomID in the room's turn, with
// the room locked: NOT_FOUND for a non-member (the room stays untold),
// FORBIDDEN for a member who is not the owner of a group.
func (s *Service) ownerTx(ctx context.Context, v viewer.Viewer, roomID int, fn func(tx *ent.Tx, em *emitter, r *ent.Room, actor *ent.User) error) error {
	if _, err := currentMember(ctx, s.db, roomID, v.UserID); err != nil {
		return err // a plain read: a non-member never takes the room's lock
	}
	return s.inRoomTx(ctx, roomID, func(tx *ent.Tx, em *emitter) error {
		r, err := lockRoom(ctx, tx, roomID)
		if err != nil {
			return err
		}
		if _, err := currentMember(ctx, tx.Client(), roomID, v.UserID); err != nil {
			return err
		}
		if RoleOf(r, v.UserID) != RoleOwner {
			return ErrNotOwner
		}
		actor, err := tx.User.Get(ctx, v.UserID)
		if err != nil {
			return fmt.Errorf("load user %d: %w", v.UserID, err)
		}
		return fn(tx, em, r, actor)
	})
}

// groupName checks a group name as CreateRoom does: trimmed, at most
// MaxRoomNameLen characters; empty means none (the members' names show).
func groupName(in string) (*string, error) {
	n := strings.TrimSpace(in)
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxRoomNameLen {
		return nil, apperr.Input("name", "a room name is at most %d characters", MaxRoomNameLen)
	}
	if n == "" {
		return nil, nil
	}
	return &n, nil
}

// RenameRoom sets (or, with an empty name, clears) the name of a group
// room the viewer owns. The members see a SYSTEM message; renaming to the
// same name changes nothing.
func (s *Service) RenameRoom(ctx context.Context, v viewer.Viewer, roomID int, name string) (*ent.Room, error) {
	n, err := groupName(name)
	if err != nil {
		return nil, err
	}
	err = s.ownerTx(ctx, v, roomID, func(tx *ent.Tx, em *emitter, r *ent.Room, actor *ent.User) error {
		if (r.Name == nil && n == nil) || (r.Name != nil && n != nil && *r.Name == *n) {
			return nil
		}
		u := tx.Room.UpdateOne(r)
		if n == nil {
			u.ClearName()
		} else {
			u.SetName(*n)
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("rename room %d: %w", roomID, err)
		}
		body := actor.Nickname + " removed the room's name"
		if n != nil {
			body = actor.Nickname + " named the room " + *n
		}
		em.emit(Event{Kind: EventRoomRenamed, RoomID: roomID, ActorID: v.UserID})
		_, err := s.post(ctx, tx, em, roomID, draft{kind: message.KindSYSTEM, body: body})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.db.Room.Get(ctx, roomID)
}

// RemoveRoomMember takes userID out of a group room the viewer owns. The
// removed member loses access at once (their streams of the room end),
// gets a ROOM_REMOVED notification; the others see a SYSTEM message.
func (s *Service) RemoveRoomMember(ctx context.Context, v viewer.Viewer, roomID, userID int) (*ent.Room, error) {
	if userID == v.UserID {
		return nil, ErrRemoveSelf
	}
	err := s.ownerTx(ctx, v, roomID, func(tx *ent.Tx, em *emitter, r *ent.Room, actor *ent.User) error {
		m, err := currentMember(ctx, tx.Client(), roomID, userID)
		if err != nil {
			return ErrNotRoomMember
		}
		if err := tx.Membership.UpdateOne(m).SetLeftAt(s.now()).Exec(ctx); err != nil {
			return fmt.Errorf("remove user %d from room %d: %w", userID, roomID, err)
		}
		removed, err := tx.User.Get(ctx, userID)
		if err != nil {
			return fmt.Errorf("load user %d: %w", userID, err)
		}
		em.emit(Event{Kind: EventMemberRemoved, RoomID: roomID, ActorID: v.UserID, UserIDs: []int{userID}})
		_, err = s.post(ctx, tx, em, roomID, draft{
			kind: message.KindSYSTEM, body: actor.Nickname + " removed " + removed.Nickname, left: []int{userID},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.db.Room.Get(ctx, roomID)
}

// handOverOwnedRooms passes the groups a deleted account owned to their
// next owners (the account's memberships stay, but it can act no more).
func (s *Service) handOverOwnedRooms(ctx context.Context, userID int) error {
	ids, err := s.db.Room.Query().Where(room.OwnerID(userID), room.KindEQ(room.KindGROUP)).IDs(ctx)
	if err != nil {
		return fmt.Errorf("rooms owned by user %d: %w", userID, err)
	}
	for _, id := range ids {
		err := s.inRoomTx(ctx, id, func(tx *ent.Tx, _ *emitter) error {
			r, err := lockRoom(ctx, tx, id)
			if err != nil {
				return err
			}
			return passOwnership(ctx, tx, r, userID)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
