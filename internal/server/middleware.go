package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/viewer"
)

// withClient records the client's address and user agent in the context.
func (s *Server) withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.cfg.TrustedProxies)
		ctx := viewer.WithClient(r.Context(), viewer.Client{IP: ip, UserAgent: r.UserAgent()})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// clientIP is the address a request comes from. It is the direct peer's,
// unless the peer is a trusted proxy: then X-Forwarded-For is read from
// the right (each proxy appends the address it was reached from) and the
// first address that is not a trusted proxy's is the client. Whatever a
// client writes into the header itself stays to the left of that and is
// never believed. An entry that is not an address ends the walk at the
// last trusted hop.
func clientIP(remoteAddr string, forwarded []string, trusted []netip.Prefix) string {
	peer := remoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil {
		return peer
	}
	addr = addr.Unmap().WithZone("")
	if !isTrusted(addr, trusted) {
		return addr.String()
	}
	for i := len(forwarded) - 1; i >= 0; i-- {
		hops := strings.Split(forwarded[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop, ok := parseHop(hops[j])
			if !ok {
				return addr.String()
			}
			addr = hop
			if !isTrusted(addr, trusted) {
				return addr.String()
			}
		}
	}
	return addr.String() // every hop a trusted proxy: the left-most
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port ("203.0.113.7:4711", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// recover turns a panic outside gqlgen into a logged 500.
func (s *Server) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "panic in handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				http.Error(w, "internal server error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// code is the status written, 200 when none was.
func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the real writer (flushing).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a WebSocket upgrade: gorilla/websocket
// asks the writer itself for http.Hijacker and does not look through Unwrap.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// instrument counts, times and logs the requests of one route, under
// the labels promhttp's instrumentation gives them (method and code as
// its sanitizeMethod and sanitizeCode write them). A WebSocket upgrade is
// counted apart (chatty_websocket_upgrades_total): its handler returns
// only when the socket closes, so timing it would fill the latency
// histogram with connection lifetimes. The series are looked up by
// position, and the route's histogram once: promhttp's wrappers built a
// label map and a delegating writer per request.
func (s *Server) instrument(route string, next http.Handler) http.Handler {
	route1 := prometheus.Labels{"route": route}
	requests := s.metrics.requests.MustCurryWith(route1)
	latency := s.metrics.latency.With(route1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		if websocket.IsWebSocketUpgrade(r) {
			next.ServeHTTP(sw, r)
			s.metrics.upgrades.WithLabelValues(route, strconv.Itoa(sw.code())).Inc()
		} else {
			next.ServeHTTP(sw, r)
			latency.Observe(time.Since(start).Seconds())
			requests.WithLabelValues(metricMethod(r.Method), metricCode(sw.code())).Inc()
		}
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.DebugContext(r.Context(), "request",
				"method", r.Method, "path", r.URL.Path, "status", sw.code(),
				"duration_ms", float64(time.Since(start).Microseconds())/1000, "client_ip", viewer.ClientFromContext(r.Context()).IP)
		}
	})
}

// metricMethod is a request's method as a label: lower case for the
// standard ones, "unknown" for any other (as promhttp's sanitizeMethod).
func metricMethod(m string) string {
	switch m {
	case "GET", "get":
		return "get"
	case "POST", "post":
		return "post"
	case "OPTIONS", "options":
		return "options"
	case "HEAD", "head":
		return "head"
	case "PUT", "put":
		return "put"
	case "DELETE", "delete":
		return "delete"
	case "CONNECT", "connect":
		return "connect"
	case "NOTIFY", "notify":
		return "notify"
	case "TRACE", "trace":
		return "trace"
	case "PATCH", "patch":
		return "patch"
	}
	return "unknown"
}

// metricCode is a status code as a label (as promhttp's sanitizeCode).
func metricCode(code int) string {
	switch {
	case code == http.StatusOK:
		return "200"
	case code >= 100 && code <= 599:
		return strconv.Itoa(code)
	}
	return "unknown"
}

// limitBody refuses request bodies over the limit with 413 and a coded
// GraphQL error, before anything parses them.
func (s *Server) limitBody(next http.Handler) http.Handler {
	max := s.cfg.Limits.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if ct := r.Header.Get("Content-Type"); !isPlainJSON(ct) && isMultipart(ct) {
			// Files stream through: the upload transport reads them to disk under its own limit.
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.Limits.MaxUploadBytes)
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			writeError(w, http.StatusRequestEntityTooLarge, apperr.New(apperr.TooLarge, "the request body is larger than %d bytes", max))
			return
		}
		body, err := readAll(http.MaxBytesReader(w, r.Body, max), r.ContentLength, max)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, apperr.New(apperr.TooLarge, "the request body is larger than %d bytes", max))
			return
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, apperr.New(apperr.BadInput, "the request body could not be read"))
			return
		}
		rb := &readBody{data: body}
		rb.Reset(body)
		r.Body = rb
		next.ServeHTTP(w, r)
	})
}

