package chat

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/reaction"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/upload"
	"github.com/chatty/chatty/internal/viewer"
)

// The room change feed. Every stored change to a message of a room (added,
// edited, deleted, reactions changed) takes the room's next revision under
// the room's lock, in the changing transaction, and stamps it on the
// message with what the change was (messages.revision, last_change). A
// message changed several times holds the revision of its latest change
// only, so replaying a room from revision r is one range scan of the
// (room_id, revision) index: every message whose latest change came after
// r, once, in its latest state, in the order of those changes.

// ChangeKind says what a stored change did to a message (MessageEventKind).
type ChangeKind = message.LastChange

// The kinds of change.
const (
	ChangeAdded            = message.LastChangeADDED
	ChangeEdited           = message.LastChangeEDITED
	ChangeDeleted          = message.LastChangeDELETED
	ChangeReactionsChanged = message.LastChangeREACTIONS_CHANGED
)

// Errors of editing and deleting.
var (
	ErrNotSender      = apperr.New(apperr.Forbidden, "only the sender may edit this message")
	ErrMayNotDelete   = apperr.New(apperr.Forbidden, "only the sender (or the group's owner) may delete this message")
	ErrSystemMessage  = apperr.New(apperr.Forbidden, "SYSTEM messages can be neither edited nor deleted")
	ErrMessageDeleted = apperr.New(apperr.Conflict, "the message was deleted")
)

// position is where a change goes in its room: the room's revision after
// it and, for a new message, its seq.
type position struct{ seq, rev int64 }

// takeRevision takes the room's next revision (and, when newMessage, its
// next seq) in one UPDATE, which locks the room row (MariaDB) or the
// database (SQLite) until commit: revisions are unique, dense and in
// commit order. It takes them for edits, deletions, reactions and SYSTEM
// messages; a user's message takes its seq and revision in takeSeq
// (unread.go), together with the unread counters.
func takeRevision(ctx context.Context, tx *ent.Tx, roomID int, newMessage bool, now time.Time) (position, error) {
	u := tx.Room.Update().Where(room.ID(roomID)).AddRevision(1)
	if newMessage {
		u.AddLastSeq(1).SetUpdatedAt(now)
	}
	n, err := u.Save(ctx)
	if err != nil {
		return position{}, fmt.Errorf("next revision of room %d: %w", roomID, err)
	}
	if n == 0 {
		return position{}, ErrRoomNotFound
	}
	var rows []struct {
		LastSeq  int64 `json:"last_seq"`
		Revision int64 `json:"revision"`
	}
	err = tx.Room.Query().Where(room.ID(roomID)).Select(room.FieldLastSeq, room.FieldRevision).Scan(ctx, &rows)
	if err != nil || len(rows) != 1 {
		return position{}, fmt.Errorf("read revision of room %d: %w (%d rows)", roomID, err, len(rows))
	}
	return position{seq: rows[0].LastSeq, rev: rows[0].Revision}, nil
}

// stampChange saves upd (an update of message msgID of room roomID: the
// change itself) with the room's next revision and kind, and emits the
// change for after the commit. The transaction must hold the room's lock
// already (lockRoom) when it read what upd changes. Adding a message takes
// its revision with its seq instead (nextSeq, store).
func (s *Service) stampChange(ctx context.Context, tx *ent.Tx, em *emitter, roomID int, upd *ent.MessageUpdateOne, kind ChangeKind, actorID int) (*ent.Message, error) {
	pos, err := takeRevision(ctx, tx, roomID, false, s.now())
	if err != nil {
		return nil, err
	}
	m, err := upd.SetRevision(pos.rev).SetLastChange(kind).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("stamp %s change in room %d: %w", kind, roomID, err)
	}
	// The reactions as of this revision travel with it (none once
	// deleted): read under the room's lock, so that a subscriber never
	// sees an older change carry newer reactions than a later one.
	rs := []reactionRow{}
	if m.DeletedAt == nil {
		if rs, err = reactionRows(ctx, tx.Client(), m.ID); err != nil {
			return nil, err
		}
	}
	em.emit(Event{Kind: EventMessageChanged, RoomID: roomID, ActorID: actorID, Message: m, reactions: rs})
	return m, nil
}

