package upload

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSigner(t *testing.T) {
	s := NewSigner([]byte("server secret, at least 32 bytes long"))
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(10 * time.Minute)
	signed := s.Sign("/files/2026/11/0123abcd", exp)
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	path, e, sig := u.EscapedPath(), q.Get("exp"), q.Get("sig")
	if path != "/files/2026/11/0123abcd" || e != strconv.FormatInt(exp.Unix(), 10) || len(q) != 2 {
		t.Fatalf("signed URL %q", signed)
	}
	if !s.Verify(path, e, sig, now) || !s.Verify(path, e, sig, exp.Add(-time.Second)) {
		t.Fatal("valid signature refused")
	}

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name           string
		path, exp, sig string
		now            time.Time
	}{
		{"other path", "/files/2026/11/0123abce", e, sig, now},
		{"path suffix", path + "/x", e, sig, now},
		{"later exp", path, strconv.FormatInt(exp.Unix()+3600, 10), sig, now},
		{"exp with plus", path, "+" + e, sig, now},
		{"exp with leading zero", path, "0" + e, sig, now},
		{"exp not a number", path, "soon", sig, now},
		{"empty exp", path, "", sig, now},
		{"sig first char", path, e, flip(sig, 0), now},
		{"sig last char", path, e, flip(sig, len(sig)-1), now},
		{"sig padded", path, e, sig + "=", now},
		{"sig truncated", path, e, sig[:len(sig)-1], now},
		{"empty sig", path, e, "", now},
		{"sig not base64", path, e, strings.Repeat("*", len(sig)), now},
		{"expired at exp", path, e, sig, exp},
		{"expired after", path, e, sig, exp.Add(time.Hour)},
	}
	for _, tt := range tests {
		if s.Verify(tt.path, tt.exp, tt.sig, tt.now) {
			t.Errorf("%s: accepted", tt.name)
		}
	}

	other := NewSigner([]byte("another secret"))
	if other.Verify(path, e, sig, now) {
		t.Error("signature accepted under another secret")
	}
	if (Signer{}).Verify(path, e, sig, now) {
		t.Error("zero Signer accepted a signature")
	}
}
