package upload

import (
	"strings"
	"testing"
)

func TestTextCheckAcrossWrites(t *testing.T) {
	text := strings.Repeat("a한😀é", 50)
	for _, tt := range []struct {
		data string
		want string
	}{
		{text, textUTF8},
		{text + "\xed\xa0\x80", "text/plain"}, // an encoded surrogate
		{text + "\xf0\x9f", "text/plain"},     // cut short
		{"\xc0\xaf" + text, "text/plain"},     // overlong
		{text + "\x00", octets},
		{text + "\x1b[0m\f", textUTF8}, // ESC and form feed are text
	} {
		for _, size := range []int{1, 2, 3, 5, 7, 512, 4096} {
			var c textCheck
			for s := tt.data; len(s) > 0; {
				n := min(size, len(s))
				c.write([]byte(s[:n]))
				s = s[n:]
			}
			if got := c.contentType(); got != tt.want {
				t.Errorf("%q in writes of %d: %q, want %q", tt.data[len(tt.data)-8:], size, got, tt.want)
			}
		}
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]string{
		"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic": "image/heic",
		"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1": "image/avif",
		"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ":     "video/quicktime",
		"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom": "video/mp4",
		"%PDF-1.5":                     "application/pdf",
		"GIF89a":                       "image/gif",
		"RIFF\x00\x00\x00\x00WEBPVP8 ": "image/webp",
		"<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>": "text/plain; charset=utf-8",
	} {
		if got := sniff([]byte(in)); got != want {
			t.Errorf("sniff(%q) = %q, want %q", in, got, want)
		}
	}
}
