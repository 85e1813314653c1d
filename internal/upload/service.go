// Package upload accepts files sent in chat (images, documents) and avatars:
// it enforces size limits, sniffs the type from the bytes, decodes images
// within a pixel limit and makes thumbnails, keeps the bytes in a Storage
// (local disk by default), and signs expiring download URLs.
package upload

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"time"
	"unicode/utf8"

	"github.com/chatty/chatty/internal/apperr"
)

// Limits bound what Save accepts. Zero fields take the defaults.
type Limits struct {
	MaxFileBytes   int64 // default 20 MiB
	MaxImagePixels int   // default 40_000_000: larger images are stored as plain files, never decoded (decompression bombs)
	ThumbnailSize  int   // default 320: the longer side of a thumbnail
	// DecodeMemory bounds the memory that image decodes running at once are
	// estimated to take (default 512 MiB); one image may take at most half
	// of it, a larger one is stored as a plain file without decoding.
	DecodeMemory int64
	// DecodesPerUser is how many of one user's images decode at once
	// (default 1): the others wait, and other users' images go first.
	DecodesPerUser int
}

// The defaults of Limits.
const (
	DefaultMaxFileBytes   = 20 << 20
	DefaultMaxImagePixels = 40_000_000
	DefaultThumbnailSize  = 320
	DefaultDecodeMemory   = 512 << 20
	DefaultDecodesPerUser = 1
)

// Stored describes a saved file.
type Stored struct {
	Key          string // storage key of the file
	ThumbnailKey string // storage key of the thumbnail; empty when none
	Filename     string // the client's name, cleaned by CleanFilename, unicode kept
	ContentType  string // sniffed from the bytes, never taken from the client
	Size         int64  // in bytes
	SHA256       string // of the bytes, hex
	// Width and Height are set for images only, as displayed: a JPEG's EXIF
	// orientation is applied.
	Width, Height int
	// IsImage is true when the file decoded as image/jpeg, image/png,
	// image/gif or image/webp within the pixel limit and the memory one
	// decode may take; only then is there a thumbnail.
	IsImage bool
}

// Service saves uploads to a Storage.
type Service struct {
	store  Storage
	limits Limits
	budget *budget
}

// NewService returns a Service storing files in s within l.
func NewService(s Storage, l Limits) *Service {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxImagePixels <= 0 {
		l.MaxImagePixels = DefaultMaxImagePixels
	}
	if l.ThumbnailSize <= 0 {
		l.ThumbnailSize = DefaultThumbnailSize
	}
	if l.DecodeMemory <= 0 {
		l.DecodeMemory = DefaultDecodeMemory
	}
	if l.DecodesPerUser <= 0 {
		l.DecodesPerUser = DefaultDecodesPerUser
	}
	return &Service{store: s, limits: l, budget: newBudget(l.DecodeMemory, l.DecodesPerUser)}
}

// maxImageCost is the most memory one image's decode may be estimated to
// take: half the budget, so that another user's image always finds room
// beside the largest.
func (s *Service) maxImageCost() int64 { return s.limits.DecodeMemory / 2 }

// Uploader says whose upload it is.
type Uploader struct {
	// ID identifies the user: decodes are limited per ID.
	ID int
	// Quota is how many bytes the user may still store: a file larger is
	// refused with an error wrapping ErrOverQuota. Zero or less is no limit
	// beyond Limits.MaxFileBytes.
	Quota int64
}

// ErrOverQuota marks a file larger than its Uploader's Quota. The caller,
// who knows the quota, tells the client.
var ErrOverQuota = errors.New("upload over the uploader's quota")

// Save streams r, uploaded by u, to storage (never holding the whole file in memory, hashing
// and counting while writing; a file over Limits.MaxFileBytes is refused with
// apperr.TooLarge and nothing of it is kept), sniffs its type from the bytes,
// and for a JPEG, PNG, GIF or WebP image within Limits.MaxImagePixels
// decodes it (when its estimated memory fits, see Limits.DecodeMemory) and
// stores a thumbnail: JPEG, or PNG when the image has transparency, keeping
// the aspect ratio, never enlarged. Images that do not decode or are over
// the pixel or memory limit are kept as plain files. A file over u.Quota is
// refused with an error wrapping ErrOverQuota. An empty file
// or a filename that is not UTF-8 is refused with apperr.BadInput on field
// "file".
func (s *Service) Save(ctx context.Context, u Uploader, r io.Reader, filename string) (*Stored, error) {
	return s.save(ctx, u, r, filename, false)
}

// SaveImage is Save for avatars: it refuses anything that is not a decodable
// JPEG, PNG, GIF or WebP image with apperr.UnsupportedMedia (an image over
// the pixel or memory limit with apperr.TooLarge), keeping nothing of it.
func (s *Service) SaveImage(ctx context.Context, u Uploader, r io.Reader, filename string) (*Stored, error) {
	return s.save(ctx, u, r, filename, true)
}

var errNotImage = apperr.New(apperr.UnsupportedMedia, "the file must be a JPEG, PNG, GIF or WebP image")

