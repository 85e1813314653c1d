package auth

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chatty/chatty/internal/apperr"
)

// Input limits.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
	MinNicknameLen = 2
	MaxNicknameLen = 30
	MaxBioLen      = 300
	maxEmailLen    = 254
)

// normalizeEmail trims and lower-cases an email and checks it is a plain
// address (no display name, a dotted domain).
func normalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	if e == "" {
		return "", apperr.Input("email", "email is required")
	}
	if len(e) > maxEmailLen {
		return "", apperr.Input("email", "email is longer than %d characters", maxEmailLen)
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", apperr.Input("email", "%q is not a valid email address", s)
	}
	at := strings.LastIndexByte(e, '@')
	domain := e[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.ContainsAny(e, " \t\r\n") {
		return "", apperr.Input("email", "%q is not a valid email address", s)
	}
	return e, nil
}

// checkPasswordRules checks a new password's length, counted in characters.
func checkPasswordRules(field, p string) error {
	n := utf8.RuneCountInString(p)
	switch {
	case !utf8.ValidString(p):
		return apperr.Input(field, "password is not valid UTF-8")
	case n < MinPasswordLen:
		return apperr.Input(field, "password must be at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return apperr.Input(field, "password must be at most %d characters", MaxPasswordLen)
	}
	return nil
}

// normalizeNickname trims a nickname and checks it is 2–30 printable characters.
func normalizeNickname(s string) (string, error) {
	n := strings.TrimSpace(s)
	count := utf8.RuneCountInString(n)
	if count < MinNicknameLen || count > MaxNicknameLen {
		return "", apperr.Input("nickname", "nickname must be %d to %d characters", MinNicknameLen, MaxNicknameLen)
	}
	if !printable(n) {
		return "", apperr.Input("nickname", "nickname must not contain control characters")
	}
	return n, nil
}

// normalizeBio trims a bio; an empty one clears it (nil).
func normalizeBio(s string) (*string, error) {
	b := strings.TrimSpace(s)
	if b == "" {
		return nil, nil
	}
	if utf8.RuneCountInString(b) > MaxBioLen {
		return nil, apperr.Input("bio", "bio must be at most %d characters", MaxBioLen)
	}
	if !utf8.ValidString(b) {
		return nil, apperr.Input("bio", "bio is not valid UTF-8")
	}
	return &b, nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
