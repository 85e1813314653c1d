// Package jpegdc decodes a JPEG at 1/8 scale from its DC coefficients
// alone: each 8×8 block becomes one pixel, the block's mean, with no
// inverse DCT and no full-size buffer. It is what a thumbnail needs from
// a large photo, in a twentieth of the memory of a full decode or less
// (2 bytes a block for the coefficients, and the 1/8 image).
//
// Go's image/jpeg cannot decode at reduced scale, and the libraries that
// can (libjpeg-turbo, libvips) need cgo. This decoder reads baseline and
// extended sequential (SOF0, SOF1) and progressive (SOF2) Huffman-coded
// JPEGs of 8-bit precision with one (gray) or three (YCbCr or RGB)
// components, any sampling factors 1–4, and restart intervals. For a
// sequential scan it decodes the DC coefficient of every block and
// decodes and discards the AC symbols; for a progressive image it reads
// the DC scans (first and refinement) and skips the AC scans' data.
// Anything else (12-bit precision, arithmetic coding, lossless,
// hierarchical, CMYK or YCCK) is ErrUnsupported, for the caller to decode
// in full instead.
//
// It is written for hostile input: no panics, allocations bounded by the
// caller's pixel limit (checked from the frame header before any plane is
// allocated) and by small fixed tables, and work bounded by the input's
// length (every block decoded takes at least a bit of it).
package jpegdc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
)

// ErrUnsupported is returned for a JPEG this package does not decode but
// a full decoder might: the caller should decode it in full.
var ErrUnsupported = errors.New("jpegdc: unsupported JPEG")

// ErrTooLarge is returned for a frame of more pixels than the caller allows.
var ErrTooLarge = errors.New("jpegdc: image has too many pixels")

// FormatError reports a malformed JPEG.
type FormatError string

func (e FormatError) Error() string { return "jpegdc: invalid JPEG: " + string(e) }

func unsupported(what string) error { return fmt.Errorf("%w: %s", ErrUnsupported, what) }

// maxDecodedScans bounds the scans whose blocks are walked (sequential
// scans and progressive DC scans): each costs a pass over every block of
// its components, so thousands of tiny scans would cost CPU out of
// proportion to the file. A sequential JPEG has at most one per component
// and a progressive one, per component, a first DC scan and at most 13
// refinements.
const maxDecodedScans = 64

// maxPadded is how many times a scan's bit reader may pad with zeros
// after its data ended, each time after at least 8 of them were read: a
// valid scan reads none of them, or the few bits of its last symbol.
const maxPadded = 64

// Frame is what a JPEG's frame header says, as far as this package cares.
type Frame struct {
	Width, Height int // the full image's size, in pixels
	Progressive   bool
	comps         []component
	hmax, vmax    int
}

type component struct {
	id   byte
	h, v int // sampling factors, 1–4
	tq   int // quantisation table
}

// Size is the decoded image's size: ceil(Width/8)×ceil(Height/8).
func (f Frame) Size() (w, h int) { return Scaled(f.Width, f.Height) }

// Scaled is the size Decode gives a w×h JPEG: ceil(w/8)×ceil(h/8).
func Scaled(w, h int) (int, int) { return (w + 7) / 8, (h + 7) / 8 }

// DecodedBytes bounds from above what Decode allocates for this frame:
// a 16-bit coefficient per block of every component (blocks padded to
// whole MCUs), the output image (at most 4 bytes a pixel, RGBA), and the
// decoder's tables and read buffer.
func (f Frame) DecodedBytes() int64 {
	var blocks int64
	mx, my := f.mcus()
	for _, c := range f.comps {
		blocks += int64(mx) * int64(c.h) * int64(my) * int64(c.v)
	}
	w, h := f.Size()
	return 2*blocks + 4*int64(w)*int64(h) + tableBytes
}

// tableBytes covers the decoder's fixed state: its Huffman tables, its
// segment and input buffers (about 90 KB; TestTableBytes checks), and
// small slices beside them.
const tableBytes = 100 << 10

func (f Frame) mcus() (int, int) {
	return (f.Width + 8*f.hmax - 1) / (8 * f.hmax), (f.Height + 8*f.vmax - 1) / (8 * f.vmax)
}

