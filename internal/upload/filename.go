package upload

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxFilenameBytes is the longest name CleanFilename returns, in UTF-8 bytes.
const maxFilenameBytes = 255

// CleanFilename trims a client's filename to a safe display name: the base
// name only (after the last slash or backslash), without control characters
// or the bidirectional-override characters used to disguise extensions
// ("gpj.exe" shown as "exe.jpg"), invalid UTF-8 replaced by U+FFFD, at most
// 255 bytes of UTF-8 cut at a rune boundary keeping the extension, and
// "file" when nothing is left. Unicode is kept as it is (no normalization).
func CleanFilename(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isBidiControl(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	if len(name) <= maxFilenameBytes {
		return name
	}
	ext := path.Ext(name)
	if len(ext) > 32 || len(ext) == len(name) {
		ext = "" // not an extension anyone relies on
	}
	stem := truncateUTF8(name[:len(name)-len(ext)], maxFilenameBytes-len(ext))
	return strings.TrimSpace(stem) + ext
}

// isBidiControl reports the explicit directional formatting characters.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061C', r == '\u200E', r == '\u200F',
		'\u202A' <= r && r <= '\u202E',
		'\u2066' <= r && r <= '\u2069':
		return true
	}
	return false
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ContentDisposition returns a Content-Disposition header value that keeps a
// unicode filename for every browser (RFC 6266, RFC 5987):
//
//	attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>
//
// or the same starting with "inline" when inline is true. The fallback, for
// clients that ignore filename*, has every non-ASCII rune, quote, backslash,
// percent sign and control character replaced by "_".
func ContentDisposition(inline bool, filename string) string {
	filename = strings.ToValidUTF8(filename, "\uFFFD")
	if filename == "" {
		filename = "file"
	}
	var b strings.Builder
	if inline {
		b.WriteString("inline")
	} else {
		b.WriteString("attachment")
	}
	b.WriteString(`; filename="`)
	for _, r := range filename {
		if r < 0x20 || r >= 0x7F || r == '"' || r == '\\' || r == '%' {
			r = '_'
		}
		b.WriteRune(r)
	}
	b.WriteString(`"; filename*=UTF-8''`)
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(filename); i++ {
		c := filename[i]
		if isAttrChar(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xF])
		}
	}
	return b.String()
}

// isAttrChar reports RFC 5987's attr-char: bytes allowed unencoded in an
// ext-value.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
