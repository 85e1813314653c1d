package server_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// upload sends a GraphQL multipart request (the multipart request spec):
// the file goes in at variables.<variable>.
func (c *client) upload(t *testing.T, query string, vars map[string]any, variable, filename string, content []byte, headers ...string) gqlResponse {
	t.Helper()
	return send(t, c.uploadRequest(query, vars, variable, filename, content, headers...))
}

// uploadRequest builds the request upload sends.
func (c *client) uploadRequest(query string, vars map[string]any, variable, filename string, content []byte, headers ...string) *http.Request {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	_ = mw.WriteField("operations", string(ops))
	m, _ := json.Marshal(map[string][]string{"0": {"variables." + variable}})
	_ = mw.WriteField("map", string(m))
	fw, _ := mw.CreateFormFile("0", filename)
	_, _ = fw.Write(content)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.URL+"/graphql", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if headers == nil {
		headers = []string{"Apollo-Require-Preflight", "true"}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const sendFileOp = `mutation($r: ID!, $f: Upload!, $cap: String, $c: String) { sendFile(input: {roomId: $r, file: $f, caption: $cap, clientId: $c}) {
	id kind body seq attachment { id filename contentType size url width height thumbnailURL } } }`

type fileMessage struct {
	ID, Kind, Body string
	Seq            int
	Attachment     *struct {
		ID, Filename, ContentType, URL string
		Size                           int
		Width, Height                  *int
		ThumbnailURL                   *string
	}
}

// fetch GETs an absolute URL the server handed out, against the test server.
func (e *env) fetch(t *testing.T, abs string) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(abs)
	if err != nil || u.Scheme+"://"+u.Host != "http://chatty.test" {
		t.Fatalf("%q is not an absolute URL of the public origin", abs)
	}
	resp, err := http.Get(e.URL + u.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestSendFile(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		a, b, eve := e.signUp(t, "사진사"), e.signUp(t, "구경꾼"), e.signUp(t, "eve")
		ca := e.client(a)
		r := ca.createRoom(t, nil, b.ID)

		// An image: IMAGE, sizes, a thumbnail, Korean name kept.
		photo := pngBytes(t, 640, 480)
		var img struct{ SendFile fileMessage }
		ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil, "cap": " 바다 🌊 "}, "f", "제주도 바다.png", photo).Decode(t, &img)
		m := img.SendFile
		if m.Kind != "IMAGE" || m.Body != "바다 🌊" || m.Attachment == nil || m.Attachment.Filename != "제주도 바다.png" ||
			m.Attachment.ContentType != "image/png" || m.Attachment.Size != len(photo) ||
			*m.Attachment.Width != 640 || *m.Attachment.Height != 480 || m.Attachment.ThumbnailURL == nil {
			t.Fatalf("image message = %+v %+v", m, m.Attachment)
		}
		resp, got := e.fetch(t, m.Attachment.URL)
		if resp.StatusCode != 200 || !bytes.Equal(got, photo) || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("download: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
		}
		_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
		if err != nil || params["filename"] != "제주도 바다.png" {
			t.Fatalf("Content-Disposition %q does not keep the Korean name (%v)", resp.Header.Get("Content-Disposition"), params)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("download without nosniff")
		}
		resp, thumb := e.fetch(t, *m.Attachment.ThumbnailURL)
		cfg, _, err := image.DecodeConfig(bytes.NewReader(thumb))
		if resp.StatusCode != 200 || err != nil || cfg.Width != 320 || cfg.Height != 240 {
			t.Fatalf("thumbnail: %d, %+v, %v", resp.StatusCode, cfg, err)
		}

		// A document: FILE, the type sniffed from the bytes (not the name).
		pdf := []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
		var doc struct{ SendFile fileMessage }
		ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "회의록 \"최종\".jpg", pdf).Decode(t, &doc)
		if doc.SendFile.Kind != "FILE" || doc.SendFile.Attachment.ContentType != "application/pdf" || doc.SendFile.Attachment.ThumbnailURL != nil {
			t.Fatalf("document message = %+v %+v", doc.SendFile, doc.SendFile.Attachment)
		}
		resp, got = e.fetch(t, doc.SendFile.Attachment.URL)
		if resp.StatusCode != 200 || !bytes.Equal(got, pdf) || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("document download: %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
		}

		// The other member sees both, in order, with working links.
		page := e.client(b).messages(t, r.ID, map[string]any{"last": 2})
		if seqs(page) != "1,2" {
			t.Fatalf("b sees %s", seqs(page))
		}

		// A tampered or expired link, or one for another file, gets nothing.
		u, _ := url.Parse(m.Attachment.URL)
		q := u.Query()
		for name, raw := range map[string]string{
			"tampered sig": strings.Replace(u.RequestURI(), "sig="+q.Get("sig"), "sig=AAAA"+q.Get("sig")[4:], 1),
			"no sig":       u.Path,
			"other file":   strings.Replace(u.RequestURI(), "/files/"+m.Attachment.ID, "/files/"+doc.SendFile.Attachment.ID, 1),
			"expired":      u.Path + "?exp=1000&sig=" + q.Get("sig"),
		} {
			resp, err := http.Get(e.URL + raw)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %d", name, resp.StatusCode)
			}
		}

		// Outsiders can't post files, nor read them through the API.
		if r := e.client(eve).upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "x.png", photo); r.Code() != "NOT_FOUND" {
			t.Errorf("outsider sendFile: %s", r.Raw)
		}
		if r := e.client(eve).do(t, `query($id: ID!) { node(id: $id) { ... on Attachment { url } } }`, map[string]any{"id": m.Attachment.ID}); r.Code() != "NOT_FOUND" {
			t.Errorf("outsider node(attachment): %s", r.Raw)
		}

		// clientId makes it idempotent.
		var first, again struct{ SendFile fileMessage }
		ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil, "c": "up-1"}, "f", "a.png", photo).Decode(t, &first)
		ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil, "c": "up-1"}, "f", "a.png", photo).Decode(t, &again)
		if first.SendFile.ID != again.SendFile.ID {
			t.Fatalf("the same clientId sent two messages: %s and %s", first.SendFile.ID, again.SendFile.ID)
		}
	})
}

