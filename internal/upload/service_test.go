package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/chatty/chatty/internal/apperr"
)

func newService(t *testing.T, l Limits) (*Service, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "uploads")
	d, err := NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return NewService(d, l), dir
}

// files lists the regular files under dir, slash-separated and relative.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readAll(t *testing.T, s *Service, key string) []byte {
	t.Helper()
	f, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if f.Size() != int64(len(b)) {
		t.Fatalf("Size() = %d, read %d bytes", f.Size(), len(b))
	}
	return b
}

func wantKind(t *testing.T, err error, k apperr.Kind) {
	t.Helper()
	if got := apperr.KindOf(err); got != k {
		t.Fatalf("error %v: kind %q, want %q", err, got, k)
	}
}

func TestSaveImages(t *testing.T) {
	lossy, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		data          []byte
		thumbSize     int
		contentType   string
		width, height int
		thumbW        int
		thumbH        int
		thumbExt      string
	}{
		{"photo.jpg", jpegBytes(t, gradient(1000, 500, false)), 0, "image/jpeg", 1000, 500, 320, 160, ".jpg"},
		{"tall.png", pngBytes(t, 400, 800, false), 0, "image/png", 400, 800, 160, 320, ".jpg"},
		{"alpha.png", pngBytes(t, 640, 480, true), 0, "image/png", 640, 480, 320, 240, ".png"},
		{"anim.gif", gifBytes(t, 500, 300), 0, "image/gif", 500, 300, 320, 192, ".jpg"},
		{"plain.webp", webpBytes(700, 350, color.NRGBA{20, 120, 220, 255}), 0, "image/webp", 700, 350, 320, 160, ".jpg"},
		{"alpha.webp", webpBytes(300, 600, color.NRGBA{20, 120, 220, 90}), 0, "image/webp", 300, 600, 160, 320, ".png"},
		{"lossy.webp", lossy, 64, "image/webp", 150, 100, 64, 43, ".jpg"},
		{"small.png", pngBytes(t, 100, 50, false), 0, "image/png", 100, 50, 100, 50, ".jpg"},
		{"small-alpha.png", pngBytes(t, 30, 60, true), 0, "image/png", 30, 60, 30, 60, ".png"},
		{"exact.jpg", jpegBytes(t, gradient(320, 200, false)), 0, "image/jpeg", 320, 200, 320, 200, ".jpg"},
	}
	keyRE := regexp.MustCompile(`^\d{4}/\d{2}/[0-9a-f]{32}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newService(t, Limits{ThumbnailSize: tt.thumbSize})
			st, err := s.Save(context.Background(), Uploader{ID: 1}, bytes.NewReader(tt.data), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(tt.data)
			if !st.IsImage || st.ContentType != tt.contentType || st.Width != tt.width || st.Height != tt.height ||
				st.Size != int64(len(tt.data)) || st.SHA256 != hex.EncodeToString(sum[:]) || st.Filename != tt.name {
				t.Fatalf("stored %+v", st)
			}
			if !keyRE.MatchString(st.Key) || st.ThumbnailKey != st.Key+".thumb"+tt.thumbExt {
				t.Fatalf("keys %q, %q", st.Key, st.ThumbnailKey)
			}
			if !bytes.Equal(readAll(t, s, st.Key), tt.data) {
				t.Fatal("stored bytes differ")
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(readAll(t, s, st.ThumbnailKey)))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Width != tt.thumbW || cfg.Height != tt.thumbH || "."+strings.Replace(format, "jpeg", "jpg", 1) != tt.thumbExt {
				t.Fatalf("thumbnail %s %dx%d, want %s %dx%d", format, cfg.Width, cfg.Height, tt.thumbExt, tt.thumbW, tt.thumbH)
			}
		})
	}
}

func TestSaveAppliesEXIFOrientation(t *testing.T) {
	// Stored landscape, left half red and right half blue; orientation 6
	// means "turn 90° clockwise to display": portrait, red on top.
	m := image.NewRGBA(image.Rect(0, 0, 400, 200))
	for y := range 200 {
		for x := range 400 {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 200 {
				c = color.RGBA{0, 0, 255, 255}
			}
			m.SetRGBA(x, y, c)
		}
	}
	s, _ := newService(t, Limits{ThumbnailSize: 100})
	st, err := s.Save(context.Background(), Uploader{ID: 1}, bytes.NewReader(withOrientation(jpegBytes(t, m), 6)), "phone.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if st.Width != 200 || st.Height != 400 {
		t.Fatalf("size %dx%d, want 200x400", st.Width, st.Height)
	}
	thumb, _, err := image.Decode(bytes.NewReader(readAll(t, s, st.ThumbnailKey)))
	if err != nil {
		t.Fatal(err)
	}
	if b := thumb.Bounds(); b.Dx() != 50 || b.Dy() != 100 {
		t.Fatalf("thumbnail %v, want 50x100", b)
	}
	top, bottom := color.RGBAModel.Convert(thumb.At(25, 10)).(color.RGBA), color.RGBAModel.Convert(thumb.At(25, 90)).(color.RGBA)
	if top.R < 200 || top.B > 60 || bottom.B < 200 || bottom.R > 60 {
		t.Fatalf("top %v, bottom %v: not rotated clockwise", top, bottom)
	}
}

func TestSaveDocuments(t *testing.T) {
	pdf := []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	korean := strings.Repeat("안녕하세요, 채팅 서버입니다. ", 100) // multi-byte runes across any 512-byte boundary
	tests := []struct {
		name        string
		data        []byte
		contentType string
	}{
		{"report.pdf", pdf, "application/pdf"},
		{"notes.txt", []byte("hello\nworld\n"), "text/plain; charset=utf-8"},
		{"한글.txt", []byte(korean), "text/plain; charset=utf-8"},
		{"bom.txt", append([]byte("\xEF\xBB\xBF"), korean...), "text/plain; charset=utf-8"},
		// CP949 "안녕": text, but not UTF-8.
		{"cp949.txt", []byte("\xbe\xc8\xb3\xe7 hello"), "text/plain"},
		// Text for 600 bytes, then a NUL: DetectContentType alone says text.
		{"data.bin", append([]byte(strings.Repeat("a", 600)), 0, 1, 2), "application/octet-stream"},
		// Valid UTF-8 for 1000 bytes, then a lone continuation byte.
		{"late.txt", append([]byte(strings.Repeat("b", 1000)), 0x80), "text/plain"},
		{"cut.txt", []byte(korean + "끝")[:len(korean)+2], "text/plain"}, // the last rune cut short
		{"archive.zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00rest"), "application/zip"},
		{"IMG_0001.HEIC", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic...."), "image/heic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newService(t, Limits{})
			// One byte at a time, so every rune is split across reads.
			st, err := s.Save(context.Background(), Uploader{ID: 1}, iotest.OneByteReader(bytes.NewReader(tt.data)), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if st.ContentType != tt.contentType || st.IsImage || st.ThumbnailKey != "" || st.Width != 0 ||
				st.Size != int64(len(tt.data)) || st.Filename != tt.name {
				t.Fatalf("stored %+v, want type %q", st, tt.contentType)
			}
			if !bytes.Equal(readAll(t, s, st.Key), tt.data) {
				t.Fatal("stored bytes differ")
			}
		})
	}
}

func TestSaveSniffsInsteadOfTrustingTheName(t *testing.T) {
	s, _ := newService(t, Limits{})
	ctx := context.Background()
	st, err := s.Save(ctx, Uploader{ID: 1}, bytes.NewReader(pngBytes(t, 50, 40, false)), "invoice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	if st.ContentType != "image/png" || !st.IsImage || st.Filename != "invoice.pdf" {
		t.Fatalf("PNG named .pdf stored as %+v", st)
	}
	st, err = s.Save(ctx, Uploader{ID: 1}, strings.NewReader("<!DOCTYPE html><html><script>alert(1)</script></html>"), "cat.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if st.ContentType != "text/html; charset=utf-8" || st.IsImage || st.ThumbnailKey != "" {
		t.Fatalf("HTML named .jpg stored as %+v", st)
	}
	// A JPEG header with nothing behind it is kept as a file, not an image.
	st, err = s.Save(ctx, Uploader{ID: 1}, bytes.NewReader([]byte("\xFF\xD8\xFF\xE0 not really")), "broken.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if st.ContentType != "image/jpeg" || st.IsImage || st.ThumbnailKey != "" {
		t.Fatalf("broken JPEG stored as %+v", st)
	}
}

func TestSaveTooLarge(t *testing.T) {
	s, dir := newService(t, Limits{MaxFileBytes: 1000})
	ctx := context.Background()
	for _, n := range []int{1001, 5000, 1 << 20} {
		_, err := s.Save(ctx, Uploader{ID: 1}, bytes.NewReader(bytes.Repeat([]byte("x"), n)), "big.txt")
		wantKind(t, err, apperr.TooLarge)
		_, err = s.SaveImage(ctx, Uploader{ID: 1}, bytes.NewReader(append(pngBytes(t, 10, 10, false), make([]byte, n)...)), "big.png")
		wantKind(t, err, apperr.TooLarge)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("left behind: %v", got)
	}
	st, err := s.Save(ctx, Uploader{ID: 1}, bytes.NewReader(bytes.Repeat([]byte("x"), 1000)), "exact.txt")
	if err != nil || st.Size != 1000 {
		t.Fatalf("file at the limit: %+v, %v", st, err)
	}
}

func TestSaveImagePixelLimit(t *testing.T) {
	ctx := context.Background()
	t.Run("forged header", func(t *testing.T) {
		s, dir := newService(t, Limits{})
		huge := pngHeader(100000, 100000)
		st, err := s.Save(ctx, Uploader{ID: 1}, bytes.NewReader(huge), "bomb.png")
		if err != nil {
			t.Fatal(err)
		}
		if st.IsImage || st.ThumbnailKey != "" || st.Width != 0 || st.ContentType != "image/png" {
			t.Fatalf("stored %+v", st)
		}
		if got := files(t, dir); len(got) != 1 {
			t.Fatalf("files %v, want only the upload", got)
		}
		_, err = s.SaveImage(ctx, Uploader{ID: 1}, bytes.NewReader(huge), "bomb.png")
		wantKind(t, err, apperr.TooLarge)
		if got := files(t, dir); len(got) != 1 {
			t.Fatalf("SaveImage left %v", got)
		}
	})
	t.Run("real image over a small limit", func(t *testing.T) {
		s, dir := newService(t, Limits{MaxImagePixels: 99 * 100})
		st, err := s.Save(ctx, Uploader{ID: 1}, bytes.NewReader(pngBytes(t, 100, 100, false)), "big.png")
		if err != nil {
			t.Fatal(err)
		}
		if st.IsImage || st.ThumbnailKey != "" {
			t.Fatalf("stored %+v", st)
		}
		_, err = s.SaveImage(ctx, Uploader{ID: 1}, bytes.NewReader(pngBytes(t, 100, 100, false)), "big.png")
		wantKind(t, err, apperr.TooLarge)
		if got := files(t, dir); len(got) != 1 {
			t.Fatalf("files %v", got)
		}
		// At the limit is fine.
		st, err = s.SaveImage(ctx, Uploader{ID: 1}, bytes.NewReader(pngBytes(t, 99, 100, false)), "ok.png")
		if err != nil || !st.IsImage {
			t.Fatalf("%+v, %v", st, err)
		}
	})
}

func TestSaveImage(t *testing.T) {
	s, dir := newService(t, Limits{})
	ctx := context.Background()
	for name, data := range map[string][]byte{
		"doc.pdf":    []byte("%PDF-1.4\n%%EOF\n"),
		"avatar.png": []byte("just text"),
		"corrupt.png": append(pngHeader(10, 10)[:33], // a valid header, then garbage
			bytes.Repeat([]byte{0xAB}, 100)...),
		"photo.heic": []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic...."),
	} {
		_, err := s.SaveImage(ctx, Uploader{ID: 1}, bytes.NewReader(data), name)
		wantKind(t, err, apperr.UnsupportedMedia)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("left behind: %v", got)
	}
	st, err := s.SaveImage(ctx, Uploader{ID: 1}, bytes.NewReader(jpegBytes(t, gradient(800, 800, false))), "me.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsImage || st.ThumbnailKey == "" || st.Width != 800 {
		t.Fatalf("avatar %+v", st)
	}
}

func TestSaveRefusesBadInput(t *testing.T) {
	s, dir := newService(t, Limits{})
	ctx := context.Background()
	_, err := s.Save(ctx, Uploader{ID: 1}, strings.NewReader(""), "empty.txt")
	wantKind(t, err, apperr.BadInput)
	if e, _ := apperr.As(err); e.Field != "file" {
		t.Fatalf("field %q", e.Field)
	}
	_, err = s.Save(ctx, Uploader{ID: 1}, strings.NewReader("hi"), "bad\xffname.txt")
	wantKind(t, err, apperr.BadInput)
	_, err = s.SaveImage(ctx, Uploader{ID: 1}, strings.NewReader(""), "empty.png")
	wantKind(t, err, apperr.BadInput)
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("left behind: %v", got)
	}
	st, err := s.Save(ctx, Uploader{ID: 1}, strings.NewReader("hi"), "../../etc/passwd")
	if err != nil || st.Filename != "passwd" || strings.Contains(st.Key, "passwd") {
		t.Fatalf("%+v, %v", st, err)
	}
}

func TestSaveReaderErrorLeavesNothing(t *testing.T) {
	s, dir := newService(t, Limits{})
	boom := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(strings.Repeat("x", 4096)), iotest.ErrReader(boom))
	_, err := s.Save(context.Background(), Uploader{ID: 1}, r, "a.txt")
	if !errors.Is(err, boom) || apperr.KindOf(err) != "" {
		t.Fatalf("error %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Save(ctx, Uploader{ID: 1}, strings.NewReader(strings.Repeat("y", 100000)), "b.txt"); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("left behind: %v", got)
	}
}

func TestOpenAndDelete(t *testing.T) {
	s, dir := newService(t, Limits{})
	ctx := context.Background()
	st, err := s.Save(ctx, Uploader{ID: 1}, bytes.NewReader(pngBytes(t, 20, 20, true)), "a.png")
	if err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); len(got) != 2 {
		t.Fatalf("files %v", got)
	}
	if err := s.Delete(ctx, st); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("left behind: %v", got)
	}
	if err := s.Delete(ctx, st); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	for _, key := range []string{st.Key, st.ThumbnailKey, "../etc/passwd", "2026"} {
		_, err = s.Open(ctx, key)
		wantKind(t, err, apperr.NotFound)
	}
}
