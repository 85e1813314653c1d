package upload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// encodePNG encodes m (its type decides the PNG's color type and depth).
func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// filled returns m with every pixel set from a pattern (so that encoders
// have something to compress), m returned for chaining.
func filled[M interface {
	image.Image
	Set(x, y int, c color.Color)
}](m M) M {
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			m.Set(x, y, color.NRGBA64{uint16(x * 97), uint16(y * 89), uint16((x + y) * 31), 0xFFFF - uint16(x%7)})
		}
	}
	return m
}

// goTestdata reads a file of Go's own image testdata.
func goTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "image", "testdata", name))
	if err != nil {
		t.Skipf("Go's image testdata: %v", err)
	}
	return b
}

// The estimate of a decode is never below what the decode and thumbnail
// really allocate (every byte, as runtime.MemStats.TotalAlloc counts: an
// upper bound of the heap they hold), for each decoded form: 8- and 16-bit
// PNGs, gray and paletted ones, JPEGs (4:2:0, gray, CMYK, progressive),
// GIF, WebP.
func TestDecodeCostCoversTheDecode(t *testing.T) {
	const w, h = 900, 700
	r := image.Rect(0, 0, w, h)
	cases := map[string]struct {
		ct   string
		data []byte
	}{
		"png gray":     {"image/png", encodePNG(t, filled(image.NewGray(r)))},
		"png gray16":   {"image/png", encodePNG(t, filled(image.NewGray16(r)))},
		"png rgb":      {"image/png", encodePNG(t, filled(image.NewRGBA(r)))},
		"png rgba":     {"image/png", encodePNG(t, gradient(w, h, true))},
		"png rgb16":    {"image/png", encodePNG(t, filled(image.NewRGBA64(r)))},
		"png rgba16":   {"image/png", encodePNG(t, filled(image.NewNRGBA64(r)))},
		"png paletted": {"image/png", encodePNG(t, filled(image.NewPaletted(r, color.Palette{color.Black, color.White, color.Gray{128}})))},
		"png tall":     {"image/png", encodePNG(t, filled(image.NewRGBA(image.Rect(0, 0, 90, 7000))))},
		"jpeg 4:2:0":   {"image/jpeg", jpegBytes(t, gradient(w, h, false))},
		"jpeg gray": {"image/jpeg", func() []byte {
			var b bytes.Buffer
			_ = jpeg.Encode(&b, filled(image.NewGray(r)), nil)
			return b.Bytes()
		}()},
		"jpeg cmyk":        {"image/jpeg", goTestdata(t, "video-001.cmyk.jpeg")},
		"jpeg progressive": {"image/jpeg", goTestdata(t, "video-001.q50.444.progressive.jpeg")},
		"jpeg rgb":         {"image/jpeg", goTestdata(t, "video-001.rgb.jpeg")},
		// image/jpeg honours an Adobe segment after the frame header too,
		// and converts the three components to RGBA.
		"jpeg adobe after sof": {"image/jpeg", adobeAfterFrame(t, jpegBytes(t, gradient(w, h, false)))},
		"gif":                  {"image/gif", gifBytes(t, w, h)},
		"webp lossless":        {"image/webp", webpBytes(w, h, color.NRGBA{10, 20, 30, 255})},
	}
	lossy, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	cases["webp lossy"] = struct {
		ct   string
		data []byte
	}{"image/webp", lossy}

	for name, c := range cases {
		cfg, err := codecs[c.ct].config(bytes.NewReader(c.data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		est := decodeCost(c.ct, cfg, bytes.NewReader(c.data), DefaultThumbnailSize)

		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		info, err := render(codecs[c.ct], bufio.NewReader(bytes.NewReader(c.data)), cfg, 1, DefaultThumbnailSize)
		runtime.ReadMemStats(&after)
		if err != nil || !info.ok {
			t.Fatalf("%s: not rendered: %v", name, err)
		}
		used := after.TotalAlloc - before.TotalAlloc
		t.Logf("%-16s %4d×%-4d estimate %6.1f MiB, allocated %6.1f MiB", name, cfg.Width, cfg.Height, float64(est)/(1<<20), float64(used)/(1<<20))
		if uint64(est) < used {
			t.Errorf("%s: estimated %d bytes, the decode allocated %d", name, est, used)
		}
	}
}

// adobeAfterFrame puts an Adobe APP14 segment (transform 0: the three
// components are RGB, not YCbCr) right after a JPEG's frame header.
func adobeAfterFrame(t *testing.T, jpg []byte) []byte {
	t.Helper()
	for i := 2; i+4 <= len(jpg); {
		marker, n := jpg[i+1], int(jpg[i+2])<<8|int(jpg[i+3])
		end := i + 2 + n
		if marker == 0xC0 {
			app14 := []byte{0xFF, 0xEE, 0x00, 0x0E, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0}
			out := append(append(append([]byte{}, jpg[:end]...), app14...), jpg[end:]...)
			if _, err := jpeg.Decode(bytes.NewReader(out)); err != nil {
				t.Fatalf("JPEG with an Adobe segment after its frame: %v", err)
			}
			return out
		}
		i = end
	}
	t.Fatal("no baseline frame header")
	return nil
}

func TestReadJPEGFrame(t *testing.T) {
	for name, want := range map[string]struct {
		progressive bool
		comps       int
		h0, v0      int
	}{
		"video-001.q50.420.progressive.jpeg": {true, 3, 2, 2},
		"video-001.q50.422.jpeg":             {false, 3, 2, 1},
		"video-001.cmyk.jpeg":                {false, 4, 1, 1},
		"video-005.gray.jpeg":                {false, 1, 1, 1},
	} {
		f, ok := readJPEGFrame(bytes.NewReader(goTestdata(t, name)))
		if !ok || f.progressive != want.progressive || len(f.comps) != want.comps || f.comps[0].h != want.h0 || f.comps[0].v != want.v0 {
			t.Errorf("%s: %+v, %v; want %+v", name, f, ok, want)
		}
	}
	if _, ok := readJPEGFrame(bytes.NewReader([]byte("\xFF\xD8\xFF\xDA\x00\x02"))); ok {
		t.Error("a scan without a frame header was read as one")
	}
}

// A 16-bit PNG is estimated at 8 bytes a pixel (RGBA64), an interlaced one
// at twice that, as image/png decodes them.
func TestDecodeCostCountsDepth(t *testing.T) {
	const w, h = 6300, 6300
	cfg := func(m color.Model) image.Config { return image.Config{ColorModel: m, Width: w, Height: h} }
	header := func(interlace byte) *bytes.Reader {
		hdr := pngHeader(w, h)
		hdr[28] = interlace
		return bytes.NewReader(hdr)
	}
	// Box-averaged by 9 to 700×700 first, then scaled.
	scaling := int64(4*700*700 + 32*700 + 32*320*700 + 2*4*320*320 + decodeOverhead)
	if got, want := decodeCost("image/png", cfg(color.RGBA64Model), header(0), 320), int64(8*w*h)+scaling; got != want {
		t.Errorf("16-bit PNG: %d, want %d", got, want)
	}
	if got, want := decodeCost("image/png", cfg(color.RGBA64Model), header(1), 320), int64(16*w*h)+scaling; got != want {
		t.Errorf("interlaced 16-bit PNG: %d, want %d", got, want)
	}
	if got, want := decodeCost("image/png", cfg(color.NRGBAModel), header(0), 320), int64(4*w*h)+scaling; got != want {
		t.Errorf("8-bit PNG: %d, want %d", got, want)
	}
}

// An image whose decode would take more than half the memory budget is
// kept as a plain file, never decoded; as an avatar it is refused.
func TestSaveOverTheMemoryBudget(t *testing.T) {
	s, dir := newService(t, Limits{DecodeMemory: 48 << 20})
	ctx := context.Background()
	// 1500×1500 RGBA64: 18 MB decoded and 13 MB to scale, over 24 MiB.
	data := encodePNG(t, image.NewRGBA64(image.Rect(0, 0, 1500, 1500)))
	st, err := s.Save(ctx, Uploader{ID: 1}, bytes.NewReader(data), "deep.png")
	if err != nil || st.IsImage || st.ThumbnailKey != "" || st.ContentType != "image/png" {
		t.Fatalf("Save: %+v, %v", st, err)
	}
	if !bytes.Equal(readAll(t, s, st.Key), data) {
		t.Fatal("the file was not kept as sent")
	}
	_, err = s.SaveImage(ctx, Uploader{ID: 1}, bytes.NewReader(data), "deep.png")
	wantKind(t, err, "PAYLOAD_TOO_LARGE")
	if got := files(t, dir); len(got) != 1 {
		t.Fatalf("files after the refused avatar: %v", got)
	}
	// The same image in 8 bits (9 MB decoded) fits.
	data = encodePNG(t, image.NewRGBA(image.Rect(0, 0, 1500, 1500)))
	if st, err = s.Save(ctx, Uploader{ID: 1}, bytes.NewReader(data), "flat.png"); err != nil || !st.IsImage {
		t.Fatalf("an 8-bit image within the budget: %+v, %v", st, err)
	}
}

func TestSaveOverQuotaKeepsNothing(t *testing.T) {
	s, dir := newService(t, Limits{})
	_, err := s.Save(context.Background(), Uploader{ID: 1, Quota: 99}, bytes.NewReader(make([]byte, 100)), "a.bin")
	if err == nil || !errorsIs(err, ErrOverQuota) {
		t.Fatalf("a file over the quota: %v", err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("files left: %v", got)
	}
	if _, err := s.Save(context.Background(), Uploader{ID: 1, Quota: 100}, bytes.NewReader(make([]byte, 100)), "a.bin"); err != nil {
		t.Fatalf("a file of exactly the quota: %v", err)
	}
}

// BenchmarkProbe decodes and thumbnails a 12-megapixel photo-sized JPEG and
// a 4-megapixel PNG: go test -bench Probe -benchmem ./internal/upload/
func BenchmarkProbe(b *testing.B) {
	for name, c := range map[string]struct {
		ct   string
		data []byte
	}{
		"jpeg-4000x3000": {"image/jpeg", func() []byte {
			var buf bytes.Buffer
			_ = jpeg.Encode(&buf, gradient(4000, 3000, false), nil)
			return buf.Bytes()
		}()},
		"png-2000x2000": {"image/png", encodePNG(b, gradient(2000, 2000, false))},
	} {
		b.Run(name, func(b *testing.B) {
			s := NewService(nil, Limits{})
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				info, err := s.probeImage(context.Background(), bytes.NewReader(c.data), c.ct, 1)
				if err != nil || !info.ok {
					b.Fatal(err)
				}
			}
		})
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
