package upload_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/chatty/chatty/internal/upload"
	"github.com/chatty/chatty/internal/upload/s3test"
)

// Every Storage keeps the same promises; these run on the local directory
// always, and on a real S3-compatible server when CHATTY_TEST_S3_URL is set.
func TestStorageContract(t *testing.T) {
	t.Run("disk", func(t *testing.T) {
		dir := t.TempDir()
		d, err := upload.NewDisk(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		storageContract(t, d, func(t testing.TB) []string {
			var out []string
			_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					out = append(out, filepath.ToSlash(rel))
				}
				return nil
			})
			sort.Strings(out)
			return out
		})
	})
	t.Run("s3", func(t *testing.T) {
		b := s3test.New(t)
		storageContract(t, b.Storage(t), b.Keys)
	})
}

func storageContract(t *testing.T, s upload.Storage, keys func(testing.TB) []string) {
	ctx := context.Background()
	if err := s.Put(ctx, "2026/11/abc", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	f, err := s.Open(ctx, "2026/11/abc")
	if err != nil {
		t.Fatal(err)
	}
	if f.Size() != 5 || f.ModTime().IsZero() {
		t.Fatalf("size %d, mod time %v", f.Size(), f.ModTime())
	}
	// Usable with http.ServeContent, ranges included.
	req := httptest.NewRequest("GET", "/f", nil)
	req.Header.Set("Range", "bytes=1-3")
	rec := httptest.NewRecorder()
	http.ServeContent(rec, req, "hello.txt", f.ModTime(), f)
	if rec.Code != http.StatusPartialContent || rec.Body.String() != "ell" {
		t.Fatalf("ServeContent: %d %q", rec.Code, rec.Body.String())
	}
	// Seeking back and reading again, then reading to the end.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if all, err := io.ReadAll(f); err != nil || string(all) != "hello" {
		t.Fatalf("read after seek: %q %v", all, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(f, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if got := keys(t); len(got) != 1 || !strings.HasSuffix(got[0], "2026/11/abc") {
		t.Fatalf("keys %v", got)
	}
	if err := s.Delete(ctx, "2026/11/abc"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "2026/11/abc"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, err := s.Open(ctx, "2026/11/abc"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open deleted: %v", err)
	}
	if got := keys(t); len(got) != 0 {
		t.Fatalf("left after delete: %v", got)
	}

	// A reader that fails, before or after a whole part was sent, leaves nothing.
	boom := errors.New("boom")
	for _, n := range []int{7, 6 << 20} {
		err := s.Put(ctx, "a/b", io.MultiReader(bytes.NewReader(make([]byte, n)), iotest.ErrReader(boom)))
		if !errors.Is(err, boom) {
			t.Fatalf("put failing after %d bytes: error %v", n, err)
		}
		if _, err := s.Open(ctx, "a/b"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("open after a failed put of %d bytes: %v", n, err)
		}
	}
	if got := keys(t); len(got) != 0 {
		t.Fatalf("left after failed puts: %v", got)
	}

	// A file of several parts comes back whole, and from any offset.
	big := make([]byte, 11<<20+123)
	for i := range big {
		big[i] = byte(i * 7 / 5)
	}
	if err := s.Put(ctx, "2026/11/big", bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	f, err = s.Open(ctx, "2026/11/big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if n, err := io.Copy(h, f); err != nil || n != int64(len(big)) || !bytes.Equal(h.Sum(nil), sum(big)) {
		t.Fatalf("read back %d bytes, %v", n, err)
	}
	off := int64(len(big) - 100_000)
	if _, err := f.Seek(-100_000, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if tail, err := io.ReadAll(f); err != nil || !bytes.Equal(tail, big[off:]) {
		t.Fatalf("tail: %d bytes, %v", len(tail), err)
	}

	// Keys are relative slash paths of safe characters, whatever the store.
	for _, key := range []string{"", ".", "..", "../x", "/etc/passwd", `a\b`, "a//b", "a/", "a b", "ü", strings.Repeat("a", 256)} {
		if err := s.Put(ctx, key, strings.NewReader("x")); err == nil {
			t.Errorf("Put(%q) succeeded", key)
		}
		if _, err := s.Open(ctx, key); err == nil {
			t.Errorf("Open(%q) succeeded", key)
		}
		if err := s.Delete(ctx, key); err == nil {
			t.Errorf("Delete(%q) succeeded", key)
		}
	}
}

func sum(b []byte) []byte { h := sha256.Sum256(b); return h[:] }
