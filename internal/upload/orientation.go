package upload

import (
	"bytes"
	"encoding/binary"
	"image"
	"io"
)

// jpegOrientation returns the EXIF orientation (1–8) of a JPEG, 1 when it has
// none. Phones store photos as the sensor saw them and record the rotation
// here; browsers apply it, so thumbnails and dimensions must too.
func jpegOrientation(r io.Reader) int {
	var buf [4]byte
	if _, err := io.ReadFull(r, buf[:2]); err != nil || buf[0] != 0xFF || buf[1] != 0xD8 {
		return 1
	}
	// EXIF sits in an APP1 segment among the first few.
	for range 16 {
		if _, err := io.ReadFull(r, buf[:4]); err != nil || buf[0] != 0xFF {
			return 1
		}
		marker := buf[1]
		n := int(binary.BigEndian.Uint16(buf[2:4])) - 2
		if marker == 0xDA || marker == 0xD9 || n < 0 { // start of scan, end of image
			return 1
		}
		if marker != 0xE1 {
			if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
				return 1
			}
			continue
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(r, seg); err != nil {
			return 1
		}
		if o, ok := exifOrientation(seg); ok {
			return o
		}
	}
	return 1
}

// exifOrientation reads tag 0x0112 from IFD0 of an APP1 "Exif" segment.
func exifOrientation(seg []byte) (int, bool) {
	tiff, ok := bytes.CutPrefix(seg, []byte("Exif\x00\x00"))
	if !ok || len(tiff) < 8 {
		return 0, false
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0, false
	}
	if bo.Uint16(tiff[2:4]) != 42 {
		return 0, false
	}
	ifd := int64(bo.Uint32(tiff[4:8]))
	if ifd+2 > int64(len(tiff)) {
		return 0, false
	}
	count := int(bo.Uint16(tiff[ifd:]))
	entries := tiff[ifd+2:]
	for i := 0; i < count && 12*(i+1) <= len(entries); i++ {
		e := entries[12*i : 12*(i+1)]
		// Tag 0x0112, type SHORT, count 1: the value sits in the first two bytes.
		if bo.Uint16(e[0:2]) == 0x0112 && bo.Uint16(e[2:4]) == 3 && bo.Uint32(e[4:8]) == 1 {
			if o := int(bo.Uint16(e[8:10])); 1 <= o && o <= 8 {
				return o, true
			}
			return 0, false
		}
	}
	return 0, false
}

// orientImage turns m, stored with EXIF orientation o, upright.
func orientImage(m *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return m
	}
	w, h := m.Rect.Dx(), m.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range h {
		for x := range w {
			var dx, dy int
			switch o {
			case 2: // mirrored
				dx, dy = w-1-x, y
			case 3: // rotated 180°
				dx, dy = w-1-x, h-1-y
			case 4: // mirrored vertically
				dx, dy = x, h-1-y
			case 5: // transposed
				dx, dy = y, x
			case 6: // needs 90° clockwise
				dx, dy = h-1-y, x
			case 7: // transversed
				dx, dy = h-1-y, w-1-x
			case 8: // needs 90° counter-clockwise
				dx, dy = y, w-1-x
			}
			si := m.PixOffset(x+m.Rect.Min.X, y+m.Rect.Min.Y)
			di := dst.PixOffset(dx, dy)
			copy(dst.Pix[di:di+4], m.Pix[si:si+4])
		}
	}
	return dst
}
