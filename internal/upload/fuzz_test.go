package upload

// Fuzz targets for the hand-written parsers that read what clients send.
// Their seeds run as ordinary tests; to search further:
//
//	go test -run '^$' -fuzz FuzzSniff -fuzztime 1m ./internal/upload/
//
// (likewise FuzzJPEGHeaders, FuzzCleanFilename, FuzzContentDisposition,
// FuzzProbeImage). A failing input is written under testdata/fuzz/<name>/:
// commit it with the fix, and it stays a test.

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzSniff checks the type sniffing and the text check that settles a
// provisional text/plain: any split of the bytes into writes gives the
// same answer, and "UTF-8 text" is said of exactly the valid UTF-8 files
// without a binary byte.
func FuzzSniff(f *testing.F) {
	for _, s := range []string{
		"", "hello", "a한😀é\n", "\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
		"%PDF-1.5", "GIF89a", "RIFF\x00\x00\x00\x00WEBPVP8 ", "\xed\xa0\x80", "abc\xf0\x9f", "\xc0\xaf", "text\x1b[0m\f",
		"\xFF\xD8\xFF\xE0", "\x89PNG\r\n\x1a\n", "<html><script>", "PK\x03\x04",
	} {
		f.Add([]byte(s), uint16(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		ct := sniff(data[:min(len(data), sniffLen)])
		if ct == "" {
			t.Fatal("no content type")
		}
		if _, _, err := mime.ParseMediaType(ct); err != nil {
			t.Fatalf("sniff gave %q: %v", ct, err)
		}
		var whole, parts textCheck
		whole.write(data)
		cut := int(split) % (len(data) + 1)
		parts.write(data[:cut])
		parts.write(data[cut:])
		if whole.contentType() != parts.contentType() {
			t.Fatalf("at once %q, split at %d %q", whole.contentType(), cut, parts.contentType())
		}
		binary := bytes.ContainsFunc(data, func(r rune) bool { return r < 0x20 && isBinaryByte(byte(r)) })
		isText := utf8.Valid(data) && !binary
		if got := whole.contentType() == textUTF8; got != isText {
			t.Fatalf("text check says UTF-8 text %v, want %v", got, isText)
		}
	})
}

// FuzzJPEGHeaders checks the segment walkers that read a JPEG's EXIF
// orientation and its frame header (for the decode estimate): never a
// panic, an orientation is 1–8, sampling factors are 1–15, and an estimate
// is never negative.
func FuzzJPEGHeaders(f *testing.F) {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)), nil)
	small := b.Bytes()
	for o := range uint16(9) {
		f.Add(withOrientation(small, o))
	}
	f.Add(small)
	f.Add([]byte("\xFF\xD8\xFF\xE1\x00\x10Exif\x00\x00II\x2a\x00\xff\xff\xff\x7f"))
	f.Add([]byte("\xFF\xD8\xFF\xEE\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x00"))
	f.Add([]byte("\xFF\xD8\xFF\xC2\x00\x11\x08\x00\x10\x00\x10\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(bytes.NewReader(data)); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		if o, ok := exifOrientation(data); ok && (o < 1 || o > 8) {
			t.Fatalf("EXIF orientation %d", o)
		}
		if fr, ok := readJPEGFrame(bytes.NewReader(data)); ok {
			if len(fr.comps) == 0 || len(fr.comps) > 255 {
				t.Fatalf("%d components", len(fr.comps))
			}
			for _, c := range fr.comps {
				if c.h < 1 || c.h > 15 || c.v < 1 || c.v > 15 {
					t.Fatalf("sampling %d×%d", c.h, c.v)
				}
			}
		}
		cfg := image.Config{ColorModel: color.YCbCrModel, Width: 40000, Height: 1000}
		if c := decodeCost("image/jpeg", cfg, bytes.NewReader(data), DefaultThumbnailSize); c < int64(cfg.Width)*int64(cfg.Height) {
			t.Fatalf("estimate %d for %d pixels", c, cfg.Width*cfg.Height)
		}
	})
}

