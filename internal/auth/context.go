package auth

import (
	"context"
	"net/http"
	"time"

	"github.com/chatty/chatty/internal/viewer"
)

type authErrKey struct{}

// Middleware reads "Authorization: Bearer <token>" and puts the viewer in
// the request's context. A request without a valid token goes on as
// anonymous; why its token was refused is kept for Require to report.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(s.RequestContext(r.Context(), r)))
	})
}

// RequestContext is what Middleware gives a request: ctx with the viewer
// of r's bearer token (or why it was refused) and a viewer slot. For a
// handler that sets up the request's context in one step.
func (s *Service) RequestContext(ctx context.Context, r *http.Request) context.Context {
	if token := BearerToken(r.Header.Get("Authorization")); token != "" {
		ctx = s.ContextWithToken(ctx, token)
	}
	return viewer.WithSlot(ctx)
}

// tokenCheckTimeout bounds the database work of checking one token.
const tokenCheckTimeout = 10 * time.Second

// ContextWithToken returns ctx carrying the viewer token speaks for, or,
// when it is refused, the reason.
func (s *Service) ContextWithToken(ctx context.Context, token string) context.Context {
	// Bounded even where the request has no deadline (uploads, upgrades);
	// a request whose deadline comes sooner needs no timer of its own.
	actx := ctx
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > tokenCheckTimeout {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, tokenCheckTimeout)
		defer cancel()
	}
	v, _, err := s.Authenticate(actx, token)
	if err != nil {
		return context.WithValue(ctx, authErrKey{}, err)
	}
	return viewer.NewContext(ctx, v)
}

// Require returns the viewer of ctx, or an UNAUTHENTICATED error saying
// what was wrong with the token (none, expired, invalid, session ended).
func Require(ctx context.Context) (viewer.Viewer, error) {
	if v, ok := viewer.FromContext(ctx); ok {
		return v, nil
	}
	if err, ok := ctx.Value(authErrKey{}).(error); ok {
		return viewer.Viewer{}, err
	}
	return viewer.Viewer{}, ErrUnauthenticated
}
