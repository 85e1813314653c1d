package graph

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/upload"
)

// Files builds the absolute URLs of stored files: attachments signed and
// expiring (only room members are handed them), avatars public.
type Files struct {
	Signer    upload.Signer
	PublicURL string
	Now       func() time.Time
}

// expiry is when URLs handed out now stop working: one to two hours on,
// the same all hour long, so the URL of a file stays cacheable.
func (f Files) expiry() time.Time {
	now := time.Now()
	if f.Now != nil {
		now = f.Now()
	}
	return now.Truncate(time.Hour).Add(2 * time.Hour)
}

// signed returns PublicURL + shown, with the signature of path.
func (f Files) signed(path, shown string) string {
	s := f.Signer.Sign(path, f.expiry())
	_, query, _ := strings.Cut(s, "?")
	return f.PublicURL + shown + "?" + query
}

// AttachmentPath is the signed path of an attachment's bytes.
func AttachmentPath(id int) string { return "/files/" + strconv.Itoa(id) }

// ThumbnailPath is the signed path of an attachment's thumbnail.
func ThumbnailPath(id int) string { return "/thumbnails/" + strconv.Itoa(id) }

// AttachmentURL is where a member downloads the attachment: its name ends
// the path, so "save as" keeps it.
func (f Files) AttachmentURL(a *ent.Attachment) string {
	p := AttachmentPath(a.ID)
	return f.signed(p, p+"/"+url.PathEscape(a.Filename))
}

// ThumbnailURL is the attachment's thumbnail, when it has one.
func (f Files) ThumbnailURL(a *ent.Attachment) *string {
	if a.ThumbnailKey == nil {
		return nil
	}
	u := f.signed(ThumbnailPath(a.ID), ThumbnailPath(a.ID))
	return &u
}

// AvatarURL is the public URL of a profile image.
func (f Files) AvatarURL(attachmentID int) string {
	return f.PublicURL + "/avatars/" + strconv.Itoa(attachmentID)
}