// DecodeFrame reads a JPEG's segments up to its frame header and returns
// it, or ErrUnsupported when Decode would refuse the frame. Segments
// after the frame header may still make Decode refuse the image.
func DecodeFrame(r io.Reader) (Frame, error) {
	d := newDecoder(r)
	if err := d.readUntilFrame(); err != nil {
		return Frame{}, err
	}
	return d.frame, nil
}

// Decode decodes a JPEG at 1/8 scale. maxPixels bounds the full image's
// width×height, checked before anything of its size is allocated. The
// result is an *image.Gray for one component, an *image.YCbCr for
// YCbCr with the subsampling ratios image.YCbCr knows, and an *image.RGBA
// otherwise (RGB, or unusual sampling factors).
func Decode(r io.Reader, maxPixels int) (img image.Image, err error) {
	defer func() {
		// Belt and braces: a bug must not take the process down. (The
		// fuzz test calls decode, which lets a panic through.)
		if p := recover(); p != nil {
			img, err = nil, FormatError(fmt.Sprint("panic: ", p))
		}
	}()
	return decode(r, maxPixels)
}

func decode(r io.Reader, maxPixels int) (image.Image, error) {
	d := newDecoder(r)
	if err := d.readUntilFrame(); err != nil {
		return nil, err
	}
	f := &d.frame
	if int64(f.Width)*int64(f.Height) > int64(maxPixels) {
		return nil, ErrTooLarge
	}
	mx, my := f.mcus()
	d.coef = make([][]int16, len(f.comps))
	d.stride = make([]int, len(f.comps))
	for i, c := range f.comps {
		d.stride[i] = mx * c.h
		d.coef[i] = make([]int16, mx*c.h*my*c.v)
	}
	if err := d.readScans(); err != nil {
		return nil, err
	}
	return d.image(), nil
}

type decoder struct {
	src    io.Reader
	buf    [4096]byte // src's bytes buf[pos:end] are read next
	pos    int
	end    int
	srcErr error // what src said after its last bytes

	frame Frame
	seen  bool // a frame header was read

	quant    [4]int32 // each table's DC quantiser
	quantSet [4]bool
	huff     [2][4]huffman // [class: DC, AC][id]
	restart  int           // restart interval in MCUs, 0 for none

	adobe          bool
	adobeTransform byte
	jfif           bool

	coef   [][]int16 // per component, a DC coefficient per block, padded to whole MCUs
	stride []int     // blocks per row of each coef plane
	latch  []int32   // each component's DC quantiser, fixed at its first scan
	scans  int       // scans whose blocks were walked

	// The entropy-coded data's bit reader: acc holds nbits bits,
	// left-aligned, zeros after them.
	acc    uint64
	nbits  int
	marker byte // a marker met inside entropy-coded data, 0 if none
	eof    bool // the input ended inside entropy-coded data
	padded int  // fills with zeros since the marker or the end (see fill)

	seg [65535]byte
}

func newDecoder(r io.Reader) *decoder {
	return &decoder{src: r}
}

// readByte reads the next byte of the input.
func (d *decoder) readByte() (byte, error) {
	if d.pos < d.end {
		b := d.buf[d.pos]
		d.pos++
		return b, nil
	}
	return d.refill()
}

// refill reads more of the input into buf and returns its first byte.
func (d *decoder) refill() (byte, error) {
	for range 100 {
		if d.srcErr != nil {
			return 0, d.srcErr
		}
		n, err := d.src.Read(d.buf[:])
		d.srcErr = err
		if n > 0 {
			d.pos, d.end = 1, n
			return d.buf[0], nil
		}
	}
	return 0, io.ErrNoProgress
}

// readFull fills p from the input.
func (d *decoder) readFull(p []byte) error {
	for len(p) > 0 {
		if d.pos == d.end {
			if _, err := d.refill(); err != nil {
				return noEOF(err)
			}
			d.pos = 0 // refill's byte is read below
		}
		n := copy(p, d.buf[d.pos:d.end])
		d.pos += n
		p = p[n:]
	}
	return nil
}

