package jpegdc

// FuzzDecode searches for inputs that make the decoder panic, hang or
// allocate more than its frame allows. Its seeds (Go-encoded images, the
// libjpeg-turbo fixtures, headers patched to unsupported forms) run as
// ordinary tests; to search further:
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 1m ./internal/upload/jpegdc/
//
// A failing input is written under testdata/fuzz/FuzzDecode/: commit it
// with the fix, and it stays a test.

import (
	"bytes"
	"errors"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// fuzzMaxPixels is the pixel limit the fuzz test decodes under: a header
// may claim up to 65535×65535, and anything over this must be refused
// before its planes are allocated.
const fuzzMaxPixels = 1 << 20

func FuzzDecode(f *testing.F) {
	small := encode(f, testImage(40, 24), 75)
	f.Add(small)
	f.Add(encode(f, toGray(testImage(33, 17)), 50))
	f.Add(encode(f, testImage(1, 1), 90))
	fixtures, _ := filepath.Glob("testdata/*.jpg")
	for _, name := range fixtures {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	if sof := bytes.Index(small, []byte{0xFF, 0xC0}); sof > 0 {
		for _, p := range []struct {
			at int
			b  []byte
		}{{sof + 1, []byte{0xC2}}, {sof + 5, []byte{0xFF, 0xFF, 0xFF, 0xFF}}, {sof + 11, []byte{0x44}}, {sof + 9, []byte{1}}} {
			q := bytes.Clone(small)
			copy(q[p.at:], p.b)
			f.Add(q)
		}
	}
	f.Add([]byte("\xFF\xD8\xFF\xDD\x00\x04\x00\x01\xFF\xC0\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00\xFF\xDA\x00\x08\x01\x01\x00\x00\x3f\x00\xFF\xD9"))

	f.Fuzz(func(t *testing.T, data []byte) {
		frame, ferr := DecodeFrame(bytes.NewReader(data))

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		img, err := decode(bytes.NewReader(data), fuzzMaxPixels)
		runtime.ReadMemStats(&after)
		used := int64(after.TotalAlloc - before.TotalAlloc)

		// Besides the frame's own bound: the decoder's struct, a
		// segment buffer, error values and the frame's slices.
		const slack = 128 << 10
		bound := int64(slack)
		if ferr == nil && int64(frame.Width)*int64(frame.Height) <= fuzzMaxPixels {
			bound += frame.DecodedBytes()
		}
		if used > bound {
			t.Fatalf("allocated %d bytes, over the bound %d (frame %+v, %v)", used, bound, frame, ferr)
		}
		if err != nil {
			if img != nil {
				t.Fatal("an image with an error")
			}
			if ferr == nil && int64(frame.Width)*int64(frame.Height) > fuzzMaxPixels && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("a %d×%d frame: %v, want ErrTooLarge", frame.Width, frame.Height, err)
			}
			return
		}
		if ferr != nil {
			t.Fatalf("decoded, but its frame header: %v", ferr)
		}
		w, h := frame.Size()
		if img.Bounds() != image.Rect(0, 0, w, h) {
			t.Fatalf("bounds %v for a %d×%d frame", img.Bounds(), frame.Width, frame.Height)
		}
	})
}
