package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/server"
)

// widgetHost is a web site of its own (another port: another origin) that
// embeds the notification widget from chatty, as a customer's site would:
// GET / is the page, GET /token is the site's own back end handing the
// signed-in user's chatty token to the widget's getToken. /control/… is
// the test's remote control (set the token, close chatty's sockets).
type widgetHost struct {
	*httptest.Server
	mu        sync.Mutex
	token     string
	bad       int      // how many of the next /token answers are a token chatty refuses
	calls     []string // each /token call's retry flag, in order
	closeAll  func()
	chattyURL string
	held      chan struct{} // while non-nil, /token answers only once it is closed
	waiting   int           // /token calls being held
}

func newWidgetHost(t *testing.T) *widgetHost {
	h := &widgetHost{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		lang := r.URL.Query().Get("lang")
		if lang != "ko" {
			lang = "en"
		}
		h.mu.Lock()
		chattyURL := h.chattyURL
		h.mu.Unlock()
		chatty := html.EscapeString(chattyURL)
		// A strict policy, as careful sites have: scripts from itself,
		// chatty and the nonce; connections to chatty only; styles from
		// itself and the nonce (the widget must not need 'unsafe-inline').
		w.Header().Set("Content-Security-Policy", fmt.Sprintf(
			"default-src 'self'; script-src 'self' %s 'nonce-n0nce'; style-src 'self' 'nonce-n0nce'; connect-src 'self' %s %s",
			chattyURL, chattyURL, "ws"+strings.TrimPrefix(chattyURL, "http")))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html>
<html lang="%s"><head><meta charset="utf-8"><title>Host page</title>
<style nonce="n0nce">
  /* The host's CSS, rude on purpose: none of it may reach the widget. */
  body { font: 16px Georgia, serif; color: rgb(200, 0, 0); margin: 0; padding: 24px; background: #fffbe6; }
  header { display: flex; align-items: center; justify-content: space-between; max-width: 720px; }
  span, div { letter-spacing: 3px; }
  .count { background: rgb(0, 255, 0) !important; }
  .toast { display: none !important; }
  svg { display: none; }
</style></head>
<body>
<header><h1>Example shop</h1><div id="badge"></div></header>
<p>Welcome back. <span class="count" id="host-count">host's own .count</span></p>
<script src="%s/widget.js"></script>
<script nonce="n0nce">
  window.widget = ChattyWidget.mount(document.getElementById('badge'), {
    url: %q,
    lang: %q,
    getToken: async ({ retry }) => (await fetch('/token?retry=' + retry)).text(),
  });
</script>
</body></html>`, lang, chatty, chattyURL+"/graphql", lang)
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls = append(h.calls, r.URL.Query().Get("retry"))
		if held := h.held; held != nil {
			h.waiting++
			h.mu.Unlock()
			select {
			case <-held:
			case <-r.Context().Done():
			}
			h.mu.Lock()
			h.waiting--
		}
		tok := h.token
		if h.bad > 0 {
			h.bad--
			tok = "not-a-token"
		}
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, tok)
	})
	mux.HandleFunc("POST /control/token", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Token string `json:"token"`
			Bad   int    `json:"bad"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.token, h.bad = in.Token, in.Bad
		h.mu.Unlock()
	})
	// hold: /token answers wait (the widget is stuck reconnecting);
	// release: they go out.
	mux.HandleFunc("POST /control/hold", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.held == nil {
			h.held = make(chan struct{})
		}
	})
	mux.HandleFunc("POST /control/release", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.held != nil {
			close(h.held)
			h.held = nil
		}
	})
	mux.HandleFunc("GET /control/waiting", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		_ = json.NewEncoder(w).Encode(h.waiting)
	})
	mux.HandleFunc("GET /control/calls", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		_ = json.NewEncoder(w).Encode(append([]string{}, h.calls...))
	})
	mux.HandleFunc("POST /control/close", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		closeAll := h.closeAll
		h.mu.Unlock()
		closeAll() // what a deploy does: every socket closes with 1001
	})
	h.Server = httptest.NewServer(mux)
	t.Cleanup(h.Close)
	return h
}

// TestWidgetInBrowser: the notification widget in headless Chromium on a
// page of another origin (allowed by CHATTY_ALLOWED_ORIGINS): the badge
// rises with messages and clears when B reads, toasts show messages and a
// friend request, the widget survives a refused token (4403) and a server
// closing its sockets, and the host's CSS does not reach it. A page on an
// origin chatty does not allow gets no data and shows the error state.
// The run saves web/widget/screenshots/widget.png for the README.
//
// Needs node, e2e/node_modules (playwright-core) and Chromium: skipped
// without them, a failure under CHATTY_CI=1.
func TestWidgetInBrowser(t *testing.T) {
	root, _ := filepath.Abs("../..")
	script := filepath.Join(root, "e2e", "widget.browser.mjs")
	required := os.Getenv("CHATTY_CI") == "1"
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(root, "e2e", "node_modules", "playwright-core"))
	_, chromeErr := os.Stat(chromium)
	if nodeErr != nil || modErr != nil || chromeErr != nil {
		msg := fmt.Sprintf("node (%v), e2e/node_modules/playwright-core (%v) or Chromium at %s (%v) missing", nodeErr, modErr, chromium, chromeErr)
		if required {
			t.Fatalf("CHATTY_CI=1 but %s", msg)
		}
		t.Skip(msg + "; CI runs this with CHATTY_CI=1")
	}

	allowed, foreign := newWidgetHost(t), newWidgetHost(t)
	e := newEnv(t, "sqlite", envOption{server: func(sc *server.Config, _ *auth.Options) {
		sc.AllowedOrigins = []string{allowed.URL}
	}})
	for _, h := range []*widgetHost{allowed, foreign} {
		h.mu.Lock() // the hosts' handlers read them from their own goroutines
		h.chattyURL, h.closeAll = e.URL, e.Server.CloseWebSockets
		h.mu.Unlock()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	shots := filepath.Join(root, "web", "widget", "screenshots")
	cmd := exec.CommandContext(ctx, "node", script, e.URL, allowed.URL, foreign.URL, shots)
	cmd.Dir = filepath.Join(root, "e2e")
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", filepath.Base(script), err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}