// readSegment reads a segment's length and contents into d.seg.
func (d *decoder) readSegment() ([]byte, error) {
	var l [2]byte
	if err := d.readFull(l[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n < 2 {
		return nil, FormatError("short segment length")
	}
	b := d.seg[:n-2]
	if err := d.readFull(b); err != nil {
		return nil, err
	}
	return b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// nextMarker reads up to and including the next marker outside
// entropy-coded data, skipping stray bytes and fill bytes before it.
func (d *decoder) nextMarker() (byte, error) {
	if m := d.marker; m != 0 {
		d.marker = 0
		return m, nil
	}
	for {
		b, err := d.readByte()
		if err != nil {
			return 0, err
		}
		if b != 0xFF {
			continue
		}
		for b == 0xFF {
			if b, err = d.readByte(); err != nil {
				return 0, noEOF(err)
			}
		}
		if b != 0 {
			return b, nil
		}
	}
}

// readUntilFrame reads the SOI marker and the segments up to and
// including the frame header.
func (d *decoder) readUntilFrame() error {
	var soi [2]byte
	if err := d.readFull(soi[:]); err != nil || soi[0] != 0xFF || soi[1] != 0xD8 {
		return FormatError("missing SOI marker")
	}
	for !d.seen {
		m, err := d.nextMarker()
		if err != nil {
			return noEOF(err)
		}
		if err := d.segment(m); err != nil {
			return err
		}
	}
	return nil
}

// readScans reads the segments after the frame header, decoding or
// skipping each scan, up to EOI or the end of the input.
func (d *decoder) readScans() error {
	d.latch = make([]int32, len(d.frame.comps))
	for i := range d.latch {
		d.latch[i] = -1
	}
	decodedAny := false
	for {
		m, err := d.nextMarker()
		if err == io.EOF && decodedAny {
			return nil // a missing EOI after whole scans: keep what was read
		}
		if err != nil {
			return noEOF(err)
		}
		if m == 0xD9 { // EOI
			if !decodedAny {
				return FormatError("no scan")
			}
			return nil
		}
		if m == 0xDA { // SOS
			walked, err := d.scan()
			if err != nil {
				return err
			}
			decodedAny = decodedAny || walked
			continue
		}
		if err := d.segment(m); err != nil {
			return err
		}
	}
}

// segment handles a marker other than SOS and EOI.
func (d *decoder) segment(m byte) error {
	switch {
	case m == 0xD8:
		return FormatError("SOI inside the image")
	case 0xD0 <= m && m <= 0xD7, m == 0x01: // RSTn outside a scan, TEM: no segment
		return nil
	case m == 0xD9, m == 0xDA:
		return FormatError("scan or EOI before the frame header")
	case m == 0xC0 || m == 0xC1 || m == 0xC2:
		if d.seen {
			return FormatError("second frame header")
		}
		b, err := d.readSegment()
		if err != nil {
			return err
		}
		return d.sof(m, b)
	case m == 0xC3, 0xC5 <= m && m <= 0xC7, m == 0xC9 || m == 0xCA || m == 0xCB,
		0xCD <= m && m <= 0xCF, m == 0xCC, m == 0xDE, m == 0xDF:
		return unsupported(fmt.Sprintf("marker 0x%02X (lossless, hierarchical or arithmetic coding)", m))
	}
	b, err := d.readSegment()
	if err != nil {
		return err
	}
	switch m {
	case 0xC4:
		return d.dht(b)
	case 0xDB:
		return d.dqt(b)
	case 0xDD:
		if len(b) != 2 {
			return FormatError("DRI length")
		}
		d.restart = int(binary.BigEndian.Uint16(b))
	case 0xE0:
		if len(b) >= 5 && string(b[:5]) == "JFIF\x00" {
			d.jfif = true
		}
	case 0xEE:
		if len(b) >= 12 && string(b[:5]) == "Adobe" {
			d.adobe, d.adobeTransform = true, b[11]
		}
	}
	return nil // other APPn, COM and unknown segments are skipped
}

func (d *decoder) sof(m byte, b []byte) error {
	if len(b) < 6 {
		return FormatError("short SOF")
	}
	if b[0] != 8 {
		return unsupported(fmt.Sprintf("%d-bit precision", b[0]))
	}
	f := Frame{
		Height:      int(binary.BigEndian.Uint16(b[1:])),
		Width:       int(binary.BigEndian.Uint16(b[3:])),
		Progressive: m == 0xC2,
	}
	n := int(b[5])
	if f.Height == 0 {
		return unsupported("height defined by a DNL marker")
	}
	if f.Width == 0 {
		return FormatError("zero width")
	}
	if n != 1 && n != 3 {
		return unsupported(fmt.Sprintf("%d components", n))
	}
	if len(b) != 6+3*n {
		return FormatError("SOF length")
	}
	f.hmax, f.vmax = 1, 1
	for i := range n {
		c := b[6+3*i:]
		comp := component{id: c[0], h: int(c[1] >> 4), v: int(c[1] & 15), tq: int(c[2])}
		if comp.h < 1 || comp.h > 4 || comp.v < 1 || comp.v > 4 {
			return FormatError("sampling factor")
		}
		if comp.tq > 3 {
			return FormatError("quantisation table id")
		}
		for _, o := range f.comps {
			if o.id == comp.id {
				return FormatError("repeated component id")
			}
		}
		if n == 1 {
			// A single component's scan is not interleaved: its
			// sampling factors do not matter.
			comp.h, comp.v = 1, 1
		}
		f.comps = append(f.comps, comp)
		f.hmax, f.vmax = max(f.hmax, comp.h), max(f.vmax, comp.v)
	}
	d.frame, d.seen = f, true
	return nil
}

func (d *decoder) dqt(b []byte) error {
	for len(b) > 0 {
		pq, tq := b[0]>>4, int(b[0]&15)
		if tq > 3 || pq > 1 {
			return FormatError("DQT")
		}
		size := 1 + 64*(1+int(pq))
		if len(b) < size {
			return FormatError("short DQT")
		}
		if pq == 0 {
			d.quant[tq] = int32(b[1])
		} else {
			d.quant[tq] = int32(binary.BigEndian.Uint16(b[1:]))
		}
		d.quantSet[tq] = true
		b = b[size:]
	}
	return nil
}

func (d *decoder) dht(b []byte) error {
	for len(b) > 0 {
		if len(b) < 17 {
			return FormatError("short DHT")
		}
		tc, th := int(b[0]>>4), int(b[0]&15)
		if tc > 1 || th > 3 {
			return FormatError("DHT class or id")
		}
		var counts [16]byte
		copy(counts[:], b[1:17])
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if total == 0 || total > 256 || len(b) < 17+total {
			return FormatError("DHT counts")
		}
		if err := d.huff[tc][th].build(counts, b[17:17+total]); err != nil {
			return err
		}
		b = b[17+total:]
	}
	return nil
}

// scanComp is one component of a scan.
type scanComp struct {
	ci     int // index into frame.comps
	dc, ac *huffman
}

// scan reads a scan header and its entropy-coded data. walked is whether
// the scan's blocks were read (a sequential scan or a progressive DC
// scan), not skipped.
func (d *decoder) scan() (walked bool, err error) {
	b, err := d.readSegment()
	if err != nil {
		return false, err
	}
	f := &d.frame
	if len(b) < 1 {
		return false, FormatError("short SOS")
	}
	ns := int(b[0])
	if ns < 1 || ns > len(f.comps) || len(b) != 4+2*ns {
		return false, FormatError("SOS length or component count")
	}
	ss, se := b[1+2*ns], b[2+2*ns]
	ah, al := int(b[3+2*ns]>>4), int(b[3+2*ns]&15)
	if f.Progressive && ss > 0 {
		// An AC scan: nothing of it is needed.
		return false, d.skipEntropy()
	}
	if f.Progressive && (se != 0 || al > 13 || ah > 13) {
		return false, FormatError("progressive DC scan parameters")
	}
	if !f.Progressive && ss != 0 {
		return false, FormatError("sequential scan parameters")
	}
	var sc [3]scanComp
	blocksPerMCU := 0
	for i := range ns {
		id, tables := b[1+2*i], b[2+2*i]
		ci := -1
		for j, c := range f.comps {
			if c.id == id {
				ci = j
			}
		}
		if ci < 0 {
			return false, FormatError("scan component not in the frame")
		}
		for j := range i {
			if sc[j].ci == ci {
				return false, FormatError("repeated scan component")
			}
		}
		td, ta := int(tables>>4), int(tables&15)
		if td > 3 || ta > 3 {
			return false, FormatError("Huffman table id")
		}
		sc[i] = scanComp{ci: ci, dc: &d.huff[0][td], ac: &d.huff[1][ta]}
		if ah == 0 && !sc[i].dc.ok {
			return false, unsupported("missing DC Huffman table")
		}
		if !f.Progressive && !sc[i].ac.ok {
			return false, unsupported("missing AC Huffman table")
		}
		if d.latch[ci] < 0 {
			tq := f.comps[ci].tq
			if !d.quantSet[tq] {
				return false, FormatError("missing quantisation table")
			}
			d.latch[ci] = d.quant[tq]
		}
		blocksPerMCU += f.comps[ci].h * f.comps[ci].v
	}
	if ns > 1 && blocksPerMCU > 10 {
		return false, FormatError("more than 10 blocks in an MCU")
	}
	d.scans++
	if d.scans > maxDecodedScans {
		return false, FormatError("too many scans")
	}
	return true, d.decodeScan(sc[:ns], ah, al)
}

// decodeScan walks a scan's MCUs, storing each block's DC coefficient.
func (d *decoder) decodeScan(sc []scanComp, ah, al int) error {
	f := &d.frame
	d.acc, d.nbits, d.marker, d.eof = 0, 0, 0, false
	var pred [3]int32
	refine := f.Progressive && ah > 0
	block := func(s *scanComp, k int, pred *int32) error {
		if refine {
			if d.bits(1) != 0 {
				d.coef[s.ci][k] |= int16(1) << al
			}
			return nil
		}
		return d.block(s, k, pred, al)
	}

	var mcusX, mcusY int
	if len(sc) == 1 {
		// Not interleaved: an MCU is one block, and the blocks cover the
		// component's own size, not whole MCUs of the frame.
		c := f.comps[sc[0].ci]
		cw := (f.Width*c.h + f.hmax - 1) / f.hmax
		ch := (f.Height*c.v + f.vmax - 1) / f.vmax
		mcusX, mcusY = (cw+7)/8, (ch+7)/8
	} else {
		mcusX, mcusY = f.mcus()
	}
	n := 0
	d.padded = 0
	for my := range mcusY {
		for mx := range mcusX {
			if d.padded > maxPadded {
				return FormatError("scan data ends early")
			}
			if d.restart > 0 && n > 0 && n%d.restart == 0 {
				if err := d.restartMarker(); err != nil {
					return err
				}
				pred = [3]int32{}
				d.padded = 0
			}
			n++
			if len(sc) == 1 {
				s := &sc[0]
				if err := block(s, my*d.stride[s.ci]+mx, &pred[0]); err != nil {
					return err
				}
				continue
			}
			for i := range sc {
				s := &sc[i]
				c := f.comps[s.ci]
				for v := range c.v {
					row := (my*c.v + v) * d.stride[s.ci]
					for h := range c.h {
						if err := block(s, row+mx*c.h+h, &pred[i]); err != nil {
							return err
						}
					}
				}
			}
		}
	}
	if d.eof {
		return io.ErrUnexpectedEOF
	}
	d.acc, d.nbits = 0, 0
	return nil
}

// block decodes a block's DC coefficient (a sequential or a first
// progressive DC scan) into coefficient k of its component, and in a
// sequential scan reads past its AC coefficients.
func (d *decoder) block(s *scanComp, k int, pred *int32, al int) error {
	t, err := d.decodeHuffman(s.dc)
	if err != nil {
		return err
	}
	if t > 16 {
		return FormatError("DC category")
	}
	*pred += extend(d.bits(int(t)), int(t))
	*pred = min(max(*pred, -32768), 32767)
	d.coef[s.ci][k] = int16(*pred << al)
	if d.frame.Progressive {
		return nil
	}
	ac := s.ac
	for i := 1; i < 64; {
		if d.nbits < 32 {
			d.fill()
		}
		// Most symbols: code and extra bits skipped in one go.
		if e := ac.skip[d.acc>>(64-lutBits)]; e != 0 {
			n := int(e & 31)
			d.acc <<= n
			d.nbits -= n
			rs := byte(e >> 8)
			if rs&15 == 0 {
				if rs>>4 != 15 {
					return nil // end of block
				}
				i += 16
				continue
			}
			i += int(rs>>4) + 1
			continue
		}
		rs, err := d.decodeHuffman(ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), int(rs&15)
		if s == 0 {
			if r != 15 {
				return nil
			}
			i += 16
			continue
		}
		i += r + 1
		d.skipBits(s)
	}
	return nil
}

// restartMarker expects an RSTn marker between restart intervals; the
// bits left before it are padding.
func (d *decoder) restartMarker() error {
	d.acc, d.nbits = 0, 0
	m, err := d.nextMarker()
	if err != nil {
		return noEOF(err)
	}
	if m < 0xD0 || m > 0xD7 {
		return FormatError("missing RST marker")
	}
	return nil
}

// skipEntropy skips a scan's entropy-coded data up to the marker after
// it (RSTn markers inside it are skipped too).
func (d *decoder) skipEntropy() error {
	for {
		m, err := d.nextMarker()
		if err != nil {
			return noEOF(err)
		}
		if m < 0xD0 || m > 0xD7 {
			d.marker = m
			return nil
		}
	}
}

// fill tops up the bit accumulator to more than 56 bits. At a marker or
// the end of the input it pads with zeros, as libjpeg does: the decode
// goes on, and the scan's end finds the marker (or the missing input).
// A scan that goes on reading zeros long after its data ended is broken
// (decodeScan stops after maxPadded fills): that bounds the work by the
// input's size, as every block takes at least a bit of it.
func (d *decoder) fill() {
	for d.nbits <= 56 {
		if d.marker != 0 || d.eof {
			d.nbits = 64 // the bits after nbits are zeros
			d.padded++
			return
		}
		b, err := d.readByte()
		if err != nil {
			d.eof = true
			continue
		}
		if b == 0xFF {
			b2, err := d.readByte()
			for err == nil && b2 == 0xFF {
				b2, err = d.readByte()
			}
			if err != nil {
				d.eof = true
				continue
			}
			if b2 != 0 {
				d.marker = b2
				continue
			}
		}
		d.acc |= uint64(b) << (56 - d.nbits)
		d.nbits += 8
	}
}

// bits reads n ≤ 16 bits.
func (d *decoder) bits(n int) int32 {
	if n == 0 {
		return 0
	}
	if d.nbits < n {
		d.fill()
	}
	v := int32(d.acc >> (64 - n))
	d.acc <<= n
	d.nbits -= n
	return v
}

func (d *decoder) skipBits(n int) {
	if d.nbits < n {
		d.fill()
	}
	d.acc <<= n
	d.nbits -= n
}

// extend turns t bits v into the signed value they code (JPEG F.2.2.1).
func extend(v int32, t int) int32 {
	if t == 0 {
		return 0
	}
	if v < 1<<(t-1) {
		return v - (1 << t) + 1
	}
	return v
}

const lutBits = 9

// huffman is a decoding table: a lookup of the first lutBits bits for
// short codes, and the canonical code ranges for the others.
type huffman struct {
	ok      bool
	lut     [1 << lutBits]uint16 // length<<8 | value, 0 when longer than lutBits
	skip    [1 << lutBits]uint16 // value<<8 | length plus the extra bits the value says (its low 4 bits), for reading past AC symbols
	maxcode [17]int32            // the largest code of each length, -1 if none
	valptr  [17]int32            // index into vals of the first code of each length
	mincode [17]int32
	vals    [256]byte
}

func (t *huffman) build(counts [16]byte, vals []byte) error {
	*t = huffman{}
	copy(t.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		t.mincode[l], t.valptr[l] = code, k
		if code+n > 1<<l {
			return FormatError("over-subscribed Huffman table")
		}
		for range n {
			if l <= lutBits {
				shift := lutBits - l
				for i := code << shift; i < (code+1)<<shift; i++ {
					t.lut[i] = uint16(l)<<8 | uint16(vals[k])
					t.skip[i] = uint16(vals[k])<<8 | uint16(l+int(vals[k]&15))
				}
			}
			code++
			k++
		}
		t.maxcode[l] = code - 1
		if n == 0 {
			t.maxcode[l] = -1
		}
		code <<= 1
	}
	t.ok = true
	return nil
}

func (d *decoder) decodeHuffman(t *huffman) (byte, error) {
	if d.nbits < 16 {
		d.fill()
	}
	if e := t.lut[d.acc>>(64-lutBits)]; e != 0 {
		n := int(e >> 8)
		d.acc <<= n
		d.nbits -= n
		return byte(e), nil
	}
	code := int32(0)
	for l := 1; l <= 16; l++ {
		code = code<<1 | int32(d.acc>>63)
		d.acc <<= 1
		d.nbits--
		if t.maxcode[l] >= 0 && code <= t.maxcode[l] && code >= t.mincode[l] {
			return t.vals[t.valptr[l]+code-t.mincode[l]], nil
		}
	}
	return 0, FormatError("bad Huffman code")
}

// isRGB reports whether three components are R, G, B rather than Y, Cb,
// Cr, as image/jpeg decides it: never with a JFIF segment; with an Adobe
// segment whose transform is 0; else when the component ids are 'R', 'G', 'B'.
func (d *decoder) isRGB() bool {
	if d.jfif {
		return false
	}
	if d.adobe {
		return d.adobeTransform == 0
	}
	c := d.frame.comps
	return c[0].id == 'R' && c[1].id == 'G' && c[2].id == 'B'
}

// image turns the DC coefficients into the 1/8-scale image: each
// block's mean, DC·q/8 + 128.
func (d *decoder) image() image.Image {
	f := &d.frame
	w, h := f.Size()
	r := image.Rect(0, 0, w, h)
	// plane writes component i's block means, cw×ch of them, into dst.
	plane := func(i int, dst []byte, dstStride, cw, ch int) {
		q := max(d.latch[i], 0)
		src := d.coef[i]
		for y := range ch {
			srow := src[y*d.stride[i]:]
			drow := dst[y*dstStride:]
			for x := range cw {
				v := (int32(srow[x])*q+4)>>3 + 128
				drow[x] = uint8(min(max(v, 0), 255))
			}
		}
	}
	if len(f.comps) == 1 {
		g := image.NewGray(r)
		plane(0, g.Pix, g.Stride, w, h)
		return g
	}
	c := f.comps
	if !d.isRGB() && c[0].h == f.hmax && c[0].v == f.vmax && c[1].h == c[2].h && c[1].v == c[2].v &&
		c[0].h%c[1].h == 0 && c[0].v%c[1].v == 0 {
		if ratio, ok := subsampleRatio(c[0].h/c[1].h, c[0].v/c[1].v); ok {
			img := image.NewYCbCr(r, ratio)
			plane(0, img.Y, img.YStride, w, h)
			cw, ch := img.CStride, len(img.Cb)/max(1, img.CStride)
			plane(1, img.Cb, img.CStride, cw, ch)
			plane(2, img.Cr, img.CStride, cw, ch)
			return img
		}
	}
	// Anything else: each component's block means, sampled at each
	// output pixel, converted to RGBA.
	var planes [3][]byte
	var pw, ph [3]int
	for i, cc := range c {
		pw[i] = ((f.Width*cc.h+f.hmax-1)/f.hmax + 7) / 8
		ph[i] = ((f.Height*cc.v+f.vmax-1)/f.vmax + 7) / 8
		planes[i] = make([]byte, pw[i]*ph[i])
		plane(i, planes[i], pw[i], pw[i], ph[i])
	}
	rgb := d.isRGB()
	img := image.NewRGBA(r)
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			var s [3]byte
			for i, cc := range c {
				px := min(x*cc.h/f.hmax, pw[i]-1)
				py := min(y*cc.v/f.vmax, ph[i]-1)
				s[i] = planes[i][py*pw[i]+px]
			}
			if !rgb {
				s[0], s[1], s[2] = color.YCbCrToRGB(s[0], s[1], s[2])
			}
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = s[0], s[1], s[2], 255
		}
	}
	return img
}

func subsampleRatio(h, v int) (image.YCbCrSubsampleRatio, bool) {
	switch {
	case h == 1 && v == 1:
		return image.YCbCrSubsampleRatio444, true
	case h == 1 && v == 2:
		return image.YCbCrSubsampleRatio440, true
	case h == 2 && v == 1:
		return image.YCbCrSubsampleRatio422, true
	case h == 2 && v == 2:
		return image.YCbCrSubsampleRatio420, true
	case h == 4 && v == 1:
		return image.YCbCrSubsampleRatio411, true
	case h == 4 && v == 2:
		return image.YCbCrSubsampleRatio410, true
	}
	return 0, false
}
