package server_test

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/database/dbtest"
	"github.com/chatty/chatty/internal/upload"
	"github.com/chatty/chatty/internal/upload/s3test"
)

// s3Instance starts a chatty over db whose files go to the bucket b, with
// a storage client of its own (as another process would have).
func s3Instance(t *testing.T, db *database.DB, b *s3test.Bucket) *env {
	t.Helper()
	svc := upload.NewService(b.Storage(t), upload.Limits{})
	return newEnvOn(t, db, envOption{chat: []chat.Option{chat.WithUploads(svc)}})
}

// fetchRange GETs a signed URL with a Range header.
func (e *env) fetchRange(t *testing.T, abs, rng string) (*http.Response, []byte) {
	t.Helper()
	u, err := url.Parse(abs)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.URL+u.RequestURI(), nil)
	req.Header.Set("Range", rng)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// sameDownload fetches abs through both instances and fails unless both
// answer 200 with want (when not nil) and the same headers a browser acts on.
func sameDownload(t *testing.T, one, two *env, abs string, want []byte) []byte {
	t.Helper()
	r1, b1 := one.fetch(t, abs)
	r2, b2 := two.fetch(t, abs)
	if r1.StatusCode != 200 || r2.StatusCode != 200 {
		t.Fatalf("%s: %d through one, %d through two", abs, r1.StatusCode, r2.StatusCode)
	}
	if !bytes.Equal(b1, b2) || (want != nil && !bytes.Equal(b1, want)) {
		t.Fatalf("%s: %d and %d bytes, want %d", abs, len(b1), len(b2), len(want))
	}
	for _, h := range []string{"Content-Type", "Content-Disposition", "X-Content-Type-Options", "Content-Security-Policy", "Content-Length", "Accept-Ranges", "Cache-Control"} {
		if r1.Header.Get(h) != r2.Header.Get(h) {
			t.Fatalf("%s: %s %q through one, %q through two", abs, h, r1.Header.Get(h), r2.Header.Get(h))
		}
	}
	if r2.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("%s: no nosniff", abs)
	}
	return b1
}

// Two instances sharing a database and a bucket on a real S3-compatible
// server serve each other's files, thumbnails and avatars with the same
// headers (Korean names, types, nosniff, ranges); what a deleted message,
// a replaced avatar or a deleted account leaves is removed from the bucket.
func TestTwoInstancesShareS3Storage(t *testing.T) {
	for _, backend := range dbtest.Backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			bucket := s3test.New(t)
			db := dbtest.Open(t, backend)
			one, two := s3Instance(t, db, bucket), s3Instance(t, db, bucket)
			a, b := one.signUp(t, "업로더"), two.signUp(t, "받는이")
			ca, cb := one.client(a), two.client(b)
			r := ca.createRoom(t, nil, b.ID)

			// An image with a Korean name, sent through one.
			photo := pngBytes(t, 640, 480)
			var img struct{ SendFile fileMessage }
			ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "제주도 바다.png", photo).Decode(t, &img)
			att := img.SendFile.Attachment
			if img.SendFile.Kind != "IMAGE" || att == nil || att.ThumbnailURL == nil {
				t.Fatalf("image message %+v", img.SendFile)
			}
			if keys := bucket.Keys(t); len(keys) != 2 {
				t.Fatalf("bucket after one image: %v, want the file and its thumbnail", keys)
			}
			sameDownload(t, one, two, att.URL, photo)
			resp, _ := two.fetch(t, att.URL)
			if resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("Content-Disposition") != upload.ContentDisposition(true, "제주도 바다.png") {
				t.Fatalf("through two: %s, %s", resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
			}
			thumb := sameDownload(t, one, two, *att.ThumbnailURL, nil)
			if m, _, err := image.Decode(bytes.NewReader(thumb)); err != nil || m.Bounds().Dx() != 320 || m.Bounds().Dy() != 240 {
				t.Fatalf("thumbnail through two: %v", err)
			}
			// A range, through the instance that did not store it.
			resp, part := two.fetchRange(t, att.URL, "bytes=100-1099")
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, photo[100:1100]) ||
				resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-1099/%d", len(photo)) {
				t.Fatalf("range through two: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(part))
			}

			// A document sent through two, served by one, downloaded (not inline).
			doc := []byte("%PDF-1.4\n회의록\n")
			var sent struct{ SendFile fileMessage }
			cb.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "회의록 (최종).pdf", doc).Decode(t, &sent)
			sameDownload(t, two, one, sent.SendFile.Attachment.URL, doc)
			resp, _ = one.fetch(t, sent.SendFile.Attachment.URL)
			if resp.Header.Get("Content-Type") != "application/pdf" || resp.Header.Get("Content-Disposition") != upload.ContentDisposition(false, "회의록 (최종).pdf") {
				t.Fatalf("document through one: %s, %s", resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
			}

			// An avatar set through one, served by two; replacing it through
			// two removes the old one's objects.
			const avatarOp = `mutation($f: Upload!) { uploadAvatar(file: $f) { id avatarURL } }`
			var av struct{ UploadAvatar struct{ AvatarURL string } }
			ca.upload(t, avatarOp, map[string]any{"f": nil}, "f", "얼굴.png", pngBytes(t, 64, 64)).Decode(t, &av)
			first := av.UploadAvatar.AvatarURL
			sameDownload(t, one, two, first, nil)
			before := bucket.Keys(t)
			if len(before) != 5 {
				t.Fatalf("bucket with an image, a document and an avatar: %v", before)
			}
			two.client(a).upload(t, avatarOp, map[string]any{"f": nil}, "f", "새 얼굴.png", pngBytes(t, 48, 48)).Decode(t, &av)
			sameDownload(t, one, two, av.UploadAvatar.AvatarURL, nil)
			if resp, _ := one.fetch(t, first); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("the replaced avatar through one: %d", resp.StatusCode)
			}
			after := bucket.Keys(t)
			if len(after) != 5 || len(diff(before, after)) != 4 {
				t.Fatalf("replacing the avatar: bucket %v -> %v, want the old avatar's two objects replaced by the new one's", before, after)
			}

			// Deleting the image message through two removes its objects.
			var del struct{ DeleteMessage struct{ ID string } }
			ca2 := two.client(a)
			ca2.do(t, deleteOp, map[string]any{"m": img.SendFile.ID}).Decode(t, &del)
			left := bucket.Keys(t)
			if len(left) != 3 || len(diff(after, left)) != 2 {
				t.Fatalf("deleting the image message: bucket %v -> %v, want its file and thumbnail gone", after, left)
			}
			for _, u := range []string{att.URL, *att.ThumbnailURL} {
				if resp, _ := one.fetch(t, u); resp.StatusCode != http.StatusNotFound {
					t.Fatalf("a deleted message's file through one: %d", resp.StatusCode)
				}
			}

			// Deleting a's account through one removes its avatar, not b's document.
			ca.do(t, deleteAccountOp, map[string]any{"p": a.Password}).Decode(t, &struct{}{})
			if keys := bucket.Keys(t); len(keys) != 1 {
				t.Fatalf("after a's account was deleted: %v, want b's document only", keys)
			}
			sameDownload(t, one, two, sent.SendFile.Attachment.URL, doc)
		})
	}
}

