package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/chatty/chatty/graph"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/upload"
)

// minDownloadRate is the slowest pace (bytes a second) a download may
// keep before the server's write deadline ends it.
const minDownloadRate = 32 << 10

// serveFile answers GET /files/{id}/{name} and /thumbnails/{id}: the
// bytes of an attachment for whoever holds its signed URL.
func (s *Server) serveFile(thumbnail bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil || id <= 0 {
			http.NotFound(w, r)
			return
		}
		path := graph.AttachmentPath(id)
		if thumbnail {
			path = graph.ThumbnailPath(id)
		}
		q := r.URL.Query()
		if !s.cfg.Signer.Verify(path, q.Get("exp"), q.Get("sig"), time.Now()) {
			http.Error(w, "this link is invalid or has expired: ask for the message again", http.StatusForbidden)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.DBTimeout)
		defer cancel()
		d, err := s.cfg.Chat.OpenAttachment(ctx, id, thumbnail)
		s.send(w, r, d, err, thumbnail, "private, max-age=3600")
	}
}

// serveAvatar answers GET /avatars/{id}: a live user's current profile image.
func (s *Server) serveAvatar(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id <= 0 {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.DBTimeout)
	defer cancel()
	d, err := s.cfg.Chat.OpenAvatar(ctx, id)
	s.send(w, r, d, err, false, "public, max-age=300")
}

// send writes a stored file. Its bytes are never interpreted by the
// browser as a page of this origin: the type is the sniffed one, nosniff,
// and a sandboxing CSP.
func (s *Server) send(w http.ResponseWriter, r *http.Request, d *chat.Download, err error, thumbnail bool, cache string) {
	if errors.Is(err, chat.ErrNodeNotFound) || apperr.KindOf(err) == apperr.NotFound {
		http.NotFound(w, r)
		return
	}
	if database.Unavailable(err) {
		s.log.WarnContext(r.Context(), "serve file: database unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the server is busy: try again shortly", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "serve file", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	defer d.File.Close()
	a := d.Attachment
	h := w.Header()
	ctype := a.ContentType
	if thumbnail {
		ctype = "image/jpeg"
		if a.ThumbnailKey != nil && strings.HasSuffix(*a.ThumbnailKey, ".png") {
			ctype = "image/png"
		}
	}
	h.Set("Content-Type", ctype)
	inline := thumbnail || a.Width != nil // decoded as an image; anything else downloads
	h.Set("Content-Disposition", upload.ContentDisposition(inline, a.Filename))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", cache)
	// The server's write timeout is meant for API answers; a large file to
	// a slow client gets longer, as long as it keeps a minimum pace.
	allowed := s.cfg.Timeouts.Write + time.Duration(d.File.Size()/minDownloadRate)*time.Second
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(allowed))
	http.ServeContent(w, r, "", d.File.ModTime(), d.File)
}
