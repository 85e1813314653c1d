package upload

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"time"
)

// Signer makes and checks expiring download URLs: a URL path plus
// ?exp=<unix seconds>&sig=<base64url HMAC-SHA256 of path and exp>. Whoever
// holds such a URL may download the file until exp, so they are handed only
// to viewers allowed to read the attachment, and kept short-lived.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer whose key is derived from the server secret, so
// the secret itself (also used for other purposes, such as tokens) never
// signs URLs. It panics when secret is empty.
func NewSigner(secret []byte) Signer {
	if len(secret) == 0 {
		panic("upload: NewSigner with an empty secret")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("chatty upload urls"))
	return Signer{key: m.Sum(nil)}
}

// Sign returns "path?exp=<unix>&sig=<signature>", valid until exp (to the
// second). path is signed exactly as given: pass the escaped URL path (as
// url.URL.EscapedPath returns it) without a query, and verify against the
// same form.
func (s Signer) Sign(path string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return path + "?exp=" + e + "&sig=" + base64.RawURLEncoding.EncodeToString(s.mac(path, e))
}

// Verify reports whether sig is the signature of path and exp made by this
// Signer and now is before exp. Malformed input is simply false.
func (s Signer) Verify(path, exp, sig string, now time.Time) bool {
	if len(s.key) == 0 || len(exp) == 0 || len(exp) > 18 {
		return false
	}
	for i := 0; i < len(exp); i++ {
		if exp[i] < '0' || exp[i] > '9' {
			return false
		}
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() >= e {
		return false
	}
	// Comparing the encodings, not decoded bytes, refuses the other spellings
	// of the same bytes that lenient base64 decoding would let through.
	want := base64.RawURLEncoding.EncodeToString(s.mac(path, exp))
	return hmac.Equal([]byte(sig), []byte(want))
}

// mac signs path and exp; exp is digits only, so the last newline separates
// them unambiguously.
func (s Signer) mac(path, exp string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(path))
	m.Write([]byte{'\n'})
	m.Write([]byte(exp))
	return m.Sum(nil)
}