// readBody is a request body limitBody has read: the GraphQL transport
// takes its bytes as they are instead of copying them again.
type readBody struct {
	bytes.Reader
	data []byte
}

func (*readBody) Close() error { return nil }

// bodyBytes returns the bytes of a body limitBody has read and nobody has
// read from since, or false.
func bodyBytes(body io.Reader) ([]byte, bool) {
	rb, ok := body.(*readBody)
	if !ok || rb.Len() != len(rb.data) {
		return nil, false
	}
	return rb.data, true
}

// readAll is io.ReadAll sized by the request's Content-Length (when it
// declares one within max and within presizeLimit), so that a body is
// read into one allocation. A larger declared length is not allocated
// ahead: a client could declare it and send nothing, holding that memory
// per connection for the cost of its headers.
func readAll(r io.Reader, contentLength, max int64) ([]byte, error) {
	size := int64(512)
	if contentLength >= 0 && contentLength <= min(max, presizeLimit) {
		size = contentLength + 1 // room for the read that sees EOF
	}
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow, as io.ReadAll does
		}
	}
}

// presizeLimit bounds what readAll allocates on a declared Content-Length
// before the bytes arrive.
const presizeLimit = 64 << 10

// isPlainJSON reports whether a Content-Type is application/json as
// clients usually send it, which needs no parsing to tell.
func isPlainJSON(contentType string) bool {
	return contentType == mediaJSON || contentType == "application/json; charset=utf-8" || contentType == "application/json;charset=utf-8"
}

// isMultipart reports whether a Content-Type is multipart/form-data.
func isMultipart(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "multipart/form-data"
}

// writeError answers with a GraphQL-shaped error document.
func writeError(w http.ResponseWriter, status int, e *apperr.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": e.Message, "extensions": map[string]any{"code": string(e.Kind)}}},
	})
}

// originPolicy says which browser origins may call the API: the public
// URL's own and the configured ones.
type originPolicy struct {
	any     bool
	allowed map[string]bool
}

func newOriginPolicy(publicURL string, extra []string) *originPolicy {
	p := &originPolicy{allowed: map[string]bool{}}
	if o := originOf(publicURL); o != "" {
		p.allowed[o] = true
	}
	for _, o := range extra {
		if o == "*" {
			p.any = true
			continue
		}
		if o = originOf(o); o != "" {
			p.allowed[o] = true
		}
	}
	return p
}

func originOf(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// OriginAllowed says whether a browser origin ("https://app.example.com")
// is the public URL's or one of the allowed ones: the rule CORS and
// WebSocket upgrades follow, for other uses (OAuth redirects).
func OriginAllowed(publicURL string, allowed []string) func(origin string) bool {
	p := newOriginPolicy(publicURL, allowed)
	return func(origin string) bool { return p.any || p.allowed[originOf(origin)] }
}

// allows reports whether a request from origin may proceed. Requests
// without an Origin header (non-browser clients) always may; a browser's
// same-origin request (Origin equals the request's host) too.
func (p *originPolicy) allows(origin string, r *http.Request) bool {
	if origin == "" || p.any {
		return true
	}
	o := originOf(origin)
	if p.allowed[o] {
		return true
	}
	return o == "http://"+strings.ToLower(r.Host) || o == "https://"+strings.ToLower(r.Host)
}

// cors answers preflights and sets CORS headers for allowed origins.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && s.origins.allows(origin, r) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Apollo-Require-Preflight, X-Apollo-Operation-Name")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
