// Package viewer carries who is asking, and from where, through a context.
package viewer

import (
	"context"
	"sync"
)

// Viewer is an authenticated user.
type Viewer struct {
	UserID int
	// SessionID is the sign-in (refresh-token family) the access token was issued for.
	SessionID int
}

type viewerKey struct{}

// slot holds the viewer of one request. It is a slot rather than a plain
// value so that signing in during an operation (signUp, signIn,
// refreshSession) lets the rest of that operation's response be answered
// for the new viewer: `signUp { user { email } }` shows the email.
type slot struct {
	mu sync.RWMutex
	v  *Viewer
}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, &slot{v: &v})
}

// WithSlot returns ctx with an empty viewer slot that SignIn can fill.
func WithSlot(ctx context.Context) context.Context {
	if _, ok := ctx.Value(viewerKey{}).(*slot); ok {
		return ctx
	}
	return context.WithValue(ctx, viewerKey{}, &slot{})
}

// SignIn makes v the viewer of the request ctx belongs to, when it has a
// slot (see WithSlot).
func SignIn(ctx context.Context, v Viewer) {
	if s, ok := ctx.Value(viewerKey{}).(*slot); ok {
		s.mu.Lock()
		s.v = &v
		s.mu.Unlock()
	}
}

// FromContext returns the viewer in ctx, if there is one.
func FromContext(ctx context.Context) (Viewer, bool) {
	s, ok := ctx.Value(viewerKey{}).(*slot)
	if !ok {
		return Viewer{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.v == nil {
		return Viewer{}, false
	}
	return *s.v, true
}

// Client describes where a request comes from.
type Client struct {
	// IP is the remote address without port.
	IP        string
	UserAgent string
}

type clientKey struct{}

// WithClient returns ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFromContext returns the client in ctx (zero when unknown).
func ClientFromContext(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
