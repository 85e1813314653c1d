package upload

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

// Test images, made in code.

// gradient is a w×h opaque image with some detail, or translucent on the
// right half when alpha is set.
func gradient(w, h int, alpha bool) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			a := uint8(255)
			if alpha && x >= w/2 {
				a = 100
			}
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, a})
		}
	}
	return m
}

func pngBytes(t *testing.T, w, h int, alpha bool) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, gradient(w, h, alpha)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t *testing.T, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	m := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
	for y := range h {
		for x := range w {
			m.SetColorIndex(x, y, uint8((x+y)%256))
		}
	}
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpBytes encodes a w×h lossless WebP of one colour c. The standard
// library has no WebP encoder; a single-colour VP8L image needs no entropy
// coding worth the name: every prefix code is a "simple code" with one
// symbol, so each pixel takes zero bits.
func webpBytes(w, h int, c color.NRGBA) []byte {
	var bw lsbWriter
	bw.write(0x2f, 8) // VP8L signature
	bw.write(uint64(w-1), 14)
	bw.write(uint64(h-1), 14)
	if c.A != 255 {
		bw.write(1, 1) // alpha is used
	} else {
		bw.write(0, 1)
	}
	bw.write(0, 3) // version
	bw.write(0, 1) // no transform
	bw.write(0, 1) // no color cache
	bw.write(0, 1) // no meta prefix codes
	// Prefix codes for green, red, blue, alpha, distance.
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} {
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // 8-bit symbol
		bw.write(uint64(sym), 8)
	}
	data := bw.bytes()
	if len(data)%2 == 1 {
		data = append(data, 0)
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(4+8+len(data)))
	b.WriteString("WEBPVP8L")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

type lsbWriter struct {
	buf  []byte
	acc  uint64
	bits uint
}

func (w *lsbWriter) write(v uint64, n uint) {
	w.acc |= v << w.bits
	w.bits += n
	for w.bits >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.bits -= 8
	}
}

func (w *lsbWriter) bytes() []byte {
	if w.bits > 0 {
		return append(w.buf, byte(w.acc))
	}
	return w.buf
}

// pngHeader is the start of a PNG whose header claims w×h pixels, followed by
// a few bytes of nonsense image data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		body := append([]byte(typ), data...)
		b.Write(body)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(body))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x01, 0x02, 0x03})
	chunk("IEND", nil)
	return b.Bytes()
}

// withOrientation inserts an EXIF APP1 segment with orientation o right after
// a JPEG's start-of-image marker.
func withOrientation(jpg []byte, o uint16) []byte {
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08")  // big-endian, IFD0 at 8
	tiff = binary.BigEndian.AppendUint16(tiff, 1) // one entry
	tiff = binary.BigEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.BigEndian.AppendUint16(tiff, 3) // SHORT
	tiff = binary.BigEndian.AppendUint32(tiff, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, o)
	tiff = append(tiff, 0, 0)                     // value padding
	tiff = binary.BigEndian.AppendUint32(tiff, 0) // no next IFD
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, 0xFF, 0xE1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestWebPEncoderMakesDecodableImages(t *testing.T) {
	for _, c := range []color.NRGBA{{10, 200, 30, 255}, {200, 10, 30, 128}} {
		m, err := codecs["image/webp"].decode(bytes.NewReader(webpBytes(33, 17, c)))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Bounds(); got != image.Rect(0, 0, 33, 17) {
			t.Fatalf("bounds %v", got)
		}
		if got := color.NRGBAModel.Convert(m.At(20, 9)).(color.NRGBA); got != c {
			t.Fatalf("pixel %v, want %v", got, c)
		}
	}
}