// readable loads a message the viewer may read (a member of its room since
// before it was sent); ErrMessageNotFound otherwise.
func readable(ctx context.Context, c *ent.Client, v viewer.Viewer, messageID int) (*ent.Message, error) {
	m, err := c.Message.Query().Where(message.ID(messageID), readableBy(v.UserID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrMessageNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load message %d: %w", messageID, err)
	}
	return m, nil
}

// editable loads a message the viewer may read (ErrMessageNotFound
// otherwise) in a room they may post in: an edit is refused (FORBIDDEN) as
// a send while a block stands in their direct room.
func editable(ctx context.Context, c *ent.Client, v viewer.Viewer, messageID int) (*ent.Message, error) {
	return reachable(ctx, c, v, messageID, ErrMessageNotFound)
}

// changeMessage runs change on message messageID in a transaction holding
// its room's lock, after checking (with a plain read first, so that one who
// may not never takes the lock, then again under the lock) that load
// allows the viewer to change it (readable, editable) and that check does.
// change returns the message detached from the transaction (stampChange's
// emit detaches it; else Unwrap).
func (s *Service) changeMessage(ctx context.Context, v viewer.Viewer, messageID int,
	load func(ctx context.Context, c *ent.Client, v viewer.Viewer, messageID int) (*ent.Message, error),
	check func(ctx context.Context, c *ent.Client, m *ent.Message) error,
	change func(tx *ent.Tx, em *emitter, m *ent.Message) (*ent.Message, error),
) (*ent.Message, error) {
	m, err := load(ctx, s.db, v, messageID)
	if err != nil {
		return nil, err
	}
	if err := check(ctx, s.db, m); err != nil {
		return nil, err
	}
	var out *ent.Message
	err = s.inRoomTx(ctx, m.RoomID, func(tx *ent.Tx, em *emitter) error {
		if err := touchRoom(ctx, tx, m.RoomID); err != nil { // the room's lock, before any other row of it
			return err
		}
		m, err := load(ctx, tx.Client(), v, messageID)
		if err != nil {
			return err
		}
		if err := check(ctx, tx.Client(), m); err != nil {
			return err
		}
		out, err = change(tx, em, m)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EditMessage replaces the body of the viewer's message (the caption of a
// file) with body, under the rules of sending, and sets editedAt. SYSTEM
// and deleted messages cannot be edited. The same body again changes
// nothing.
func (s *Service) EditMessage(ctx context.Context, v viewer.Viewer, messageID int, body string) (*ent.Message, error) {
	body = strings.TrimSpace(body)
	switch {
	case !utf8.ValidString(body):
		return nil, apperr.Input("body", "a message must be valid UTF-8")
	case utf8.RuneCountInString(body) > MaxBodyLen:
		return nil, apperr.Input("body", "a message is at most %d characters", MaxBodyLen)
	}
	check := func(_ context.Context, _ *ent.Client, m *ent.Message) error {
		switch {
		case m.Kind == message.KindSYSTEM:
			return ErrSystemMessage
		case m.SenderID == nil || *m.SenderID != v.UserID:
			return ErrNotSender
		case m.DeletedAt != nil:
			return ErrMessageDeleted
		case body == "" && m.Kind == message.KindTEXT:
			return apperr.Input("body", "a message must not be empty")
		}
		return nil
	}
	return s.changeMessage(ctx, v, messageID, editable, check, func(tx *ent.Tx, em *emitter, m *ent.Message) (*ent.Message, error) {
		if m.Body == body {
			return m.Unwrap(), nil
		}
		if err := reindex(ctx, tx, m, body, false); err != nil {
			return nil, err
		}
		upd := tx.Message.UpdateOne(m).SetBody(body).SetEditedAt(s.now())
		return s.stampChange(ctx, tx, em, m.RoomID, upd, ChangeEdited, v.UserID)
	})
}

// mayDelete is the one rule of who may delete a message (not SYSTEM: the
// caller checks): its sender, and the OWNER of a GROUP room anyone's. In a
// DIRECT room only the sender. Only one who is not the sender costs a read
// (of the room).
func mayDelete(ctx context.Context, c *ent.Client, v viewer.Viewer, m *ent.Message) error {
	if m.SenderID != nil && *m.SenderID == v.UserID {
		return nil
	}
	r, err := c.Room.Get(ctx, m.RoomID)
	if err != nil {
		return fmt.Errorf("load room %d: %w", m.RoomID, err)
	}
	if RoleOf(r, v.UserID) == RoleOwner {
		return nil
	}
	return ErrMayNotDelete
}

// DeleteMessage leaves a tombstone of a message: deletedAt set, body "",
// no attachment (its bytes and thumbnail are removed from storage, so its
// URLs stop working), no reactions. Deleting a deleted message returns the
// tombstone.
func (s *Service) DeleteMessage(ctx context.Context, v viewer.Viewer, messageID int) (*ent.Message, error) {
	var gone *ent.Attachment
	check := func(ctx context.Context, c *ent.Client, m *ent.Message) error {
		if m.Kind == message.KindSYSTEM {
			return ErrSystemMessage
		}
		return mayDelete(ctx, c, v, m)
	}
	// readable, not editable: one may take back what one said also while
	// a block closes a direct room (only its sender deletes there).
	out, err := s.changeMessage(ctx, v, messageID, readable, check, func(tx *ent.Tx, em *emitter, m *ent.Message) (*ent.Message, error) {
		if m.DeletedAt != nil {
			return m.Unwrap(), nil
		}
		// It stops counting as unread (the room's lock is held), and what
		// hangs off it goes in this transaction too: its reactions, its
		// attachment.
		if err := uncount(ctx, tx, m); err != nil {
			return nil, err
		}
		if _, err := tx.Reaction.Delete().Where(reaction.MessageID(m.ID)).Exec(ctx); err != nil {
			return nil, fmt.Errorf("clear reactions of message %d: %w", m.ID, err)
		}
		if err := reindex(ctx, tx, m, "", true); err != nil { // out of the search index
			return nil, err
		}
		upd := tx.Message.UpdateOne(m).SetBody("").SetDeletedAt(s.now()).ClearAttachmentID()
		out, err := s.stampChange(ctx, tx, em, m.RoomID, upd, ChangeDeleted, v.UserID)
		if err != nil || m.AttachmentID == nil {
			return out, err
		}
		if gone, err = tx.Attachment.Get(ctx, *m.AttachmentID); err != nil {
			return nil, fmt.Errorf("load attachment %d: %w", *m.AttachmentID, err)
		}
		if err := tx.Attachment.DeleteOne(gone).Exec(ctx); err != nil {
			return nil, fmt.Errorf("delete attachment %d: %w", gone.ID, err)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	if gone != nil && s.uploads != nil {
		st := &upload.Stored{Key: gone.StorageKey}
		if gone.ThumbnailKey != nil {
			st.ThumbnailKey = *gone.ThumbnailKey
		}
		if err := s.uploads.Delete(context.WithoutCancel(ctx), st); err != nil {
			s.log.ErrorContext(ctx, "remove file of deleted message", "message_id", messageID, "key", gone.StorageKey, "err", err)
		}
	}
	return out, nil
}

// wireOf is m as it travels: with its sender, attachment and room, so that
// subscribers read nothing from the database. A fixed number of reads per
// event, whatever the number of subscribers.
func (s *Service) wireOf(ctx context.Context, m *ent.Message, sender *ent.User, r *ent.Room) (*wireMessage, *ent.User, *ent.Room, error) {
	var err error
	if m.SenderID != nil && sender == nil {
		if sender, err = s.db.User.Get(ctx, *m.SenderID); err != nil {
			return nil, nil, nil, fmt.Errorf("load sender %d: %w", *m.SenderID, err)
		}
	}
	var att *ent.Attachment
	if m.AttachmentID != nil {
		if att, err = s.db.Attachment.Get(ctx, *m.AttachmentID); err != nil {
			return nil, nil, nil, fmt.Errorf("load attachment %d: %w", *m.AttachmentID, err)
		}
	}
	if r == nil {
		if r, err = s.db.Room.Get(ctx, m.RoomID); err != nil {
			return nil, nil, nil, fmt.Errorf("load room %d: %w", m.RoomID, err)
		}
	}
	wm := toWireMessage(m, sender, att)
	wm.Room = toWireRoom(r) // subscribers asking for message.room read no database
	if wm.ReplyTo, err = s.wireRepliedTo(ctx, m); err != nil {
		return nil, nil, nil, err
	}
	return wm, sender, r, nil
}

// publishChange sends an edit, deletion or reactions change to the room's
// topic, with the message's reactions as of the change (none once
// deleted), so that no subscriber reads them. It notifies nobody: only new messages
// do.
func (s *Service) publishChange(ctx context.Context, e Event) error {
	wm, _, _, err := s.wireOf(ctx, e.Message, nil, nil)
	if err != nil {
		return err
	}
	rs := e.reactions
	if rs == nil && e.Message.DeletedAt == nil {
		if rs, err = reactionRows(ctx, s.db, e.Message.ID); err != nil {
			return err
		}
	}
	if wm.Reactions, err = s.wireReactions(ctx, rs); err != nil {
		return err
	}
	return s.emitHeld(ctx, roomTopic(e.RoomID), roomEvent{Type: "change", Message: wm})
}