func TestUploadsNeedThePreflightHeader(t *testing.T) {
	e := newEnv(t, "sqlite")
	a, b := e.signUp(t, "csrf"), e.signUp(t, "other")
	r := e.client(a).createRoom(t, nil, b.ID)
	resp := e.client(a).upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "x.txt", []byte("hi"), "X-Nothing", "1")
	if resp.Status != http.StatusForbidden || resp.Code() != "FORBIDDEN" {
		t.Fatalf("multipart without a preflight header: %d %s", resp.Status, resp.Raw)
	}
	if page := e.client(a).messages(t, r.ID, nil); page.TotalCount != 0 {
		t.Fatal("the refused upload was posted")
	}
	var ok struct{ SendFile fileMessage }
	e.client(a).upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "x.txt", []byte("hi"), "X-Apollo-Operation-Name", "SendFile").Decode(t, &ok)
	if ok.SendFile.Kind != "FILE" {
		t.Fatalf("with X-Apollo-Operation-Name: %+v", ok.SendFile)
	}
}

func TestUploadAvatar(t *testing.T) {
	e := newEnv(t, "sqlite")
	a, b := e.signUp(t, "얼굴"), e.signUp(t, "viewer")
	const op = `mutation($f: Upload!) { uploadAvatar(file: $f) { id avatarURL } }`
	if r := e.client(a).upload(t, op, map[string]any{"f": nil}, "f", "face.png", []byte("%PDF-1.4 not an image")); r.Code() != "UNSUPPORTED_MEDIA_TYPE" {
		t.Fatalf("a PDF as avatar: %s", r.Raw)
	}
	var out struct {
		UploadAvatar struct{ ID, AvatarURL string }
	}
	e.client(a).upload(t, op, map[string]any{"f": nil}, "f", "face.png", pngBytes(t, 64, 64)).Decode(t, &out)
	first := out.UploadAvatar.AvatarURL
	resp, got := e.fetch(t, first)
	if resp.StatusCode != 200 || len(got) == 0 || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("avatar download: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Others see it on the user.
	var u struct{ Node struct{ AvatarURL *string } }
	e.client(b).do(t, `query($id: ID!) { node(id: $id) { ... on User { avatarURL } } }`, map[string]any{"id": a.ID}).Decode(t, &u)
	if u.Node.AvatarURL == nil || *u.Node.AvatarURL != first {
		t.Fatalf("avatarURL seen by another user: %v", u.Node.AvatarURL)
	}
	// A new avatar replaces the old one, which is gone.
	e.client(a).upload(t, op, map[string]any{"f": nil}, "f", "face2.png", pngBytes(t, 32, 32)).Decode(t, &out)
	if out.UploadAvatar.AvatarURL == first {
		t.Fatal("the avatar URL did not change")
	}
	if resp, _ := e.fetch(t, first); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the replaced avatar is still served: %d", resp.StatusCode)
	}
	// A deleted account's avatar is gone too.
	e.client(a).do(t, `mutation($p: String) { deleteAccount(password: $p) }`, map[string]any{"p": a.Password})
	if resp, _ := e.fetch(t, out.UploadAvatar.AvatarURL); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a deleted account's avatar is still served: %d", resp.StatusCode)
	}
}