// FuzzCleanFilename checks what a client's file name becomes: valid UTF-8,
// 1–255 bytes, a base name only, no control or bidirectional-override
// character, no surrounding space, and cleaning it again changes nothing.
func FuzzCleanFilename(f *testing.F) {
	for _, s := range []string{
		"photo.jpg", "보고서 최종.pdf", "../../etc/passwd", `C:\x\y.txt`, "a\x00b\nc.txt", "invoice\u202Efdp.exe",
		"  spaced.txt  ", "", ".", "..", "bad\xffutf8.txt", strings.Repeat("가", 100) + ".pdf",
		"a." + strings.Repeat("가", 100), strings.Repeat("é", 130) + " .x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := CleanFilename(name)
		if !utf8.ValidString(got) || len(got) == 0 || len(got) > maxFilenameBytes {
			t.Fatalf("%q → %q (%d bytes)", name, got, len(got))
		}
		if strings.ContainsAny(got, `/\`) || got == "." || got == ".." || strings.TrimSpace(got) != got {
			t.Fatalf("%q → %q", name, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || isBidiControl(r) {
				t.Fatalf("%q → %q keeps %U", name, got, r)
			}
		}
		if again := CleanFilename(got); again != got {
			t.Fatalf("%q → %q → %q", name, got, again)
		}
	})
}

// FuzzContentDisposition checks that every file name survives the header:
// a MIME parser reads back the same name (invalid UTF-8 as U+FFFD).
func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{"보고서 최종.pdf", `a"b.txt`, "100%.txt", "x\\y", "", "\xff", "tab\there", "이모지 👍🏽.png"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, name string, inline bool) {
		h := ContentDisposition(inline, name)
		disp, params, err := mime.ParseMediaType(h)
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		if want := map[bool]string{true: "inline", false: "attachment"}[inline]; disp != want {
			t.Fatalf("%q: disposition %q", h, disp)
		}
		want := strings.ToValidUTF8(name, "\uFFFD")
		if want == "" {
			want = "file"
		}
		if params["filename"] != want {
			t.Fatalf("%q: filename %q, want %q", h, params["filename"], want)
		}
	})
}

// FuzzProbeImage feeds any bytes to the image path as each type: never a
// panic or error, and what it calls an image has a size and a thumbnail
// that decodes. Small limits keep each run fast; JPEGs from 128 px on
// are decoded at 1/8 for the 16 px thumbnail (package jpegdc), then in
// full if that fails.
func FuzzProbeImage(f *testing.F) {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, gradient(20, 10, false), nil)
	f.Add(withOrientation(b.Bytes(), 6))
	// JPEGs whose 1/8 scale covers the 16 px thumbnail: decoded by jpegdc.
	b.Reset()
	_ = jpeg.Encode(&b, gradient(160, 96, false), nil)
	f.Add(withOrientation(b.Bytes(), 8))
	for _, name := range []string{"prog420.jpg", "restart420.jpg", "rgb.jpg"} {
		data, err := os.ReadFile(filepath.Join("jpegdc", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(encodePNG(f, gradient(12, 9, true)))
	f.Add(encodePNG(f, filled(image.NewGray16(image.Rect(0, 0, 9, 7)))))
	f.Add(gifBytes(f, 7, 5))
	f.Add(webpBytes(6, 4, color.NRGBA{1, 2, 3, 255}))
	f.Add(pngHeader(100000, 100000))
	s := NewService(nil, Limits{MaxImagePixels: 1 << 16, DecodeMemory: 64 << 20, ThumbnailSize: 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		for ct := range codecs {
			info, err := s.probeImage(context.Background(), bytes.NewReader(data), ct, 1)
			if err != nil {
				t.Fatalf("%s: %v", ct, err)
			}
			if !info.ok {
				continue
			}
			if info.width <= 0 || info.height <= 0 {
				t.Fatalf("%s: %d×%d", ct, info.width, info.height)
			}
			m, _, err := image.Decode(bytes.NewReader(info.thumb))
			if err != nil {
				t.Fatalf("%s: the thumbnail does not decode: %v", ct, err)
			}
			if b := m.Bounds(); b.Dx() > 16 || b.Dy() > 16 {
				t.Fatalf("%s: thumbnail %v", ct, b)
			}
		}
	})
}
