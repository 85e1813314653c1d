package upload

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"io"

	"github.com/chatty/chatty/internal/upload/jpegdc"
)

// decodeOverhead covers what a decode allocates besides its pixels:
// decoder state, Huffman and zlib tables, row buffers, the thumbnail's
// encoder (a PNG one's deflate state alone is about 1 MB).
const decodeOverhead = 2 << 20

// decodeCost estimates the peak memory, in bytes, of decoding an image of
// type ct with header cfg and making its thumbnail of at most size px,
// counting the decoded form Go's decoders produce (bit depth and channels:
// a 16-bit PNG decodes to 8 bytes a pixel) and what they hold beside it.
// hdr is the start of the file (JPEG and PNG details are read from it).
// The estimate errs high, never low, for the inputs Go's decoders accept.
func decodeCost(ct string, cfg image.Config, hdr io.Reader, size int) int64 {
	w, h := int64(cfg.Width), int64(cfg.Height)
	px := w * h
	var decoded int64
	switch ct {
	case "image/png":
		decoded = px * pngBytesPerPixel(cfg.ColorModel)
		if pngInterlaced(hdr) {
			decoded *= 2 // each of the 7 passes is decoded apart, then copied
		}
	case "image/jpeg":
		decoded = jpegCost(hdr, w, h)
	case "image/gif":
		// The first frame (a byte a pixel), and the canvas it is drawn
		// on when it covers only part of it.
		decoded = px + 4*px
	case "image/webp":
		switch cfg.ColorModel {
		case color.YCbCrModel: // lossy, 4:2:0, macroblocks of 16
			decoded = (w + 15) / 16 * 16 * (h + 15) / 16 * 16 * 2
		case color.NYCbCrAModel: // lossy with an alpha plane, itself possibly lossless
			decoded = px * 8
		default: // lossless: 4 bytes a pixel, and a colour-indexing transform's 4 more beside it
			decoded = px * 8
		}
	default:
		decoded = px * 8
	}
	tw, th := thumbSize(cfg.Width, cfg.Height, size)
	return decoded + scaleCost(cfg.Width, cfg.Height, tw, th) + decodeOverhead
}

// scaleCost is the memory of scaling a w×h image to a tw×th thumbnail
// (see scale): the box-averaged intermediate and its row of sums, the
// Catmull-Rom scaler's tw×sh float64 quadruples (sh the height it scales
// from), then the thumbnail, oriented.
func scaleCost(w, h, tw, th int) int64 {
	sh := int64(h)
	var shrunk int64
	if k := int64(shrinkFactor(w, h, tw, th)); k > 1 {
		sw := (int64(w) + k - 1) / k
		sh = (int64(h) + k - 1) / k
		shrunk = 4*sw*sh + 32*sw
	}
	return shrunk + 32*int64(tw)*sh + 2*4*int64(tw)*int64(th)
}

// reducedJPEGCost is the memory of decoding a JPEG at 1/8 scale from its
// DC coefficients (package jpegdc) and making its thumbnail from that, and
// whether it is decoded so: when jpegdc reads its frame header (a sequential
// or progressive Huffman-coded 8-bit gray, YCbCr or RGB JPEG) and the 1/8
// scale still covers the thumbnail, so nothing is lost. hdr is the file
// from its start; cfg is what image/jpeg read of its header.
func reducedJPEGCost(hdr io.Reader, cfg image.Config, size int) (int64, bool) {
	f, err := jpegdc.DecodeFrame(hdr)
	if err != nil || f.Width != cfg.Width || f.Height != cfg.Height {
		return 0, false
	}
	w8, h8 := f.Size()
	tw, th := thumbSize(cfg.Width, cfg.Height, size)
	if w8 < tw || h8 < th {
		return 0, false
	}
	return f.DecodedBytes() + scaleCost(w8, h8, tw, th) + decodeOverhead, true
}

