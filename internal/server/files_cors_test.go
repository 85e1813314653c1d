package server_test

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"testing"

	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/server"
)

// fetchFrom GETs (or preflights, with method OPTIONS) a URL the server
// handed out as a browser page on origin would.
func (e *env) fetchFrom(t *testing.T, method, abs, origin string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(abs)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, e.URL+u.RequestURI(), nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// An app on an allowed origin can fetch() the files, thumbnails and
// avatars it has links to, read their name, and preflight a ranged fetch;
// a page on any other origin gets the bytes (as an <img> would) but no
// CORS headers, so its scripts can't read them.
func TestFilesCORS(t *testing.T) {
	forEachDB(t, func(t *testing.T, e0 *env) {
		const app, evil = "http://app.test:5173", "https://evil.test"
		e := newEnvOn(t, e0.DB, envOption{server: func(c *server.Config, _ *auth.Options) {
			c.AllowedOrigins = []string{app}
		}})
		a, b := e.signUp(t, "사진사"), e.signUp(t, "친구")
		r := e.client(a).createRoom(t, nil, b.ID)
		photo := pngBytes(t, 400, 300)
		var img struct{ SendFile fileMessage }
		e.client(a).upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "서울 야경.png", photo).Decode(t, &img)
		var av struct{ UploadAvatar struct{ AvatarURL string } }
		e.client(a).upload(t, `mutation($f: Upload!) { uploadAvatar(file: $f) { avatarURL } }`, map[string]any{"f": nil}, "f", "me.png", pngBytes(t, 64, 64)).Decode(t, &av)

		for name, link := range map[string]string{
			"file":      img.SendFile.Attachment.URL,
			"thumbnail": *img.SendFile.Attachment.ThumbnailURL,
			"avatar":    av.UploadAvatar.AvatarURL,
		} {
			// Allowed origin: a plain fetch() reads the bytes and the name.
			resp, got := e.fetchFrom(t, http.MethodGet, link, app)
			if resp.StatusCode != 200 || len(got) == 0 || resp.Header.Get("Access-Control-Allow-Origin") != app {
				t.Fatalf("%s from %s: %d, Allow-Origin %q", name, app, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			mustContain(t, resp.Header.Get("Access-Control-Expose-Headers"), "Content-Disposition")
			mustContain(t, resp.Header.Get("Vary"), "Origin")
			if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatalf("%s: credentials allowed: links are signed, no cookies needed", name)
			}
			if name == "file" {
				if !bytes.Equal(got, photo) {
					t.Fatalf("file from %s: %d bytes, want the photo", app, len(got))
				}
				if _, p, _ := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); p["filename"] != "서울 야경.png" {
					t.Fatalf("Content-Disposition %q", resp.Header.Get("Content-Disposition"))
				}
			}

			// Its preflight (a fetch with a Range header needs one) passes.
			resp, _ = e.fetchFrom(t, http.MethodOptions, link, app, "Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "range")
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != app {
				t.Fatalf("%s preflight from %s: %d %v", name, app, resp.StatusCode, resp.Header)
			}
			mustContain(t, resp.Header.Get("Access-Control-Allow-Methods"), "GET")
			mustContain(t, resp.Header.Get("Access-Control-Allow-Headers"), "Range")
			// And the ranged fetch gets its range.
			resp, got = e.fetchFrom(t, http.MethodGet, link, app, "Range", "bytes=0-7")
			if resp.StatusCode != http.StatusPartialContent || len(got) != 8 || resp.Header.Get("Access-Control-Allow-Origin") != app {
				t.Fatalf("%s ranged from %s: %d, %d bytes", name, app, resp.StatusCode, len(got))
			}

			// Another origin: no CORS headers, and its preflight is refused.
			resp, _ = e.fetchFrom(t, http.MethodGet, link, evil)
			if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Expose-Headers") != "" {
				t.Fatalf("%s from %s: %d, CORS headers %v", name, evil, resp.StatusCode, resp.Header)
			}
			resp, _ = e.fetchFrom(t, http.MethodOptions, link, evil, "Access-Control-Request-Method", "GET")
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Methods") != "" {
				t.Fatalf("%s preflight from %s: %d %v", name, evil, resp.StatusCode, resp.Header)
			}
			// A preflight for anything but reading is refused, even from the app.
			resp, _ = e.fetchFrom(t, http.MethodOptions, link, app, "Access-Control-Request-Method", "DELETE")
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Methods") != "" {
				t.Fatalf("%s DELETE preflight from %s: %d %v", name, app, resp.StatusCode, resp.Header)
			}
		}

		// CORS never stands in for the signature.
		resp, _ := e.fetchFrom(t, http.MethodGet, img.SendFile.Attachment.URL+"x", app)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a tampered link from %s: %d", app, resp.StatusCode)
		}
	})
}
