package auth

import (
	"errors"
	"testing"
	"time"
)

// A token verified once (and remembered) is still refused as expired once
// its time is up, and a token differing from it in one byte is still
// checked in full.
func TestVerifiedTokenExpires(t *testing.T) {
	now := time.Now()
	tokens := newTokenIssuer([]byte("0123456789abcdef0123456789abcdef"), "chatty", time.Minute)
	tokens.now = func() time.Time { return now }
	token, exp, err := tokens.issue(7, 3, now)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // parsed, then remembered
		v, gotExp, err := tokens.verify(token)
		if err != nil || v.UserID != 7 || v.SessionID != 3 || !gotExp.Equal(exp) {
			t.Fatalf("verify: %+v %v %v", v, gotExp, err)
		}
	}
	swap := "A"
	if token[len(token)-2] == 'A' {
		swap = "B"
	}
	tampered := token[:len(token)-2] + swap + token[len(token)-1:] // a signature byte changed
	if _, _, err := tokens.verify(tampered); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("tampered token: %v, want ErrInvalidToken", err)
	}
	now = exp.Add(tokenLeeway - time.Millisecond) // within the leeway
	if _, _, err := tokens.verify(token); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	now = exp.Add(tokenLeeway)
	if _, _, err := tokens.verify(token); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired token: %v, want ErrTokenExpired", err)
	}
	fresh := newTokenIssuer(tokens.secret, "chatty", time.Minute) // nothing remembered: what the parser says
	fresh.now = tokens.now
	if _, _, err := fresh.verify(token); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired token, parsed: %v, want ErrTokenExpired", err)
	}
}

// The remembered tokens stay bounded: past the bound the expired go, then
// all.
func TestVerifiedTokensBounded(t *testing.T) {
	var c verifiedTokens
	now := time.Now()
	for i := range maxVerifiedTokens + 10 {
		exp := now.Add(time.Minute)
		if i%2 == 0 {
			exp = now.Add(-time.Minute)
		}
		c.store(string(rune(i))+"-token", verifiedToken{exp: exp}, now)
		if len(c.m) > maxVerifiedTokens {
			t.Fatalf("%d tokens remembered, bound %d", len(c.m), maxVerifiedTokens)
		}
	}
}
