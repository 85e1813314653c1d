package jpegdc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// Tolerances of the 1/8 decode against a full decode averaged over the
// same 8×8 blocks, in levels of 255: the mean absolute error over all
// pixels of a plane or channel, and the largest single error. They come
// from the IDCT's rounding and clamping (a block whose pixels clamp at 0
// or 255 has a mean its DC does not give; RGB channels, coded apart,
// clamp more often than luma does).
//
// A YCbCr image is compared plane by plane: Y, and Cb and Cr each
// averaged over 8×8 of its own samples, as the 1/8 image keeps the
// source's subsampling (a 4:2:0 photo's chroma is at 1/16 of its size,
// half the 1/8 luma, as it was half the full luma). Gray and RGB images
// are compared per channel.
const (
	maxMeanError  = 1.0
	maxPixelError = 32
)

// Images with sampling image/jpeg refuses are compared in RGB with
// libjpeg's full decode, which interpolates a component sampled coarser
// than another (there luma too: 1×1 beside chroma's 2×2) where the 1/8
// image repeats the component's block mean: on a picture of gentle
// gradients the difference stays small, but it is more than rounding.
const (
	maxMeanErrorRGB  = 5.0
	maxPixelErrorRGB = 12
)

// testImage is a w×h picture with gradients, flat shapes with hard
// edges, a checkerboard of 4 px squares and noise: what a photo has,
// and what a DC decode gets wrong first.
func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rnd := rand.New(rand.NewPCG(1, 2))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			r, g, b := 255*fx, 255*fy, 128+100*math.Sin(fx*9+fy*5)
			if dx, dy := fx-0.3, fy-0.5; dx*dx+dy*dy < 0.04 {
				r, g, b = 230, 30, 40
			}
			if (x/4+y/4)%2 == 0 && fx > 0.7 && fy > 0.65 {
				r, g, b = 250, 250, 250
			}
			n := rnd.Float64()*30 - 15
			c := func(v float64) uint8 { return uint8(max(0, min(255, v+n))) }
			img.SetRGBA(x, y, color.RGBA{c(r), c(g), c(b), 255})
		}
	}
	return img
}

