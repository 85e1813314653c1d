package upload

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// photo is a w×h opaque image with gradients, a disc and fine detail,
// encoded by image/jpeg (4:2:0), or gray.
func photoJPEG(t testing.TB, w, h int, gray bool) []byte {
	t.Helper()
	var m draw8
	if gray {
		m = image.NewGray(image.Rect(0, 0, w, h))
	} else {
		m = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8(128 + (x/3+y/5)%40), 255}
			if dx, dy := x-w/3, y-h/2; dx*dx+dy*dy < h*h/16 {
				c = color.RGBA{220, 40, 30, 255}
			}
			m.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type draw8 interface {
	image.Image
	Set(x, y int, c color.Color)
}

// The estimate of a 1/8 decode is never below what the decode and its
// thumbnail really allocate (runtime TotalAlloc), and below the full
// decode's: for Go's 4:2:0 and gray JPEGs at the default
// thumbnail size, and libjpeg-turbo's samplings, progressive, restart and
// RGB fixtures at a thumbnail small enough that they are decoded at 1/8.
func TestReducedCostCoversTheDecode(t *testing.T) {
	type tc struct {
		data []byte
		size int
	}
	cases := map[string]tc{
		"go 4:2:0 4000×3000": {photoJPEG(t, 4000, 3000, false), DefaultThumbnailSize},
		"go gray 3000×2600":  {photoJPEG(t, 3000, 2600, true), DefaultThumbnailSize},
		"go 4:2:0 2561×2000": {photoJPEG(t, 2561, 2000, false), DefaultThumbnailSize},
	}
	fixtures, _ := filepath.Glob("jpegdc/testdata/*.jpg")
	for _, name := range fixtures {
		if filepath.Base(name) == "arith.jpg" {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		cases[filepath.Base(name)] = tc{data, 8}
	}
	for name, c := range cases {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(c.data))
		if err != nil {
			continue // samplings image/jpeg refuses: never an image
		}
		est, ok := reducedJPEGCost(bytes.NewReader(c.data), cfg, c.size)
		if !ok {
			t.Fatalf("%s: not decoded at 1/8", name)
		}
		full := decodeCost("image/jpeg", cfg, bytes.NewReader(c.data), c.size)

		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		info, done := renderReduced(bufio.NewReader(bytes.NewReader(c.data)), cfg, 1, c.size, DefaultMaxImagePixels)
		runtime.ReadMemStats(&after)
		if !done || !info.ok {
			t.Fatalf("%s: not rendered", name)
		}
		used := after.TotalAlloc - before.TotalAlloc
		t.Logf("%-22s %4d×%-4d estimate %6.2f MiB (full decode %7.2f MiB), allocated %6.2f MiB", name, cfg.Width, cfg.Height,
			float64(est)/(1<<20), float64(full)/(1<<20), float64(used)/(1<<20))
		if uint64(est) < used {
			t.Errorf("%s: estimated %d bytes, the decode allocated %d", name, est, used)
		}
		if est >= full {
			t.Errorf("%s: estimate %d, not below the full decode's %d", name, est, full)
		}
	}
}

// meanAbsDiff is the mean absolute difference per RGB channel of two
// images of the same size, in levels of 255.
func meanAbsDiff(t *testing.T, a, b image.Image) float64 {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("sizes %v and %v", a.Bounds(), b.Bounds())
	}
	var sum, n float64
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				sum += float64(max(d, -d))
				n++
			}
		}
	}
	return sum / n
}

