package chat

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/attachment"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/room"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/upload"
	"github.com/chatty/chatty/internal/viewer"
)

// ErrNoUploads refuses files when the server has no upload storage.
var ErrNoUploads = apperr.New(apperr.UnsupportedMedia, "this server does not accept files")

// DefaultUploadQuota is how many bytes of files one user may keep stored
// (the files they sent and their avatar): 1 GiB.
const DefaultUploadQuota = 1 << 30

// WithUploadQuota sets how many bytes of files one user may keep stored
// (DefaultUploadQuota); a file past it is refused with PAYLOAD_TOO_LARGE
// saying how much is left.
func WithUploadQuota(n int64) Option { return func(s *Service) { s.quota = n } }

func (s *Service) uploadQuota() int64 {
	if s.quota > 0 {
		return s.quota
	}
	return DefaultUploadQuota
}

// storedBytes is the size of the files userID uploaded that are kept
// (attachments of messages, the avatar), but the attachment except.
func storedBytes(ctx context.Context, c *ent.Client, userID int, except *int) (int64, error) {
	q := c.Attachment.Query().Where(attachment.UploaderID(userID))
	if except != nil {
		q.Where(attachment.IDNEQ(*except))
	}
	var sums []struct {
		Sum sql.NullInt64 `json:"sum"`
	}
	if err := q.Aggregate(ent.Sum(attachment.FieldSize)).Scan(ctx, &sums); err != nil {
		return 0, fmt.Errorf("sum stored bytes of user %d: %w", userID, err)
	}
	if len(sums) == 0 {
		return 0, nil
	}
	return sums[0].Sum.Int64, nil
}

// quotaLeft is how many more bytes userID may store (never below zero);
// a file is counted as replaced when except is its attachment.
func (s *Service) quotaLeft(ctx context.Context, c *ent.Client, userID int, except *int) (int64, error) {
	used, err := storedBytes(ctx, c, userID, except)
	if err != nil {
		return 0, err
	}
	return max(0, s.uploadQuota()-used), nil
}

// overQuota refuses a file that does not fit in what is left.
func (s *Service) overQuota(left int64) error {
	return apperr.New(apperr.TooLarge, "the file does not fit in your storage: %s of %s left",
		upload.FormatBytes(left), upload.FormatBytes(s.uploadQuota())).With("remainingBytes", left)
}

// saveWithin stores a file within the uploader's quota: checked before the
// bytes are stored, as they stream, and again in the transaction that keeps
// the attachment (overQuotaTx).
func (s *Service) saveWithin(ctx context.Context, userID int, except *int, image bool, file io.Reader, filename string) (*upload.Stored, error) {
	left, err := s.quotaLeft(ctx, s.db, userID, except)
	if err != nil {
		return nil, err
	}
	if left == 0 {
		return nil, s.overQuota(0)
	}
	save := s.uploads.Save
	if image {
		save = s.uploads.SaveImage
	}
	stored, err := save(ctx, upload.Uploader{ID: userID, Quota: left}, file, filename)
	if errors.Is(err, upload.ErrOverQuota) {
		return nil, s.overQuota(left)
	}
	return stored, err
}

// checkQuotaTx checks, in the transaction about to keep st, that it still
// fits: another upload of the same user may have been kept meanwhile.
// The transaction must have taken the user's lock (lockUser) first.
func (s *Service) checkQuotaTx(ctx context.Context, tx *ent.Tx, userID int, except *int, st *upload.Stored) error {
	left, err := s.quotaLeft(ctx, tx.Client(), userID, except)
	if err != nil {
		return err
	}
	if st.Size > left {
		return s.overQuota(left)
	}
	return nil
}

// SendFileInput is a file sent to a room, with an optional caption.
type SendFileInput struct {
	RoomID   int
	File     io.Reader
	Filename string
	Caption  *string
	ClientID *string
	// ReplyToID: the message of the same room this one answers.
	ReplyToID *int
}