func encode(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func toGray(img image.Image) *image.Gray {
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	return g
}

// boxAverage returns the w×h plane p (of stride stride) averaged over
// 8×8 blocks, the last row and column of blocks cut at its edge.
func boxAverage(p []byte, stride, w, h int) (out []byte, ow, oh int) {
	ow, oh = (w+7)/8, (h+7)/8
	out = make([]byte, ow*oh)
	for by := range oh {
		for bx := range ow {
			s, n := 0, 0
			for y := by * 8; y < min(by*8+8, h); y++ {
				for x := bx * 8; x < min(bx*8+8, w); x++ {
					s += int(p[y*stride+x])
					n++
				}
			}
			out[by*ow+bx] = uint8((s + n/2) / n)
		}
	}
	return out, ow, oh
}

// planes returns an image's planes (Y, Cb, Cr; gray; or R, G, B) as
// w×h arrays.
type plane struct {
	name string
	pix  []byte
	w, h int
}

func planes(img image.Image) []plane {
	switch m := img.(type) {
	case *image.Gray:
		return []plane{{"gray", m.Pix, m.Stride, m.Rect.Dy()}}
	case *image.YCbCr:
		cw, ch := m.CStride, len(m.Cb)/m.CStride
		return []plane{{"Y", m.Y, m.YStride, len(m.Y) / m.YStride}, {"Cb", m.Cb, cw, ch}, {"Cr", m.Cr, cw, ch}}
	}
	b := img.Bounds()
	ps := []plane{{"R", nil, b.Dx(), b.Dy()}, {"G", nil, b.Dx(), b.Dy()}, {"B", nil, b.Dx(), b.Dy()}}
	for i := range ps {
		ps[i].pix = make([]byte, b.Dx()*b.Dy())
	}
	for y := range b.Dy() {
		for x := range b.Dx() {
			r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			ps[0].pix[y*b.Dx()+x], ps[1].pix[y*b.Dx()+x], ps[2].pix[y*b.Dx()+x] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
		}
	}
	return ps
}

// checkAccuracy decodes data at 1/8 and compares it, plane by plane, with
// the full decode want averaged over 8×8 blocks.
func checkAccuracy(t *testing.T, data []byte, want image.Image, wantType string, maxMean float64, maxWorst int) {
	t.Helper()
	got, err := Decode(bytes.NewReader(data), 1<<30)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if typ := fmt.Sprintf("%T", got); typ != wantType {
		t.Fatalf("decoded to %s, want %s", typ, wantType)
	}
	wb := want.Bounds()
	if sz := got.Bounds().Size(); sz.X != (wb.Dx()+7)/8 || sz.Y != (wb.Dy()+7)/8 {
		t.Fatalf("size %v for a %v image", sz, wb.Size())
	}
	if yc, ok := got.(*image.YCbCr); ok {
		if full, ok := want.(*image.YCbCr); ok && yc.SubsampleRatio != full.SubsampleRatio {
			t.Fatalf("subsampling %v, full decode %v", yc.SubsampleRatio, full.SubsampleRatio)
		}
	}
	gp, wp := planes(got), planes(want)
	if len(gp) != len(wp) {
		t.Fatalf("%d planes, full decode %d", len(gp), len(wp))
	}
	for i, g := range gp {
		avg, aw, _ := boxAverage(wp[i].pix, wp[i].w, wp[i].w, wp[i].h)
		sum, worst := 0, 0
		// The full decode's chroma planes may be padded to whole MCUs:
		// compare the 1/8 image's extent.
		for y := range g.h {
			for x := range g.w {
				d := int(g.pix[y*g.w+x]) - int(avg[y*aw+x])
				d = max(d, -d)
				sum += d
				worst = max(worst, d)
			}
		}
		mean := float64(sum) / float64(g.w*g.h)
		t.Logf("%s %d×%d: mean abs error %.2f, worst %d", g.name, g.w, g.h, mean, worst)
		if mean > maxMean || worst > maxWorst {
			t.Errorf("%s: mean abs error %.2f (at most %.1f), worst %d (at most %d)", g.name, mean, maxMean, worst, maxWorst)
		}
	}
}

// Go's own encoder: baseline 4:2:0 and grayscale, of sizes that are and
// are not multiples of the MCU.
func TestMatchesFullDecodeGoEncoder(t *testing.T) {
	for _, sz := range []image.Point{{256, 160}, {203, 141}, {17, 9}, {1, 1}, {8, 200}} {
		src := testImage(sz.X, sz.Y)
		for _, q := range []int{50, 90} {
			t.Run(fmt.Sprintf("color-%dx%d-q%d", sz.X, sz.Y, q), func(t *testing.T) {
				data := encode(t, src, q)
				full, err := jpeg.Decode(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				checkAccuracy(t, data, full, "*image.YCbCr", maxMeanError, maxPixelError)
			})
			t.Run(fmt.Sprintf("gray-%dx%d-q%d", sz.X, sz.Y, q), func(t *testing.T) {
				data := encode(t, toGray(src), q)
				full, err := jpeg.Decode(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				checkAccuracy(t, data, full, "*image.Gray", maxMeanError, maxPixelError)
			})
		}
	}
}

// Fixtures made by libjpeg-turbo's cjpeg and jpegtran from a 203×141
// picture (see testdata/README): the samplings, progressive scripts
// (DC with successive approximation, DC scans one component at a time)
// and restart intervals Go's encoder does not make.
func TestMatchesFullDecodeFixtures(t *testing.T) {
	for name, typ := range map[string]string{
		"s444.jpg":             "*image.YCbCr",
		"s422.jpg":             "*image.YCbCr",
		"s440.jpg":             "*image.YCbCr",
		"s411.jpg":             "*image.YCbCr",
		"prog420.jpg":          "*image.YCbCr",
		"prog444-restart.jpg":  "*image.YCbCr",
		"prog-gray.jpg":        "*image.Gray",
		"prog-separate-dc.jpg": "*image.YCbCr",
		"restart420.jpg":       "*image.YCbCr",
		"restart444-rows.jpg":  "*image.YCbCr",
		"rgb.jpg":              "*image.RGBA",
	} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			full, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			checkAccuracy(t, data, full, typ, maxMeanError, maxPixelError)
		})
	}
}

// Samplings image/jpeg refuses (Cb and Cr sampled differently, chroma
// sampled finer than luma) are compared with libjpeg-turbo's full decode
// (djpeg), committed beside them.
func TestMatchesLibjpegUnusualSampling(t *testing.T) {
	for _, name := range []string{"odd-sampling", "chroma-over-luma"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jpeg.Decode(bytes.NewReader(data)); err == nil {
				t.Log("image/jpeg decodes it now")
			}
			checkAccuracy(t, data, readPPM(t, filepath.Join("testdata", name+".ppm")), "*image.RGBA", maxMeanErrorRGB, maxPixelErrorRGB)
		})
	}
}

