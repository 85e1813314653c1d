package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/attachment"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/ent/user"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/upload"
	"github.com/chatty/chatty/internal/viewer"
)

// ErrNoUploads refuses files when the server has no upload storage.
var ErrNoUploads = apperr.New(apperr.UnsupportedMedia, "this server does not accept files")

// SendFileInput is a file sent to a room, with an optional caption.
type SendFileInput struct {
	RoomID   int
	File     io.Reader
	Filename string
	Caption  *string
	ClientID *string
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
	if _, err := currentMember(ctx, s.db, in.RoomID, v.UserID); err != nil {
		return nil, err // before storing anything
	}
	if clientID != nil {
		if first, err := s.byClientID(ctx, s.db, in.RoomID, v.UserID, *clientID); err != nil || first != nil {
			return first, err
		}
	}
	stored, err := s.uploads.Save(ctx, in.File, in.Filename)
	if err != nil {
		return nil, err
	}
	kind := message.KindFILE
	if stored.IsImage {
		kind = message.KindIMAGE
	}
	var out *ent.Message
	err = s.inRoomTx(ctx, in.RoomID, func(tx *ent.Tx, em *emitter) error {
		seq, err := nextSeq(ctx, tx, in.RoomID, s.now())
		if err != nil {
			return err
		}
		if _, err := currentMember(ctx, tx.Client(), in.RoomID, v.UserID); err != nil {
			return err
		}
		att, err := createAttachment(ctx, tx, v.UserID, stored, s)
		if err != nil {
			return err
		}
		m, err := s.store(ctx, tx, em, in.RoomID, seq, draft{kind: kind, body: caption, sender: &v.UserID, clientID: clientID, attachmentID: &att.ID})
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
// one is removed.
func (s *Service) UploadAvatar(ctx context.Context, v viewer.Viewer, file io.Reader, filename string) (*ent.User, error) {
	if s.uploads == nil {
		return nil, ErrNoUploads
	}
	stored, err := s.uploads.SaveImage(ctx, file, filename)
	if err != nil {
		return nil, err
	}
	var (
		out *ent.User
		old *ent.Attachment
	)
	err = s.inTx(ctx, func(tx *ent.Tx, _ *emitter) error {
		u, err := tx.User.Query().Where(user.ID(v.UserID), user.DeletedAtIsNil()).Only(ctx)
		if err != nil {
			return fmt.Errorf("load user %d: %w", v.UserID, err)
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
