package auth

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
	now    func() time.Time // the parser's clock (time.Now; tests move it)
	// verified remembers the tokens that passed verification: a client
	// sends the same token with every request for its lifetime, and
	// parsing it again (base64, JSON, HMAC) was a third of what a request
	// cost before its resolvers.
	verified verifiedTokens
}

// tokenLeeway is the clock skew allowed on exp and iat.
const tokenLeeway = 5 * time.Second

func newTokenIssuer(secret []byte, issuer string, ttl time.Duration) *tokenIssuer {
	t := &tokenIssuer{secret: secret, issuer: issuer, ttl: ttl, now: time.Now}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), // the algorithm is pinned: no "none", no RS/HS confusion
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	return t
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
	now := t.now()
	if v, ok := t.verified.lookup(token); ok {
		if !now.Before(v.exp.Add(tokenLeeway)) {
			return viewer.Viewer{}, time.Time{}, ErrTokenExpired // as the parser says of it now
		}
		return v.viewer, v.exp, nil
	}
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
	v := viewer.Viewer{UserID: uid, SessionID: claims.SessionID}
	t.verified.store(token, verifiedToken{viewer: v, exp: claims.ExpiresAt.Time}, now)
	return v, claims.ExpiresAt.Time, nil
}

// maxVerifiedTokens bounds the tokens remembered (a few hundred bytes
// each): about the clients active within an access token's lifetime.
const maxVerifiedTokens = 8192

// verifiedTokens remembers tokens that verified, by their exact text:
// only a token this issuer signed gets in (a refused one is never kept),
// and what a signed token says does not change. Expiry, the one check
// that depends on the time, is made again on each use.
type verifiedTokens struct {
	mu sync.RWMutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	viewer viewer.Viewer
	exp    time.Time
}

func (c *verifiedTokens) lookup(token string) (verifiedToken, bool) {
	c.mu.RLock()
	v, ok := c.m[token]
	c.mu.RUnlock()
	return v, ok
}

// store keeps a token that verified at now. When full, it drops the
// tokens expired by now, or, if none has, all of them.
func (c *verifiedTokens) store(token string, v verifiedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]verifiedToken)
	}
	if len(c.m) >= maxVerifiedTokens {
		for k, e := range c.m {
			if !now.Before(e.exp.Add(tokenLeeway)) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxVerifiedTokens {
			clear(c.m)
		}
	}
	c.m[strings.Clone(token)] = v // not the request's header, which the map would keep alive
}
