package upload

import (
	"mime"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanFilename(t *testing.T) {
	longKorean := strings.Repeat("가", 100) + ".pdf" // 304 bytes
	tests := []struct{ in, want string }{
		{"photo.jpg", "photo.jpg"},
		{"보고서 최종.pdf", "보고서 최종.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\x\y.txt`, "y.txt"},
		{`C:\\x\\y.txt`, "y.txt"},
		{"dir/sub\\mixed/name.txt", "name.txt"},
		{"a\x00b\nc\td\x7fe\u0085f.txt", "abcdef.txt"},
		{"invoice\u202Efdp.exe", "invoicefdp.exe"},
		{"  spaced.txt  ", "spaced.txt"},
		{"", "file"},
		{"/", "file"},
		{"../", "file"},
		{"..", "file"},
		{".", "file"},
		{"\x00\x01", "file"},
		{"bad\xffutf8.txt", "bad\uFFFDutf8.txt"},
		{"이모지 👍🏽.png", "이모지 👍🏽.png"},
		{".bashrc", ".bashrc"},
	}
	for _, tt := range tests {
		if got := CleanFilename(tt.in); got != tt.want {
			t.Errorf("CleanFilename(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	for _, in := range []string{longKorean, strings.Repeat("a", 300) + ".pdf", "x" + strings.Repeat("é", 200) + ".pdf"} {
		got := CleanFilename(in)
		if len(got) > 255 || !utf8.ValidString(got) || !strings.HasSuffix(got, ".pdf") ||
			!strings.HasPrefix(in, strings.TrimSuffix(got, ".pdf")) || len(got) < 250 {
			t.Errorf("CleanFilename(%d bytes) = %q (%d bytes)", len(in), got, len(got))
		}
	}
	// A long "extension" is no extension: the name is simply cut.
	got := CleanFilename("a." + strings.Repeat("가", 100))
	if len(got) > 255 || !utf8.ValidString(got) || !strings.HasPrefix(got, "a.가") {
		t.Errorf("long extension: %q", got)
	}
}

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		inline   bool
		name     string
		fallback string
		want     string
	}{
		{false, "보고서 최종.pdf", "___ __.pdf", `attachment; filename="___ __.pdf"; filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C%20%EC%B5%9C%EC%A2%85.pdf`},
		{false, `a"b.txt`, "a_b.txt", `attachment; filename="a_b.txt"; filename*=UTF-8''a%22b.txt`},
		{true, "naïve.txt", "na_ve.txt", `inline; filename="na_ve.txt"; filename*=UTF-8''na%C3%AFve.txt`},
		{false, `back\slash 100%.txt`, "back_slash 100_.txt", ""},
		{false, "semi;colon=x,y (1).txt", "semi;colon=x,y (1).txt", ""},
		{false, "ctl\r\nX-Evil: 1.txt", "ctl__X-Evil: 1.txt", ""},
	}
	for _, tt := range tests {
		got := ContentDisposition(tt.inline, tt.name)
		if tt.want != "" && got != tt.want {
			t.Errorf("ContentDisposition(%q) =\n  %s\nwant\n  %s", tt.name, got, tt.want)
		}
		if strings.ContainsAny(got, "\r\n") || strings.IndexFunc(got, func(r rune) bool { return r >= 0x7f || r < 0x20 }) >= 0 {
			t.Errorf("ContentDisposition(%q) = %q: not plain ASCII", tt.name, got)
		}
		typ, params, err := mime.ParseMediaType(got)
		if err != nil {
			t.Errorf("ContentDisposition(%q) = %q: %v", tt.name, got, err)
			continue
		}
		wantType := "attachment"
		if tt.inline {
			wantType = "inline"
		}
		// ParseMediaType decodes filename* and prefers it over filename.
		if typ != wantType || params["filename"] != tt.name {
			t.Errorf("ContentDisposition(%q) parses as %q %q", tt.name, typ, params)
		}
		// What a client without RFC 5987 support sees.
		_, fb, err := mime.ParseMediaType(strings.SplitN(got, "; filename*=", 2)[0])
		if err != nil || fb["filename"] != tt.fallback {
			t.Errorf("ContentDisposition(%q): fallback %q (%v), want %q", tt.name, fb["filename"], err, tt.fallback)
		}
	}
}
