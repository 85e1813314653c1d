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

// maxRanges is the most ranges a download answers as ranges. Each range
// is a seek, and on S3 storage a GET of its own: a request for more gets
// the whole file (200), as a server may always answer, so one request
// can't make hundreds of reads of the store.
const maxRanges = 8

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
	if rng := r.Header.Get("Range"); strings.Count(rng, ",") >= maxRanges {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", d.File.ModTime(), d.File)
}

// fileCORS lets a browser app on an allowed origin (CHATTY_ALLOWED_ORIGINS,
// the public URL's) fetch() files, thumbnails and avatars: the answer
// names the origin, and a script may read Content-Disposition (the file's
// name). The links are signed and carry no credentials, so no cookies are
// allowed. A preflight (a fetch with headers beyond the simple ones, such
// as Range) is answered here; other origins get no CORS headers at all
// (a preflight from one is 403), so their scripts can't read the bytes.
func (s *Server) fileCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin") // the answer differs by origin: caches must keep them apart
		origin := r.Header.Get("Origin")
		allowed := origin != "" && s.origins.allows(origin, r)
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Content-Disposition, Content-Length, Content-Range, Accept-Ranges, ETag, Last-Modified")
		}
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Allow", "GET, HEAD, OPTIONS")
		method := r.Header.Get("Access-Control-Request-Method")
		switch {
		case method == "": // not a preflight
			w.WriteHeader(http.StatusNoContent)
		case !allowed || (method != http.MethodGet && method != http.MethodHead):
			h.Del("Access-Control-Allow-Origin")
			h.Del("Access-Control-Expose-Headers")
			http.Error(w, "this origin may not read files here", http.StatusForbidden)
		default:
			h.Set("Access-Control-Allow-Methods", "GET, HEAD")
			h.Set("Access-Control-Allow-Headers", "Range, If-Range, If-None-Match, If-Modified-Since")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
		}
	})
}
