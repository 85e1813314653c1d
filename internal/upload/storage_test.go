package upload

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func newDisk(t *testing.T) (*Disk, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	d, err := NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, dir
}

func TestDiskRoundTrip(t *testing.T) {
	d, dir := newDisk(t)
	ctx := context.Background()
	if err := d.Put(ctx, "2026/11/abc", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	f, err := d.Open(ctx, "2026/11/abc")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
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
	if got := files(t, dir); len(got) != 1 || got[0] != "2026/11/abc" {
		t.Fatalf("files %v", got)
	}
	if err := d.Delete(ctx, "2026/11/abc"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "2026/11/abc"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, err := d.Open(ctx, "2026/11/abc"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open deleted: %v", err)
	}
	if _, err := d.Open(ctx, "2026/11"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open a directory: %v", err)
	}
}

func TestDiskPutFailureLeavesNothing(t *testing.T) {
	d, dir := newDisk(t)
	boom := errors.New("boom")
	err := d.Put(context.Background(), "a/b", io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("left behind: %v", got)
	}
}

func TestDiskRejectsEscapingKeys(t *testing.T) {
	d, dir := newDisk(t)
	outside := filepath.Join(filepath.Dir(dir), "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{
		"", ".", "..", "../outside/secret", "a/../../outside/secret", "a/..", "/etc/passwd",
		`..\outside\secret`, `a\b`, "a//b", "a/", "./a", "a/./b", "a\x00b", "C:/x", "a b", "ü",
		strings.Repeat("a", 256),
	} {
		if err := d.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, errBadKey) {
			t.Errorf("Put(%q): %v", key, err)
		}
		if _, err := d.Open(ctx, key); !errors.Is(err, errBadKey) {
			t.Errorf("Open(%q): %v", key, err)
		}
		if err := d.Delete(ctx, key); !errors.Is(err, errBadKey) {
			t.Errorf("Delete(%q): %v", key, err)
		}
	}
	// A symbolic link inside the root does not lead out of it either.
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Skip("no symlinks:", err)
	}
	if err := d.Put(ctx, "link/new", strings.NewReader("x")); err == nil {
		t.Error("Put through a symlink succeeded")
	}
	if _, err := d.Open(ctx, "link/secret"); err == nil {
		t.Error("Open through a symlink succeeded")
	}
	if err := d.Delete(ctx, "link/secret"); err == nil {
		// Delete ignores missing files, so check the file survived.
		if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
			t.Error("Delete through a symlink removed a file outside the root")
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("a file was written outside the root")
	}
}