func readPPM(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var w, h, maxv int
	if _, err := fmt.Fscanf(br, "P6\n%d %d\n%d\n", &w, &h, &maxv); err != nil || maxv != 255 {
		t.Fatalf("%s: not a P6 PPM: %v", path, err)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	px := make([]byte, 3)
	for i := range w * h {
		if _, err := br.Read(px[:1]); err != nil {
			t.Fatal(err)
		}
		if _, err := br.Read(px[1:2]); err != nil {
			t.Fatal(err)
		}
		if _, err := br.Read(px[2:3]); err != nil {
			t.Fatal(err)
		}
		copy(img.Pix[4*i:], px)
		img.Pix[4*i+3] = 255
	}
	return img
}

func TestDecodeFrame(t *testing.T) {
	data, err := os.ReadFile("testdata/prog420.jpg")
	if err != nil {
		t.Fatal(err)
	}
	f, err := DecodeFrame(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if w, h := f.Size(); f.Width != 203 || f.Height != 141 || !f.Progressive || w != 26 || h != 18 {
		t.Fatalf("frame %+v, size %d×%d", f, w, h)
	}
	// 4:2:0 in 13×9 MCUs of 16×16: 4 luma and 2 chroma blocks each, 2
	// bytes a block, and a 26×18 RGBA at most.
	if got, want := f.DecodedBytes(), int64(2*13*9*6+4*26*18+tableBytes); got != want {
		t.Fatalf("DecodedBytes %d, want %d", got, want)
	}
}

func TestTableBytes(t *testing.T) {
	if n := unsafe.Sizeof(decoder{}); n+4096 > tableBytes {
		t.Fatalf("the decoder takes %d bytes, tableBytes counts %d", n, tableBytes)
	}
}

// What Decode does not read is ErrUnsupported, for the caller to decode
// in full; a frame over the pixel limit is ErrTooLarge before anything
// of its size is allocated; a broken file is an error, never a panic.
func TestErrors(t *testing.T) {
	small := encode(t, testImage(40, 24), 80)
	sof := bytes.Index(small, []byte{0xFF, 0xC0})
	if sof < 0 {
		t.Fatal("no SOF0 in Go's encoding")
	}
	patch := func(at int, b ...byte) []byte {
		p := bytes.Clone(small)
		copy(p[at:], b)
		return p
	}
	arith, err := os.ReadFile("testdata/arith.jpg")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"arithmetic":      {arith, ErrUnsupported},
		"lossless":        {patch(sof+1, 0xC3), ErrUnsupported},
		"hierarchical":    {patch(sof+1, 0xC5), ErrUnsupported},
		"12-bit":          {patch(sof+4, 12), ErrUnsupported},
		"DNL height":      {patch(sof+5, 0, 0), ErrUnsupported},
		"two components":  {patch(sof+9, 2), ErrUnsupported},
		"four components": {patch(sof+9, 4), ErrUnsupported},
		"too many pixels": {encode(t, testImage(1000, 1001), 10), ErrTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tc.data), 1_000_000)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// A large frame whose scan data stops after 200 bytes, then EOI.
	big := encode(t, testImage(400, 400), 80)
	sos := bytes.Index(big, []byte{0xFF, 0xDA})
	cut := append(bytes.Clone(big[:sos+200]), 0xFF, 0xD9)

	var fe FormatError
	for name, data := range map[string][]byte{
		"scan cut short": cut,
		"empty":          nil,
		"not a JPEG":     []byte("GIF89a"),
		"truncated":      small[:len(small)/2],
		"no frame":       small[:sof],
		"zero width":     patch(sof+7, 0, 0),
		"sampling 0":     patch(sof+11, 0x00),
		"sampling 5":     patch(sof+11, 0x51),
	} {
		t.Run(name, func(t *testing.T) {
			img, err := Decode(bytes.NewReader(data), 1_000_000)
			if err == nil {
				t.Fatalf("decoded %v", img.Bounds())
			}
			if errors.Is(err, ErrUnsupported) || errors.Is(err, ErrTooLarge) {
				t.Fatalf("%v: want a format error", err)
			}
			if !errors.As(err, &fe) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %T %v: want a FormatError or io.ErrUnexpectedEOF", err, err)
			}
		})
	}
}

// BenchmarkDecode compares the 1/8 DC decode with image/jpeg's full
// decode of a 12 MP (4000×3000) 4:2:0 photo-like JPEG:
//
//	go test -run '^$' -bench Decode -benchmem ./internal/upload/jpegdc/
func BenchmarkDecode(b *testing.B) {
	data := encode(b, testImage(4000, 3000), 85)
	b.Run("dc-1/8", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := Decode(bytes.NewReader(data), 1<<30); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image-jpeg-full", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
