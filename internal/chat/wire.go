package chat

import (
	"strconv"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/room"
)

// The wire forms travel through the broker, between instances: everything
// a subscriber shows, so that fan-out never goes back to the database.

type wireUser struct {
	ID         int        `json:"id"`
	Nickname   string     `json:"nickname"`
	Bio        *string    `json:"bio,omitempty"`
	AvatarID   *int       `json:"avatarId,omitempty"`
	LastSeenAt *time.Time `json:"lastSeenAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	DeletedAt  *time.Time `json:"deletedAt,omitempty"`
}

func toWireUser(u *ent.User) *wireUser {
	if u == nil {
		return nil
	}
	return &wireUser{ID: u.ID, Nickname: u.Nickname, Bio: u.Bio, AvatarID: u.AvatarID, LastSeenAt: u.LastSeenAt, CreatedAt: u.CreatedAt, DeletedAt: u.DeletedAt}
}

func (w *wireUser) ent() *ent.User {
	if w == nil {
		return nil
	}
	return &ent.User{ID: w.ID, Nickname: w.Nickname, Bio: w.Bio, AvatarID: w.AvatarID, LastSeenAt: w.LastSeenAt, CreatedAt: w.CreatedAt, DeletedAt: w.DeletedAt}
}

type wireRoom struct {
	ID        int       `json:"id"`
	Kind      string    `json:"kind"`
	Name      *string   `json:"name,omitempty"`
	DirectKey *string   `json:"directKey,omitempty"`
	OwnerID   *int      `json:"ownerId,omitempty"`
	LastSeq   int64     `json:"lastSeq"`
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func toWireRoom(r *ent.Room) *wireRoom {
	if r == nil {
		return nil
	}
	return &wireRoom{ID: r.ID, Kind: string(r.Kind), Name: r.Name, DirectKey: r.DirectKey, OwnerID: r.OwnerID, LastSeq: r.LastSeq, Revision: r.Revision, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func (w *wireRoom) ent() *ent.Room {
	if w == nil {
		return nil
	}
	return &ent.Room{ID: w.ID, Kind: room.Kind(w.Kind), Name: w.Name, DirectKey: w.DirectKey, OwnerID: w.OwnerID, LastSeq: w.LastSeq, Revision: w.Revision, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

type wireMessage struct {
	ID           int        `json:"id"`
	RoomID       int        `json:"roomId"`
	SenderID     *int       `json:"senderId,omitempty"`
	AttachmentID *int       `json:"attachmentId,omitempty"`
	Kind         string     `json:"kind"`
	Body         string     `json:"body"`
	Seq          int64      `json:"seq"`
	ClientID     *string    `json:"clientId,omitempty"`
	ReplyToID    *int       `json:"replyToId,omitempty"`
	CreatedAt    time.Time  `json:"createdAt"`
	EditedAt     *time.Time `json:"editedAt,omitempty"`
	DeletedAt    *time.Time `json:"deletedAt,omitempty"`
	Revision     *int64     `json:"revision,omitempty"`
	LastChange   string     `json:"lastChange,omitempty"`
	Sender       *wireUser  `json:"sender,omitempty"`
	Attachment   *wireFile  `json:"attachment,omitempty"`
	Room         *wireRoom  `json:"room,omitempty"` // as it was when the message was published
	// ReplyTo: the message this one answers, with its sender and
	// attachment (not its room: the same as this one's).
	ReplyTo *wireMessage `json:"replyTo,omitempty"`
	// Reactions: the message's reactions by emoji, in first-use order,
	// when the publisher knew them (an empty list for a new or deleted
	// message, all of them for an edit or a reactions change); null when
	// not (a replied-to message, a read marker's), and subscribers read
	// them from the database. Not omitempty: [] and null differ.
	Reactions []wireReaction `json:"reactions"`
}

// wireReaction is one emoji on a message as it travels: every user who
// reacted with it (ids, earliest first: its count, and whether a viewer is
// among them) and the earliest MaxReactionUsersShow of them in full (what
// Reaction.users shows).
type wireReaction struct {
	Emoji   string      `json:"emoji"`
	UserIDs []int       `json:"userIds"`
	Users   []*wireUser `json:"users"`
}

func toWireMessage(m *ent.Message, sender *ent.User, att *ent.Attachment) *wireMessage {
	if m == nil {
		return nil
	}
	return &wireMessage{
		ID: m.ID, RoomID: m.RoomID, SenderID: m.SenderID, AttachmentID: m.AttachmentID, Kind: string(m.Kind),
		Body: m.Body, Seq: m.Seq, ClientID: m.ClientID, ReplyToID: m.ReplyToID, CreatedAt: m.CreatedAt, Sender: toWireUser(sender),
		Attachment: toWireFile(att), EditedAt: m.EditedAt, DeletedAt: m.DeletedAt, Revision: m.Revision,
		LastChange: string(m.LastChange),
	}
}

// wireFile is an attachment as it travels (ent's JSON form leaves out the
// storage keys, which the resolvers need to tell whether there is a thumbnail).
type wireFile struct {
	ID           int       `json:"id"`
	UploaderID   *int      `json:"uploaderId,omitempty"`
	Filename     string    `json:"filename"`
	ContentType  string    `json:"contentType"`
	Size         int64     `json:"size"`
	SHA256       string    `json:"sha256"`
	StorageKey   string    `json:"storageKey"`
	ThumbnailKey *string   `json:"thumbnailKey,omitempty"`
	Width        *int      `json:"width,omitempty"`
	Height       *int      `json:"height,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
}