func (s *Service) save(ctx context.Context, u Uploader, r io.Reader, filename string, imageOnly bool) (*Stored, error) {
	if !utf8.ValidString(filename) {
		return nil, apperr.Input("file", "the file name is not valid UTF-8")
	}
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	switch {
	case errors.Is(err, io.EOF):
		return nil, apperr.Input("file", "the file is empty")
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("read upload: %w", err)
	}
	head = head[:n]
	ct := sniff(head)
	if _, ok := codecs[ct]; imageOnly && !ok {
		return nil, errNotImage
	}

	key := newKey(time.Now())
	limit, quota := s.limits.MaxFileBytes, false
	if u.Quota > 0 && u.Quota < limit {
		limit, quota = u.Quota, true
	}
	m := &meter{r: io.MultiReader(bytes.NewReader(head), r), limit: limit, hash: sha256.New()}
	if ct == textUTF8 {
		m.text = &textCheck{}
	}
	cleanup := context.WithoutCancel(ctx)
	if err := s.store.Put(ctx, key, m); err != nil {
		_ = s.store.Delete(cleanup, key)
		if m.over && quota {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrOverQuota, limit)
		}
		if m.over {
			return nil, apperr.New(apperr.TooLarge, "the file is larger than %s", FormatBytes(s.limits.MaxFileBytes))
		}
		return nil, fmt.Errorf("store upload: %w", err)
	}
	st := &Stored{
		Key:         key,
		Filename:    CleanFilename(filename),
		ContentType: ct,
		Size:        m.n,
		SHA256:      hex.EncodeToString(m.hash.Sum(nil)),
	}
	if m.text != nil {
		st.ContentType = m.text.contentType()
	}
	if _, ok := codecs[ct]; !ok {
		return st, nil
	}

	info, err := s.probe(ctx, key, ct, u.ID)
	if err == nil && info.ok {
		tkey := key + ".thumb" + info.thumbExt
		if err = s.store.Put(ctx, tkey, bytes.NewReader(info.thumb)); err != nil {
			err = fmt.Errorf("store thumbnail: %w", err)
		} else {
			st.ThumbnailKey = tkey
			st.Width, st.Height, st.IsImage = info.width, info.height, true
		}
	}
	if err == nil && imageOnly && !st.IsImage {
		err = errNotImage
		switch {
		case info.tooManyPixels:
			err = apperr.New(apperr.TooLarge, "the image is larger than %d megapixels", s.limits.MaxImagePixels/1_000_000)
		case info.overBudget:
			err = apperr.New(apperr.TooLarge, "the image would take more than %s of memory to decode", FormatBytes(s.maxImageCost()))
		}
	}
	if err != nil {
		_ = s.Delete(cleanup, st)
		return nil, err
	}
	return st, nil
}

// probe decodes the stored image under key.
func (s *Service) probe(ctx context.Context, key, ct string, owner int) (imageInfo, error) {
	f, err := s.store.Open(ctx, key)
	if err != nil {
		return imageInfo{}, fmt.Errorf("reopen upload: %w", err)
	}
	defer f.Close()
	return s.probeImage(ctx, f, ct, owner)
}

// Open returns the stored file under key, for serving. A missing file is
// apperr.NotFound.
func (s *Service) Open(ctx context.Context, key string) (File, error) {
	f, err := s.store.Open(ctx, key)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errBadKey) {
		return nil, apperr.New(apperr.NotFound, "file not found")
	}
	if err != nil {
		return nil, fmt.Errorf("open upload: %w", err)
	}
	return f, nil
}

// Delete removes a stored file and its thumbnail. Files already gone are
// not an error.
func (s *Service) Delete(ctx context.Context, st *Stored) error {
	var errs []error
	for _, key := range []string{st.Key, st.ThumbnailKey} {
		if key == "" {
			continue
		}
		if err := s.store.Delete(ctx, key); err != nil {
			errs = append(errs, fmt.Errorf("delete upload: %w", err))
		}
	}
	return errors.Join(errs...)
}

// newKey returns a fresh storage key, "2006/01/<32 hex digits>" (UTC), which
// says nothing about the file or its uploader.
func newKey(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("2006/01/") + hex.EncodeToString(b[:])
}

// errTooLarge stops Put once the file passes the limit.
var errTooLarge = errors.New("upload over the size limit")

// meter passes an upload through to storage, counting and hashing it, and
// fails once it grows past limit.
type meter struct {
	r     io.Reader
	limit int64
	n     int64
	over  bool
	hash  hash.Hash
	text  *textCheck // nil unless the file looked like UTF-8 text
}

func (m *meter) Read(p []byte) (int, error) {
	if m.over {
		return 0, errTooLarge
	}
	n, err := m.r.Read(p)
	m.n += int64(n)
	if m.n > m.limit {
		m.over = true
		return 0, errTooLarge
	}
	m.hash.Write(p[:n])
	if m.text != nil {
		m.text.write(p[:n])
	}
	return n, err
}

// FormatBytes writes a size for people: "1 GiB", "20 MiB", "1.5 MiB", "512 KiB", "100 bytes".
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
