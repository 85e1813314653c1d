package server

import (
	"context"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/auth"
	"github.com/chatty/chatty/internal/chat"
	"github.com/chatty/chatty/internal/database"
	"github.com/chatty/chatty/internal/viewer"
)

var errNoToken = apperr.New(apperr.Unauthenticated, "connection_init must carry an access token: {\"Authorization\": \"Bearer <accessToken>\"}")

// tokenFromInit finds the access token in a connection_init payload:
// {"Authorization": "Bearer <t>"}, {"authorization": …} or {"authToken": "<t>"}.
func tokenFromInit(p transport.InitPayload) string {
	for _, key := range []string{"Authorization", "authorization"} {
		if v, ok := p[key].(string); ok {
			if t := auth.BearerToken(v); t != "" {
				return t
			}
		}
	}
	if v, ok := p["authToken"].(string); ok {
		if t := auth.BearerToken(v); t != "" { // tolerate a "Bearer " prefix
			return t
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// wsInit authenticates a WebSocket connection with the same function as
// HTTP requests. A refused connection_init closes with 4403; an accepted one
// is closed with 4403 when its access token expires (the client reconnects
// with a fresh one), and counts towards the user's presence while open.
func (s *Server) wsInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	token := tokenFromInit(p)
	if token == "" {
		return refused(ctx, errNoToken), nil, errNoToken
	}
	// ctx is the connection's: what is derived from it (a timeout) would
	// leave it a table of children and a channel for as long as the
	// socket is open. The work here runs on wctx, which Close does not
	// end: each wait is bounded by DBTimeout.
	wctx := context.WithoutCancel(ctx)
	actx, cancel := context.WithTimeout(wctx, s.cfg.DBTimeout)
	v, exp, err := s.cfg.Auth.Authenticate(actx, token)
	cancel()
	if err == nil && !exp.After(time.Now()) { // within the verifier's leeway: don't ack only to close
		err = auth.ErrTokenExpired
	}
	if err != nil {
		return refused(ctx, err), nil, err
	}
	if c := connOf(ctx); c != nil {
		c.expireAt(exp) // 4403 "access token expired"
		// The watch ends with the connection (stop, when it closes; a
		// refused connection_init closes it too). ctx tells the check
		// that the connection has closed (Err: no channel made).
		stop, err := s.cfg.Chat.WatchSessions(wctx, v, func() {
			check, cancel := context.WithTimeout(wctx, s.cfg.DBTimeout)
			defer cancel()
			err := s.cfg.Auth.RecheckSession(check, v) // v, not the token: an idle socket keeps less
			switch {
			case err == nil || ctx.Err() != nil:
			case apperr.KindOf(err) != "": // the session ended, or the account
				c.closeWith(closeForbidden, "the session has ended")
			default: // the database did not answer: not a reason to sign anyone out
				s.log.WarnContext(wctx, "session check failed; the socket stays open", "user_id", v.UserID, "err", err)
			}
		})
		if err != nil {
			return refused(ctx, err), nil, err
		}
		c.whenClosed(stop)
		// Authenticate may have trusted this instance's memory of the
		// session (auth.SessionCheckTTL), which a sign-out through another
		// instance does not reach, and the watch hears only what ends from
		// now on: read the session now that the socket watches.
		rctx, cancel := context.WithTimeout(wctx, s.cfg.DBTimeout)
		err = s.cfg.Auth.RecheckSession(rctx, v)
		cancel()
		if err != nil {
			return refused(ctx, err), nil, err
		}
		c.whenClosed(s.cfg.Chat.Connected(wctx, v))
		ctx = chat.WithOverflow(ctx, func() {
			c.closeWith(closeTryAgainLater, "too slow: reconnect and resume with after")
		})
	}
	return viewer.NewContext(ctx, v), nil, nil
}

// refused marks ctx so the transport closes the socket with 4403 and the reason
// when the client was refused (a bad or expired token, an ended session),
// and with 1013, try again later, when the server could not tell (the
// database did not answer): 4403 makes clients sign in again.
func refused(ctx context.Context, err error) context.Context {
	if apperr.KindOf(err) == "" {
		reason := "internal server error: try again shortly" // internal: don't tell more
		if database.Unavailable(err) {
			reason = "server busy: try again shortly"
		}
		return withCloseReason(ctx, closeTryAgainLater, reason)
	}
	return withCloseReason(ctx, closeForbidden, err.Error())
}