func toWireFile(a *ent.Attachment) *wireFile {
	if a == nil {
		return nil
	}
	return &wireFile{ID: a.ID, UploaderID: a.UploaderID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size,
		SHA256: a.Sha256, StorageKey: a.StorageKey, ThumbnailKey: a.ThumbnailKey, Width: a.Width, Height: a.Height, CreatedAt: a.CreatedAt}
}

func (w *wireFile) ent() *ent.Attachment {
	return &ent.Attachment{ID: w.ID, UploaderID: w.UploaderID, Filename: w.Filename, ContentType: w.ContentType, Size: w.Size,
		Sha256: w.SHA256, StorageKey: w.StorageKey, ThumbnailKey: w.ThumbnailKey, Width: w.Width, Height: w.Height, CreatedAt: w.CreatedAt}
}

// ent rebuilds the message with its sender, attachment and room loaded, as
// the resolvers read it.
func (w *wireMessage) ent() *ent.Message {
	if w == nil {
		return nil
	}
	m := &ent.Message{
		ID: w.ID, RoomID: w.RoomID, SenderID: w.SenderID, AttachmentID: w.AttachmentID, Kind: message.Kind(w.Kind),
		Body: w.Body, Seq: w.Seq, ClientID: w.ClientID, ReplyToID: w.ReplyToID, CreatedAt: w.CreatedAt,
		EditedAt: w.EditedAt, DeletedAt: w.DeletedAt, Revision: w.Revision, LastChange: message.LastChange(w.LastChange),
	}
	if m.LastChange == "" {
		m.LastChange = message.LastChangeADDED
	}
	if w.Sender != nil {
		m.Edges.Sender = w.Sender.ent()
	}
	if w.Attachment != nil {
		m.Edges.Attachment = w.Attachment.ent()
	}
	if w.Room != nil {
		m.Edges.Room = w.Room.ent()
	}
	if w.ReplyTo != nil {
		m.Edges.ReplyTo = w.ReplyTo.ent()
		m.Edges.ReplyTo.Edges.Room = m.Edges.Room
	}
	if w.Reactions != nil {
		carry(m, w.Reactions)
	}
	return m
}

// roomEvent goes to a room's topic.
type roomEvent struct {
	// "message" (added), "change" (edited, deleted, reactions), "left",
	// "room" (joined, renamed, removed), "typing" or "read".
	Type    string       `json:"type"`
	Message *wireMessage `json:"message,omitempty"`
	UserID  int          `json:"userId,omitempty"` // who left, who types, whose marker moved
	// Left: whose membership ended with this (SYSTEM) message; their
	// streams end on it, even when the "left" event was lost.
	Left []int `json:"left,omitempty"`
	// Room as it is after a "left" or "room" event.
	Room *wireRoom `json:"room,omitempty"`
	// User: who types ("typing"), whose marker moved ("read").
	User   *wireUser  `json:"user,omitempty"`
	Typing bool       `json:"typing,omitempty"`
	ReadAt *time.Time `json:"readAt,omitempty"` // "read": Message is the newest message read
	// Again: published again after a broker outage (republish.go), maybe
	// long after; a stream that has not delivered it reads the room from
	// the database instead (the viewer may have left and come back since).
	Again bool `json:"again,omitempty"`
}

// userEvent goes to a user's topic: one notification. ID is left out when
// 0 (absent reads as 0) and TotalUnread when nil, so that the
// notifications of one message to several recipients share their encoding
// (noteJSON).
type userEvent struct {
	ID      int              `json:"id,omitempty"` // the stored notification
	Kind    NotificationKind `json:"kind"`
	Room    *wireRoom        `json:"room,omitempty"`
	Message *wireMessage     `json:"message,omitempty"`
	Actor   *wireUser        `json:"actor,omitempty"`
	// TotalUnread: the user's unread total as of the change; nil when
	// the user was offline when it was published (nobody read it then:
	// a stream that gets it reads it, see notifStream.withTotal).
	TotalUnread *int       `json:"totalUnread,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	ReadAt      *time.Time `json:"readAt,omitempty"`
}

// noteJSON is the encoding of userEvent e with its ID and TotalUnread set
// to id and total, from shared, the encoding of e with neither (left out):
// what encoding each recipient's copy of the same notification cost
// before, once.
func noteJSON(shared []byte, id int, total *int) []byte {
	b := make([]byte, 0, len(shared)+48)
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	if total != nil {
		b = append(b, `,"totalUnread":`...)
		b = strconv.AppendInt(b, int64(*total), 10)
	}
	b = append(b, ',')
	return append(b, shared[1:]...) // shared is an object with "kind" at least
}

func roomTopic(id int) string { return "room." + itoa(id) }
func userTopic(id int) string { return "user." + itoa(id) }
