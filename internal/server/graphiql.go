package server

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
)

// graphiqlFiles holds the GraphiQL page: index.html (a template), our
// boot.js and page.css, and the vendored React and GraphiQL builds (see
// graphiql/README.md for where they come from).
//
//go:embed graphiql
var graphiqlFiles embed.FS

// graphiqlAssetPrefix is where the page's scripts and styles are served:
// /graphiql/<content hash>/<file>, so they can be cached for a year.
const graphiqlAssetPrefix = "/graphiql/"

// graphiqlContentTypes lists the kinds of file served as assets; other
// files in the folder (index.html, README.md) are not.
var graphiqlContentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

type graphiqlAsset struct {
	body        []byte
	contentType string
	hash        string
}

type graphiqlHandler struct {
	index    *template.Template
	endpoint string
	urls     map[string]string        // file name → URL, for the template
	assets   map[string]graphiqlAsset // by URL path
}

// graphiQL serves the GraphiQL IDE for endpoint at "/" from files embedded
// in the binary; any other path it is given, but its assets, is a 404.
func graphiQL(endpoint string) http.Handler {
	h, err := newGraphiQLHandler(graphiqlFiles, endpoint)
	if err != nil {
		// The files are compiled in: only a broken build gets here.
		panic(fmt.Sprintf("graphiql: %v", err))
	}
	return h
}

func newGraphiQLHandler(files embed.FS, endpoint string) (*graphiqlHandler, error) {
	h := &graphiqlHandler{endpoint: endpoint, urls: map[string]string{}, assets: map[string]graphiqlAsset{}}
	entries, err := fs.ReadDir(files, "graphiql")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		ct, ok := graphiqlContentTypes[path.Ext(e.Name())]
		if e.IsDir() || !ok {
			continue
		}
		body, err := files.ReadFile("graphiql/" + e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:8])
		u := graphiqlAssetPrefix + hash + "/" + e.Name()
		h.assets[u] = graphiqlAsset{body: body, contentType: ct, hash: hash}
		h.urls[e.Name()] = u
	}
	h.index, err = template.New("index.html").Option("missingkey=error").ParseFS(files, "graphiql/index.html")
	if err != nil {
		return nil, err
	}
	if _, err := h.renderIndex("check"); err != nil {
		return nil, err
	}
	return h, nil
}

// renderIndex renders the page with the style nonce of one response.
func (h *graphiqlHandler) renderIndex(nonce string) ([]byte, error) {
	var buf bytes.Buffer
	data := map[string]any{"Endpoint": h.endpoint, "Assets": h.urls, "StyleNonce": nonce}
	if err := h.index.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render index.html: %w", err)
	}
	return buf.Bytes(), nil
}

func (h *graphiqlHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	asset, isAsset := h.assets[r.URL.Path]
	if r.URL.Path != "/" && !isAsset {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	if isAsset {
		hdr.Set("Content-Type", asset.contentType)
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
		hdr.Set("ETag", `"`+asset.hash+`"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(asset.body))
		return
	}
	nonce := rand.Text()
	page, err := h.renderIndex(nonce)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Security-Policy", graphiqlCSP(r.Host, nonce))
	hdr.Set("X-Frame-Options", "DENY")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page))
}

// graphiqlCSP is the page's Content-Security-Policy. GraphiQL 3.9 runs
// without inline scripts and without eval. Two allowances, both checked in
// Chromium:
//   - style-src 'nonce-…': its dialogs (settings, shortcuts) lock scrolling
//     through react-remove-scroll, which appends a <style> element whose
//     text depends on the scrollbar width, so no hash fits. The library
//     sets window.__webpack_nonce__ on that element; boot.js sets it from
//     the page (data-style-nonce). A fresh nonce per response, and no
//     'unsafe-inline'.
//   - data: for fonts and images: graphiql.min.css embeds its fonts and
//     CodeMirror's lint icons as data: URLs.
//
// connect-src names the WebSocket origins of host explicitly: browsers that
// follow CSP level 2 do not let 'self' cover ws:/wss:.
func graphiqlCSP(host, styleNonce string) string {
	connect := "'self'"
	if validCSPHost(host) {
		connect += " ws://" + host + " wss://" + host
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self' 'nonce-" + styleNonce + "'",
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + connect,
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// cspHost matches a host[:port] that is safe to put in a CSP source list
// (the Host header may hold ';', ',' or quotes, which would change the policy).
var cspHost = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)

func validCSPHost(host string) bool { return len(host) <= 255 && cspHost.MatchString(host) }
