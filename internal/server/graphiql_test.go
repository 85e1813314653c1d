package server

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func serveGraphiQL(t *testing.T, h http.Handler, method, target, host string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if host != "" {
		req.Host = host
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestGraphiQLIndex(t *testing.T) {
	h := graphiQL("/graphql")
	res := serveGraphiQL(t, h, http.MethodGet, "/", "chatty.example:8443")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: status %d, want 200", res.StatusCode)
	}
	for name, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-cache",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := res.Header.Get(name); got != want {
			t.Errorf("GET /: %s = %q, want %q", name, got, want)
		}
	}

	csp := res.Header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	nonce := regexp.MustCompile(`data-style-nonce="([^"]+)"`).FindSubmatch(body)
	if nonce == nil {
		t.Fatalf("page has no data-style-nonce:\n%s", body)
	}
	for name, want := range map[string]string{
		"default-src":     "'self'",
		"script-src":      "'self'",
		"style-src":       "'self' 'nonce-" + string(nonce[1]) + "'",
		"connect-src":     "'self' ws://chatty.example:8443 wss://chatty.example:8443",
		"frame-ancestors": "'none'",
		"base-uri":        "'none'",
		"form-action":     "'none'",
		"object-src":      "'none'",
	} {
		if got := directives[name]; got != want {
			t.Errorf("CSP %s = %q, want %q (policy: %s)", name, got, want, csp)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Errorf("CSP allows something unsafe: %s", csp)
	}
	if !strings.Contains(string(body), `data-endpoint="/graphql"`) {
		t.Errorf("page does not name the endpoint:\n%s", body)
	}
	if regexp.MustCompile(`<script(\s[^>]*)?>[^<]`).Match(body) || strings.Contains(string(body), "<style") {
		t.Errorf("page has inline script or style:\n%s", body)
	}

	// A second response gets another nonce.
	again := serveGraphiQL(t, h, http.MethodGet, "/", "")
	if again.Header.Get("Content-Security-Policy") == csp {
		t.Error("two responses share a style nonce")
	}

	head := serveGraphiQL(t, h, http.MethodHead, "/", "")
	if b, _ := io.ReadAll(head.Body); head.StatusCode != http.StatusOK || len(b) != 0 {
		t.Errorf("HEAD /: status %d with %d body bytes, want 200 and none", head.StatusCode, len(b))
	}
}

// The page must reference only assets the handler serves, each with its
// content type and a long cache lifetime.
func TestGraphiQLAssets(t *testing.T) {
	h := graphiQL("/graphql")
	res := serveGraphiQL(t, h, http.MethodGet, "/", "")
	body, _ := io.ReadAll(res.Body)
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllSubmatch(body, -1)
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	seen := map[string]bool{}
	for _, m := range refs {
		ref := string(m[1])
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		if !strings.HasPrefix(ref, "/graphiql/") {
			t.Errorf("page references %s, outside /graphiql/", ref)
			continue
		}
		seen[path.Base(ref)] = true
		res := serveGraphiQL(t, h, http.MethodGet, ref, "")
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || len(b) == 0 {
			t.Errorf("GET %s: status %d, %d bytes", ref, res.StatusCode, len(b))
		}
		if got, want := res.Header.Get("Content-Type"), types[path.Ext(ref)]; got != want {
			t.Errorf("GET %s: Content-Type %q, want %q", ref, got, want)
		}
		if got := res.Header.Get("Cache-Control"); !strings.Contains(got, "max-age=31536000") {
			t.Errorf("GET %s: Cache-Control %q, want a year", ref, got)
		}
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q", ref, got)
		}
		// Revalidation by ETag.
		req := httptest.NewRequest(http.MethodGet, ref, nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: status %d, want 304", ref, rec.Code)
		}
	}
	for _, name := range []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql.min.css", "boot.js", "page.css"} {
		if !seen[name] {
			t.Errorf("page does not reference %s", name)
		}
	}

	// Vendored files stay small enough to review and embed.
	_ = fs.WalkDir(graphiqlFiles, "graphiql", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if info, _ := d.Info(); !d.IsDir() && info.Size() > 2<<20 {
			t.Errorf("%s is %d bytes, over 2 MiB", p, info.Size())
		}
		return nil
	})
}

func TestGraphiQLRejects(t *testing.T) {
	h := graphiQL("/graphql")
	asset := ""
	for u := range h.(*graphiqlHandler).assets {
		asset = u
		break
	}
	for _, c := range []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodGet, "/index.html", http.StatusNotFound},
		{http.MethodGet, "/graphiql/", http.StatusNotFound},
		{http.MethodGet, "/graphiql/README.md", http.StatusNotFound},
		{http.MethodGet, "/graphiql/0000000000000000/graphiql.min.js", http.StatusNotFound},
		{http.MethodGet, path.Join("/graphiql/", path.Base(asset)), http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodPut, asset, http.StatusMethodNotAllowed},
	} {
		res := serveGraphiQL(t, h, c.method, c.target, "")
		if res.StatusCode != c.want {
			t.Errorf("%s %s: status %d, want %d", c.method, c.target, res.StatusCode, c.want)
		}
		if c.want == http.StatusMethodNotAllowed && res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", c.method, c.target, res.Header.Get("Allow"))
		}
	}
}

// A Host header that could change the policy is left out of it.
func TestGraphiQLCSPHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost:8080":       true,
		"chatty.example":       true,
		"[::1]:8080":           true,
		"a;script-src *":       false,
		"evil.example 'self'":  false,
		"x,y":                  false,
		"":                     false,
		"host:8080:9090":       false,
		"bad_host.example:80'": false,
	} {
		csp := graphiqlCSP(host, "n")
		if got := host != "" && strings.Contains(csp, "ws://"+host+" "); got != want {
			t.Errorf("host %q: ws source in policy = %v, want %v (%s)", host, got, want, csp)
		}
		if strings.Count(csp, ";") != 9 {
			t.Errorf("host %q: policy has %d directives: %s", host, strings.Count(csp, ";")+1, csp)
		}
	}
}
