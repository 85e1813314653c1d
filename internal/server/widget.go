package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/chatty/chatty/web/widget"
)

// widgetScript serves the notification widget at /widget.js, for any site
// to include as a classic script (<script src=".../widget.js">). The file
// is public: any origin may load it, also with crossorigin and integrity
// attributes (Access-Control-Allow-Origin: *) and under a Cross-Origin
// Embedder Policy (Cross-Origin-Resource-Policy: cross-origin). Whether a
// page may then *talk* to chatty is the origin policy's call, at the
// WebSocket upgrade. The URL carries no version, so caches keep it for
// five minutes and then revalidate by ETag: a new release reaches every
// page within minutes.
func widgetScript(script []byte) http.Handler {
	sum := sha256.Sum256(script)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// text/javascript is the registered type (RFC 9239; the older
		// application/javascript is obsolete, and browsers run both).
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300, stale-while-revalidate=86400")
		h.Set("ETag", etag)
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		// ServeContent answers If-None-Match (304), HEAD and ranges.
		http.ServeContent(w, r, "widget.js", time.Time{}, bytes.NewReader(script))
	})
}

var widgetHandler = widgetScript(widget.Script)