// diff is what is in a or b but not both.
func diff(a, b []string) []string {
	var out []string
	for _, k := range a {
		if !slices.Contains(b, k) {
			out = append(out, k)
		}
	}
	for _, k := range b {
		if !slices.Contains(a, k) {
			out = append(out, k)
		}
	}
	return out
}

// maxHeapGrowthS3Upload bounds what sending a 20 MiB file to S3 storage may
// allocate in the whole process: one 5 MiB part buffer and change, never
// the file.
const maxHeapGrowthS3Upload = 12 << 20

// A 20 MiB file goes to the bucket in parts: the whole sendFile request
// allocates a bounded amount, well under the file's size (TotalAlloc, as in
// the image tests; not parallel, so nothing else allocates meanwhile). It
// downloads intact through the other instance.
func TestS3UploadMemoryIsBounded(t *testing.T) {
	bucket := s3test.New(t)
	db := dbtest.Open(t, "sqlite")
	one, two := s3Instance(t, db, bucket), s3Instance(t, db, bucket)
	a, b := one.signUp(t, "큰파일"), one.signUp(t, "friend")
	ca := one.client(a)
	r := ca.createRoom(t, nil, b.ID)
	big := make([]byte, 20<<20)
	for i := range big {
		big[i] = byte(i*31 + i>>12)
	}
	copy(big, "%PDF-1.4\n")
	req := ca.uploadRequest(sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "큰 파일.pdf", big)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp := send(t, req)
	runtime.ReadMemStats(&after)

	var out struct{ SendFile fileMessage }
	resp.Decode(t, &out)
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("sendFile of a 20 MiB file to S3 allocated %.1f MiB", float64(grew)/(1<<20))
	if grew > maxHeapGrowthS3Upload {
		t.Fatalf("sendFile of a 20 MiB file to S3 allocated %d MiB, over the %d MiB bound", grew>>20, maxHeapGrowthS3Upload>>20)
	}
	dl, got := two.fetch(t, out.SendFile.Attachment.URL)
	if dl.StatusCode != 200 || !bytes.Equal(got, big) {
		t.Fatalf("download through two: %d, %d bytes", dl.StatusCode, len(got))
	}
}

// A request for many ranges of a file on S3 costs one read of the
// object, not one per range: past a few ranges, the whole file is sent
// (200), which a client asking for ranges must accept. Counted at a
// proxy in front of the S3 server.
func TestS3ManyRangesReadTheObjectOnce(t *testing.T) {
	store, reqs := s3test.New(t).CountedStorage(t)
	e := newEnvOn(t, dbtest.Open(t, "sqlite"), envOption{chat: []chat.Option{chat.WithUploads(upload.NewService(store, upload.Limits{}))}})
	a, b := e.signUp(t, "범위"), e.signUp(t, "friend")
	ca := e.client(a)
	r := ca.createRoom(t, nil, b.ID)
	doc := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0123456789"), 6000)...)
	var sent struct{ SendFile fileMessage }
	ca.upload(t, sendFileOp, map[string]any{"r": r.ID, "f": nil}, "f", "ranges.pdf", doc).Decode(t, &sent)

	ranges := make([]string, 200)
	for i := range ranges {
		ranges[i] = fmt.Sprintf("%d-%d", i*100, i*100)
	}
	reqs.Take()
	resp, body := e.fetchRange(t, sent.SendFile.Attachment.URL, "bytes="+strings.Join(ranges, ","))
	gets := 0
	for _, r := range reqs.Take() {
		if strings.HasPrefix(r, http.MethodGet+" ") {
			gets++
		}
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, doc) {
		t.Fatalf("200 ranges: %d, %d bytes; want 200 and the whole file", resp.StatusCode, len(body))
	}
	if gets > 1 {
		t.Fatalf("200 ranges cost %d GETs of the object, want 1", gets)
	}

	// A few ranges are still answered as ranges.
	resp, body = e.fetchRange(t, sent.SendFile.Attachment.URL, "bytes=0-3,100-103")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Contains(body, doc[:4]) || !bytes.Contains(body, doc[100:104]) {
		t.Fatalf("two ranges: %d %q", resp.StatusCode, body)
	}
}
