package server_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// The web app at /app/: index.html for the app's own routes (a reload of
// /app/rooms/42 works), hashed assets cached for a year and gzipped for
// those who take it, a missing asset a 404 rather than the page.
func TestWebAppServed(t *testing.T) {
	e := newEnv(t, "sqlite")
	get := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		// No transparent decompression: see what the server sends.
		tr := &http.Transport{DisableCompression: true}
		c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body []byte
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatalf("GET %s: gzip: %v", path, err)
			}
			body, _ = io.ReadAll(zr)
		} else {
			body, _ = io.ReadAll(resp.Body)
		}
		return resp, string(body)
	}

	var index string
	for _, path := range []string{"/app/", "/app/rooms/42", "/app/signin?next=x"} {
		resp, body := get(path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(body, `<div id="root">`) {
			t.Fatalf("GET %s: %d %s %.80q", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", path, cc)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self';", "style-src 'self';", "frame-ancestors 'none'", "connect-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-") {
			t.Errorf("GET %s: CSP allows unsafe: %q", path, csp)
		}
		index = body
	}
	if strings.Contains(index, "<script>") || strings.Contains(index, "<style") {
		t.Errorf("index.html has inline script or style, which the CSP refuses: %s", index)
	}

	src := regexp.MustCompile(`<script[^>]*src="(/app/assets/[^"]+\.js)"`).FindStringSubmatch(index)
	if src == nil {
		t.Fatalf("no /app/assets/*.js script in index.html: %s", index)
	}
	plain, js := get(src[1])
	if plain.StatusCode != 200 || plain.Header.Get("Content-Type") != "text/javascript; charset=utf-8" ||
		plain.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || plain.Header.Get("Content-Encoding") != "" {
		t.Fatalf("GET %s: %d %v", src[1], plain.StatusCode, plain.Header)
	}
	zipped, js2 := get(src[1], "Accept-Encoding", "gzip")
	if zipped.Header.Get("Content-Encoding") != "gzip" || js2 != js || zipped.Header.Get("ETag") == plain.Header.Get("ETag") {
		t.Fatalf("GET %s with gzip: %v; same body: %v", src[1], zipped.Header, js2 == js)
	}
	if cl := zipped.ContentLength; cl <= 0 || cl > 250<<10 {
		t.Errorf("the app's script is %d bytes gzipped, budget 250 KB", cl)
	}
	if resp, _ := get(src[1], "If-None-Match", plain.Header.Get("ETag")); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET %s If-None-Match: %d, want 304", src[1], resp.StatusCode)
	}

	for _, path := range []string{"/app/assets/index-missing.js", "/app/favicon.ico", "/app/assets/"} {
		if resp, _ := get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := get("/app"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/app/" {
		t.Errorf("GET /app: %d %q, want a redirect to /app/", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err := http.Post(e.URL+"/app/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /app/: %d, want 405", resp.StatusCode)
	}
	if resp, body := get("/"); resp.StatusCode != 200 || !strings.Contains(body, "graphiql") {
		t.Errorf("GET /: %d, GraphiQL expected still at /", resp.StatusCode)
	}
}