// A large JPEG's thumbnail, made from its 1/8 decode, looks like the one
// made from the full decode (mean difference at most 2.5 levels a channel),
// upright by its EXIF orientation, while the image keeps its full size;
// a JPEG whose 1/8 scale is smaller than the thumbnail is decoded in full
// as before. Both through probeImage.
func TestProbeDecodesLargeJPEGAtReducedScale(t *testing.T) {
	s := NewService(nil, Limits{})
	ctx := context.Background()
	data := photoJPEG(t, 4000, 3000, false)
	cfg, _ := jpeg.DecodeConfig(bytes.NewReader(data))
	fullInfo, err := render(codecs["image/jpeg"], bytes.NewReader(data), cfg, 1, DefaultThumbnailSize)
	if err != nil || !fullInfo.ok {
		t.Fatalf("full render: %v", err)
	}
	for _, o := range []uint16{1, 6} {
		info, err := s.probeImage(ctx, bytes.NewReader(withOrientation(data, o)), "image/jpeg", 1)
		if err != nil || !info.ok || info.thumbExt != ".jpg" {
			t.Fatalf("orientation %d: %+v, %v", o, info, err)
		}
		thumb, err := jpeg.Decode(bytes.NewReader(info.thumb))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := jpeg.Decode(bytes.NewReader(fullInfo.thumb))
		if o == 6 {
			if info.width != 3000 || info.height != 4000 || thumb.Bounds() != image.Rect(0, 0, 240, 320) {
				t.Fatalf("orientation 6: %d×%d, thumbnail %v", info.width, info.height, thumb.Bounds())
			}
			want = orientImage(toRGBA(want), 6)
		} else if info.width != 4000 || info.height != 3000 || thumb.Bounds() != image.Rect(0, 0, 320, 240) {
			t.Fatalf("%d×%d, thumbnail %v", info.width, info.height, thumb.Bounds())
		}
		d := meanAbsDiff(t, thumb, want)
		t.Logf("orientation %d: thumbnail from the 1/8 decode differs from the full decode's by %.2f levels on average", o, d)
		if d > 2.5 {
			t.Errorf("orientation %d: thumbnails differ by %.2f levels on average", o, d)
		}
	}

	// 2000×1500 is 250×188 at 1/8, under 320×240: decoded in full.
	small := photoJPEG(t, 2000, 1500, false)
	cfg, _ = jpeg.DecodeConfig(bytes.NewReader(small))
	if _, ok := reducedJPEGCost(bytes.NewReader(small), cfg, DefaultThumbnailSize); ok {
		t.Fatal("a 2000×1500 JPEG would be decoded at 1/8 for a 320 px thumbnail")
	}
	if info, err := s.probeImage(ctx, bytes.NewReader(small), "image/jpeg", 1); err != nil || !info.ok || info.width != 2000 {
		t.Fatalf("2000×1500: %+v, %v", info, err)
	}
}

// A large JPEG cut short fails the 1/8 decode, then the full decode it
// falls back to, as it did before: it is kept as a file, and the budget
// has all its room back.
func TestProbeTruncatedLargeJPEG(t *testing.T) {
	s := NewService(nil, Limits{})
	data := photoJPEG(t, 4000, 3000, false)
	info, err := s.probeImage(context.Background(), bytes.NewReader(data[:len(data)/2]), "image/jpeg", 1)
	if err != nil || info.ok {
		t.Fatalf("truncated: %+v, %v", info, err)
	}
	// All the room is back: an image taking all one image may is let in at once.
	release, err := s.budget.acquire(context.Background(), 2, s.maxImageCost())
	if err != nil {
		t.Fatal(err)
	}
	release()
}

func toRGBA(m image.Image) *image.RGBA {
	r := image.NewRGBA(m.Bounds())
	for y := r.Rect.Min.Y; y < r.Rect.Max.Y; y++ {
		for x := r.Rect.Min.X; x < r.Rect.Max.X; x++ {
			r.Set(x, y, m.At(x, y))
		}
	}
	return r
}

// BenchmarkThumbnailJPEG makes the thumbnail of a 12 MP (4000×3000)
// photo-like JPEG as probeImage does now (a 1/8 decode) and from the full
// decode, as it did before:
//
//	go test -run '^$' -bench ThumbnailJPEG -benchmem ./internal/upload/
func BenchmarkThumbnailJPEG(b *testing.B) {
	data := photoJPEG(b, 4000, 3000, false)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("reduced", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if info, done := renderReduced(bytes.NewReader(data), cfg, 1, DefaultThumbnailSize, DefaultMaxImagePixels); !done || !info.ok {
				b.Fatal("not rendered")
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if info, err := render(codecs["image/jpeg"], bytes.NewReader(data), cfg, 1, DefaultThumbnailSize); err != nil || !info.ok {
				b.Fatal(err)
			}
		}
	})
}