// SendFile stores a file and posts it to a room the viewer is in: an
// IMAGE message when the bytes are an image, FILE otherwise, the caption
// as its body. A clientId the viewer has used in this room returns that
// first message (and the bytes are not stored again).
func (s *Service) SendFile(ctx context.Context, v viewer.Viewer, in SendFileInput) (*ent.Message, error) {
	if s.uploads == nil {
		return nil, ErrNoUploads
	}
	caption := ""
	if in.Caption != nil {
		caption = strings.TrimSpace(*in.Caption)
		if utf8.RuneCountInString(caption) > MaxBodyLen || !utf8.ValidString(caption) {
			return nil, apperr.Input("caption", "a caption is at most %d characters of UTF-8", MaxBodyLen)
		}
	}
	clientID, err := normalizeClientID(in.ClientID)
	if err != nil {
		return nil, err
	}
	if _, err := postingMember(ctx, s.db, in.RoomID, v.UserID); err != nil {
		return nil, err // before storing anything
	}
	if in.ReplyToID != nil {
		if err := checkReplyTo(ctx, s.db, in.RoomID, v.UserID, *in.ReplyToID); err != nil {
			return nil, err
		}
	}
	if clientID != nil {
		if first, err := s.byClientID(ctx, s.db, in.RoomID, v.UserID, *clientID); err != nil || first != nil {
			return first, err
		}
	}
	stored, err := s.saveWithin(ctx, v.UserID, nil, false, in.File, in.Filename)
	if err != nil {
		return nil, err
	}
	kind := message.KindFILE
	if stored.IsImage {
		kind = message.KindIMAGE
	}
	var out *ent.Message
	err = s.inRoomTx(ctx, in.RoomID, func(tx *ent.Tx, em *emitter) error {
		// The room's lock, then the user's (sending text locks the room,
		// then its message's foreign key reads the user), both before any
		// plain read: see lockUser.
		if err := touchRoom(ctx, tx, in.RoomID); err != nil {
			return err
		}
		if err := lockUser(ctx, tx, v.UserID); err != nil {
			return err
		}
		pos, _, err := s.takeSeq(ctx, tx, in.RoomID, v.UserID, s.now())
		if err != nil {
			return err
		}
		if err := s.checkQuotaTx(ctx, tx, v.UserID, nil, stored); err != nil {
			return err
		}
		att, err := createAttachment(ctx, tx, v.UserID, stored, s)
		if err != nil {
			return err
		}
		m, err := s.store(ctx, tx, em, in.RoomID, pos, draft{kind: kind, body: caption, sender: &v.UserID, clientID: clientID, attachmentID: &att.ID, filename: att.Filename, replyTo: in.ReplyToID})
		if ent.IsConstraintError(err) && clientID != nil {
			return errRetry
		}
		out = m
		return err
	})
	if err != nil {
		if derr := s.uploads.Delete(context.WithoutCancel(ctx), stored); derr != nil {
			s.log.ErrorContext(ctx, "remove unused upload", "key", stored.Key, "err", derr)
		}
		if errors.Is(err, errRetry) {
			return s.byClientID(ctx, s.db, in.RoomID, v.UserID, *clientID)
		}
		return nil, err
	}
	return out, nil
}

func createAttachment(ctx context.Context, tx *ent.Tx, uploader int, st *upload.Stored, s *Service) (*ent.Attachment, error) {
	c := tx.Attachment.Create().
		SetUploaderID(uploader).
		SetFilename(st.Filename).
		SetContentType(st.ContentType).
		SetSize(st.Size).
		SetSha256(st.SHA256).
		SetStorageKey(st.Key).
		SetCreatedAt(s.now())
	if st.ThumbnailKey != "" {
		c.SetThumbnailKey(st.ThumbnailKey)
	}
	if st.IsImage {
		c.SetWidth(st.Width).SetHeight(st.Height)
	}
	a, err := c.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("store attachment: %w", err)
	}
	return a, nil
}

