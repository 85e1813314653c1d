package upload

import (
	"bytes"
	"net/http"
	"unicode/utf8"
)

// sniffLen is how many leading bytes sniff looks at (as http.DetectContentType).
const sniffLen = 512

const (
	textUTF8 = "text/plain; charset=utf-8"
	octets   = "application/octet-stream"
)

// sniff returns the content type of a file from its first bytes: the WHATWG
// sniffing of http.DetectContentType (which knows JPEG, PNG, GIF, WebP, PDF,
// ZIP, MP4, HTML, ...), preceded by the ISO-BMFF brands it misses (HEIC and
// AVIF photos from phones, QuickTime video, M4A audio). A text/plain; charset=utf-8
// answer is provisional: it only says the first bytes look like text, and
// textCheck settles it over the whole file.
func sniff(head []byte) string {
	if ct := sniffBrand(head); ct != "" {
		return ct
	}
	return http.DetectContentType(head)
}

// sniffBrand reads the major brand of an ISO base media file ("ftyp" box).
func sniffBrand(head []byte) string {
	if len(head) < 12 || !bytes.Equal(head[4:8], []byte("ftyp")) {
		return ""
	}
	switch string(head[8:12]) {
	case "heic", "heix", "heim", "heis", "hevc", "hevx":
		return "image/heic"
	case "mif1", "msf1":
		return "image/heif"
	case "avif", "avis":
		return "image/avif"
	case "qt  ":
		return "video/quicktime"
	case "M4A ":
		return "audio/mp4"
	}
	return ""
}

// textCheck follows a file sniffed as UTF-8 text through all its bytes,
// since http.DetectContentType only looks at the first 512 and never checks
// the encoding.
type textCheck struct {
	binary  bool // a control byte no text file has (NUL, ...)
	invalid bool // not valid UTF-8 (Latin-1, CP949, ...)
	carry   []byte
}

// isBinaryByte reports the bytes http.DetectContentType takes as binary.
func isBinaryByte(b byte) bool {
	return b <= 0x08 || b == 0x0B || 0x0E <= b && b <= 0x1A || 0x1C <= b && b <= 0x1F
}

func (t *textCheck) write(p []byte) {
	if t.binary {
		return
	}
	for _, b := range p {
		if isBinaryByte(b) {
			t.binary = true
			return
		}
	}
	if t.invalid {
		return
	}
	// Finish a rune split across writes.
	if len(t.carry) > 0 {
		n := min(len(p), utf8.UTFMax-len(t.carry))
		buf := append(t.carry, p[:n]...)
		if !utf8.FullRune(buf) {
			t.carry = buf
			return
		}
		r, size := utf8.DecodeRune(buf)
		if r == utf8.RuneError && size <= 1 {
			t.invalid = true
			return
		}
		p = p[size-len(t.carry):]
		t.carry = t.carry[:0]
	}
	// Hold back an incomplete rune at the end.
	end := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-(utf8.UTFMax-1); i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				end = i
			}
			break
		}
	}
	if !utf8.Valid(p[:end]) {
		t.invalid = true
		return
	}
	t.carry = append(t.carry, p[end:]...)
}

// contentType settles a provisional text/plain; charset=utf-8 once the whole
// file was written: binary data is application/octet-stream, text in another
// encoding is text/plain without a charset.
func (t *textCheck) contentType() string {
	switch {
	case t.binary:
		return octets
	case t.invalid || len(t.carry) > 0:
		return "text/plain"
	}
	return textUTF8
}
