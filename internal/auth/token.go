package auth

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chatty/chatty/internal/viewer"
)

// accessClaims are the claims of an access token: the standard ones plus
// the session (refresh-token family) it was issued for.
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID int `json:"sid"`
}

// tokenIssuer issues and verifies HS256 access tokens.
type tokenIssuer struct {
	secret []byte
	issuer string
	ttl    time.Duration
	parser *jwt.Parser
}

func newTokenIssuer(secret []byte, issuer string, ttl time.Duration) *tokenIssuer {
	return &tokenIssuer{
		secret: secret,
		issuer: issuer,
		ttl:    ttl,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), // the algorithm is pinned: no "none", no RS/HS confusion
			jwt.WithIssuer(issuer),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(5*time.Second),
		),
	}
}

// issue returns a signed access token for the user's session and when it expires.
func (t *tokenIssuer) issue(userID, sessionID int, now time.Time) (string, time.Time, error) {
	exp := now.Add(t.ttl).Truncate(time.Second)
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   strconv.Itoa(userID),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		SessionID: sessionID,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return s, exp, nil
}

// verify checks signature, algorithm, issuer and expiry of token and returns
// who it speaks for, and when it expires.
func (t *tokenIssuer) verify(token string) (viewer.Viewer, time.Time, error) {
	var claims accessClaims
	_, err := t.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.secret, nil })
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return viewer.Viewer{}, time.Time{}, ErrTokenExpired
		}
		return viewer.Viewer{}, time.Time{}, ErrInvalidToken
	}
	uid, err := strconv.Atoi(claims.Subject)
	if err != nil || uid <= 0 || claims.SessionID <= 0 {
		return viewer.Viewer{}, time.Time{}, ErrInvalidToken
	}
	return viewer.Viewer{UserID: uid, SessionID: claims.SessionID}, claims.ExpiresAt.Time, nil
}