// UploadAvatar makes an image the viewer's profile picture; the previous
// one is removed. It counts in the viewer's quota (the previous one not).
func (s *Service) UploadAvatar(ctx context.Context, v viewer.Viewer, file io.Reader, filename string) (*ent.User, error) {
	if s.uploads == nil {
		return nil, ErrNoUploads
	}
	me, err := s.db.User.Query().Where(user.ID(v.UserID), user.DeletedAtIsNil()).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("load user %d: %w", v.UserID, err)
	}
	stored, err := s.saveWithin(ctx, v.UserID, me.AvatarID, true, file, filename)
	if err != nil {
		return nil, err
	}
	var (
		out *ent.User
		old *ent.Attachment
	)
	err = s.inTx(ctx, func(tx *ent.Tx, _ *emitter) error {
		if err := lockUser(ctx, tx, v.UserID); err != nil { // first: see lockUser
			return err
		}
		u, err := tx.User.Query().Where(user.ID(v.UserID), user.DeletedAtIsNil()).Only(ctx)
		if err != nil {
			return fmt.Errorf("load user %d: %w", v.UserID, err)
		}
		if err := s.checkQuotaTx(ctx, tx, v.UserID, u.AvatarID, stored); err != nil {
			return err
		}
		att, err := createAttachment(ctx, tx, v.UserID, stored, s)
		if err != nil {
			return err
		}
		if out, err = tx.User.UpdateOne(u).SetAvatarID(att.ID).SetUpdatedAt(s.now()).Save(ctx); err != nil {
			return fmt.Errorf("set avatar: %w", err)
		}
		if u.AvatarID != nil {
			if old, err = tx.Attachment.Get(ctx, *u.AvatarID); err != nil {
				return fmt.Errorf("load old avatar: %w", err)
			}
			if err := tx.Attachment.DeleteOne(old).Exec(ctx); err != nil {
				return fmt.Errorf("delete old avatar: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		_ = s.uploads.Delete(context.WithoutCancel(ctx), stored)
		return nil, err
	}
	if old != nil {
		prev := &upload.Stored{Key: old.StorageKey}
		if old.ThumbnailKey != nil {
			prev.ThumbnailKey = *old.ThumbnailKey
		}
		if err := s.uploads.Delete(ctx, prev); err != nil {
			s.log.ErrorContext(ctx, "remove old avatar file", "key", old.StorageKey, "err", err)
		}
	}
	return out.Unwrap(), nil
}

// AccountDeleted removes what a deleted account leaves behind in upload
// storage: its files that belong to no message (the avatar it had), rows
// and bytes. The files of its messages stay with the messages.
func (s *Service) AccountDeleted(ctx context.Context, userID int) {
	if err := s.removeUnusedUploads(ctx, userID); err != nil {
		s.log.ErrorContext(ctx, "remove files of deleted account", "user_id", userID, "err", err)
	}
	if err := s.handOverOwnedRooms(ctx, userID); err != nil {
		s.log.ErrorContext(ctx, "hand over rooms of deleted account", "user_id", userID, "err", err)
	}
}

func (s *Service) removeUnusedUploads(ctx context.Context, userID int) error {
	var gone []*ent.Attachment
	err := s.inTx(ctx, func(tx *ent.Tx, _ *emitter) error {
		live, err := tx.User.Query().Where(user.ID(userID), user.DeletedAtIsNil()).Exist(ctx)
		if err != nil || live {
			return err // only ever a deleted account's files
		}
		as, err := tx.Attachment.Query().
			Where(attachment.UploaderID(userID), attachment.Not(attachment.HasMessage())).
			All(ctx)
		if err != nil || len(as) == 0 {
			return err
		}
		ids := make([]int, len(as))
		for i, a := range as {
			ids[i] = a.ID
		}
		// Never anyone's avatar (an avatar is its uploader's own, and the
		// deleted account's was cleared: this only guards the rule).
		inUse, err := tx.User.Query().Where(user.AvatarIDIn(ids...)).Exist(ctx)
		if err != nil {
			return err
		}
		if inUse {
			return fmt.Errorf("an attachment of deleted user %d is still an avatar", userID)
		}
		if _, err := tx.Attachment.Delete().Where(attachment.IDIn(ids...)).Exec(ctx); err != nil {
			return fmt.Errorf("delete attachments: %w", err)
		}
		gone = as
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range gone {
		st := &upload.Stored{Key: a.StorageKey}
		if a.ThumbnailKey != nil {
			st.ThumbnailKey = *a.ThumbnailKey
		}
		if s.uploads != nil {
			errs = append(errs, s.uploads.Delete(context.WithoutCancel(ctx), st))
		}
	}
	return errors.Join(errs...)
}

// AttachmentsByID loads attachments (for messages the viewer already sees).
func (s *Service) AttachmentsByID(ctx context.Context, ids []int) (map[int]*ent.Attachment, error) {
	as, err := s.db.Attachment.Query().Where(attachment.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load attachments: %w", err)
	}
	out := make(map[int]*ent.Attachment, len(as))
	for _, a := range as {
		out[a.ID] = a
	}
	return out, nil
}

// Download is a stored file a request may read.
type Download struct {
	Attachment *ent.Attachment
	File       upload.File
}

// OpenAttachment opens an attachment's bytes (or its thumbnail) for a
// request that proved it may (a signed URL).
func (s *Service) OpenAttachment(ctx context.Context, id int, thumbnail bool) (*Download, error) {
	if s.uploads == nil {
		return nil, ErrNodeNotFound
	}
	a, err := s.db.Attachment.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, ErrNodeNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load attachment %d: %w", id, err)
	}
	key := a.StorageKey
	if thumbnail {
		if a.ThumbnailKey == nil {
			return nil, ErrNodeNotFound
		}
		key = *a.ThumbnailKey
	}
	f, err := s.uploads.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("open attachment %d: %w", id, err)
	}
	return &Download{Attachment: a, File: f}, nil
}

// OpenAvatar opens the image of a live user's current avatar.
func (s *Service) OpenAvatar(ctx context.Context, attachmentID int) (*Download, error) {
	ok, err := s.db.User.Query().Where(user.AvatarID(attachmentID), user.DeletedAtIsNil()).Exist(ctx)
	if err != nil {
		return nil, fmt.Errorf("find avatar %d: %w", attachmentID, err)
	}
	if !ok {
		return nil, ErrNodeNotFound
	}
	return s.OpenAttachment(ctx, attachmentID, false)
}

// lockUser takes the user's row lock for the rest of the transaction on
// MySQL/MariaDB, serialising the user's uploads for the quota: without
// it, uploads racing each other each sum the files kept before any of
// them, and all fit. It must come before any plain read of the
// transaction: under repeatable read the first plain read fixes the
// snapshot every later read sees, and a snapshot older than the lock
// misses what the previous holder kept. A room's lock, when the
// transaction takes one, comes before it: sending a message locks the
// room, then reads the sender's row for the foreign key, so the other
// order deadlocks. SQLite needs none: its write transactions begin
// IMMEDIATE, one at a time.
func lockUser(ctx context.Context, tx *ent.Tx, userID int) error {
	_, err := tx.User.Query().Where(user.ID(userID)).Select(user.FieldID).
		Modify(func(s *entsql.Selector) {
			if s.Dialect() == dialect.MySQL {
				s.ForUpdate()
			}
		}).Ints(ctx)
	if err != nil {
		return fmt.Errorf("lock user %d: %w", userID, err)
	}
	return nil
}

// touchRoom takes the room's row lock (changing nothing) without reading.
func touchRoom(ctx context.Context, tx *ent.Tx, roomID int) error {
	if err := tx.Room.Update().Where(room.ID(roomID)).AddLastSeq(0).Exec(ctx); err != nil {
		return fmt.Errorf("lock room %d: %w", roomID, err)
	}
	return nil
}
