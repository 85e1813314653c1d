package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// webAppPrefix is where the web app (package web, built by `make web`) is served.
const webAppPrefix = "/app/"

var webAppContentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".webp":  "image/webp",
	".woff2": "font/woff2",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
}

type webAppFile struct {
	body        []byte
	gzipped     []byte // nil when compressing does not pay
	contentType string
	etag        string
}

// webAppHandler serves the built app: its files as they are (those under
// assets/ carry a content hash in their name and are cached for a year),
// and index.html, never cached, for every other path under /app/, so the
// app's own routes (/app/rooms/…) survive a reload.
type webAppHandler struct {
	files     map[string]webAppFile // by path under /app/
	index     webAppFile
	publicURL string
}

func newWebAppHandler(dist fs.FS, publicURL string) (*webAppHandler, error) {
	h := &webAppHandler{files: map[string]webAppFile{}, publicURL: publicURL}
	err := fs.WalkDir(dist, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := webAppContentTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		body, err := fs.ReadFile(dist, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h.files[p] = webAppFile{body: body, gzipped: gzipped(body, ct), contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	index, ok := h.files["index.html"]
	if !ok {
		return nil, fmt.Errorf("index.html missing: run `make web`")
	}
	h.index = index
	return h, nil
}

// webApp serves the app at /app/ from dist (package web's files).
func webApp(dist fs.FS, publicURL string) http.Handler {
	h, err := newWebAppHandler(dist, publicURL)
	if err != nil {
		panic(fmt.Sprintf("web app: %v", err)) // the files are compiled in
	}
	return h
}

func (h *webAppHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, webAppPrefix)
	if f, ok := h.files[name]; ok && name != "index.html" {
		hdr.Set("Content-Type", f.contentType)
		if strings.HasPrefix(name, "assets/") {
			hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			hdr.Set("Cache-Control", "no-cache")
		}
		f.serve(w, r)
		return
	}
	// A file the page asks for that is not there (an old page after a
	// deploy) is a 404, not the page: a script must not get HTML.
	if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
		http.NotFound(w, r)
		return
	}
	hdr.Set("Content-Type", h.index.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Security-Policy", webAppCSP(r.Host, h.publicURL))
	hdr.Set("X-Frame-Options", "DENY")
	h.index.serve(w, r)
}

// serve writes the file, gzipped when the client takes it.
func (f webAppFile) serve(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	body, etag := f.body, f.etag
	if f.gzipped != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = f.gzipped, strings.TrimSuffix(f.etag, `"`)+`-gz"`
			hdr.Set("Content-Encoding", "gzip")
			// ServeContent leaves Content-Length out of encoded answers;
			// the whole gzipped file is always sent (no ranges of it).
			r.Header.Del("Range")
			hdr.Set("Content-Length", strconv.Itoa(len(body)))
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// gzipped compresses a text file once, at start.
func gzipped(body []byte, contentType string) []byte {
	if len(body) < 1024 || !(strings.HasPrefix(contentType, "text/") || contentType == "image/svg+xml" || contentType == "application/json") {
		return nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(body)
	_ = zw.Close()
	return buf.Bytes()
}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}

// webAppCSP is the app's Content-Security-Policy: its scripts and styles
// from its own origin only (Vite's build has no inline script), no eval;
// images also as data: and blob: (previews). Files, thumbnails and avatars
// come from the API's public URL, which may be another origin than the
// page's (behind a proxy); WebSockets are named explicitly, as browsers
// following CSP level 2 do not let 'self' cover ws:/wss:.
func webAppCSP(host, publicURL string) string {
	api := "'self'"
	var hosts []string
	if validCSPHost(host) {
		hosts = append(hosts, host)
	}
	if u, err := url.Parse(publicURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && validCSPHost(u.Host) {
		api += " " + u.Scheme + "://" + u.Host
		if !slices.Contains(hosts, u.Host) {
			hosts = append(hosts, u.Host)
		}
	}
	connect := api
	for _, h := range hosts {
		connect += " ws://" + h + " wss://" + h
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src " + api + " data: blob:",
		"media-src " + api,
		"font-src 'self'",
		"connect-src " + connect,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}