// pngBytesPerPixel is the size of a pixel image/png decodes to for a
// header color model. A transparency chunk turns gray and truecolor into
// NRGBA or NRGBA64, so those count as the wider form.
func pngBytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.RGBAModel, color.NRGBAModel:
		return 4
	case color.Gray16Model, color.RGBA64Model, color.NRGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

// pngInterlaced reports whether a PNG's header says Adam7 interlacing.
func pngInterlaced(r io.Reader) bool {
	var b [29]byte // signature (8), IHDR length and type (8), IHDR data up to the interlace method
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return true // errs high
	}
	return !bytes.Equal(b[12:16], []byte("IHDR")) || b[28] != 0
}

// jpegFrame is what the frame header (SOFn) says about a JPEG's decoding.
type jpegFrame struct {
	progressive bool
	comps       []jpegComp
}

type jpegComp struct {
	id   byte
	h, v int // sampling factors, 1–4
}

// readJPEGFrame walks a JPEG's segments up to its frame header. ok is false
// when there is none among the first 64 segments or it is malformed.
func readJPEGFrame(r io.Reader) (f jpegFrame, ok bool) {
	var buf [4]byte
	if _, err := io.ReadFull(r, buf[:2]); err != nil || buf[0] != 0xFF || buf[1] != 0xD8 {
		return f, false
	}
	for range 64 {
		if _, err := io.ReadFull(r, buf[:4]); err != nil || buf[0] != 0xFF {
			return f, false
		}
		marker := buf[1]
		n := int(binary.BigEndian.Uint16(buf[2:4])) - 2
		if n < 0 || marker == 0xD9 || marker == 0xDA {
			return f, false
		}
		switch {
		case isSOF(marker):
			seg := make([]byte, n)
			if _, err := io.ReadFull(r, seg); err != nil || n < 6 {
				return f, false
			}
			nc := int(seg[5])
			if nc == 0 || n < 6+3*nc {
				return f, false
			}
			f.progressive = marker == 0xC2 || marker == 0xC6 || marker == 0xCA || marker == 0xCE
			for i := range nc {
				c := seg[6+3*i:]
				f.comps = append(f.comps, jpegComp{id: c[0], h: max(1, int(c[1]>>4)), v: max(1, int(c[1]&0x0F))})
			}
			return f, true
		}
		if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
			return f, false
		}
	}
	return f, false
}

// isSOF reports the start-of-frame markers (SOF0–SOF15 but DHT, JPG, DAC).
func isSOF(m byte) bool {
	return 0xC0 <= m && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}

// jpegCost estimates image/jpeg's memory for a w×h JPEG: each component's
// plane, padded to whole MCUs; for a progressive JPEG its coefficients
// too (a 64×int32 block per 8×8, 4 bytes a sample); and the RGBA or CMYK
// image a three- or four-component JPEG may be converted to.
func jpegCost(hdr io.Reader, w, h int64) int64 {
	f, ok := readJPEGFrame(hdr)
	if !ok {
		return w * h * 12 // the worst case of three 4:4:4 components, progressive, converted
	}
	hmax, vmax := 1, 1
	for _, c := range f.comps {
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	mxx := (w + 8*int64(hmax) - 1) / (8 * int64(hmax))
	myy := (h + 8*int64(vmax) - 1) / (8 * int64(vmax))
	var samples int64
	for _, c := range f.comps {
		samples += mxx * 8 * int64(c.h) * myy * 8 * int64(c.v)
	}
	// image/jpeg decodes only frames whose first component has the largest
	// sampling (or only one component), so the samples cover every pixel;
	// a frame it refuses still counts a byte a pixel.
	samples = max(samples, w*h)
	cost := samples
	if f.progressive {
		cost += 4 * samples
	}
	// Three components are converted to RGBA when an Adobe segment says
	// so, and image/jpeg honours one that comes after the frame header
	// (before the scan), where this reading stops: count the RGBA image for
	// every three- or four-component frame rather than trust the order.
	if len(f.comps) >= 3 {
		cost += 4 * w * h
	}
	return cost
}
