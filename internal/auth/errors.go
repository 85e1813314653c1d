package auth

import (
	"math"
	"time"

	"github.com/chatty/chatty/internal/apperr"
)

// Errors of the auth package; graph/errors.go turns their kinds into codes.
var (
	ErrUnauthenticated      = apperr.New(apperr.Unauthenticated, "sign in first: this needs a valid access token")
	ErrInvalidToken         = apperr.New(apperr.Unauthenticated, "the access token is invalid")
	ErrTokenExpired         = apperr.New(apperr.Unauthenticated, "the access token has expired")
	ErrSessionEnded         = apperr.New(apperr.Unauthenticated, "the session of this access token has ended")
	ErrInvalidCredentials   = apperr.New(apperr.Unauthenticated, "wrong email or password")
	ErrInvalidRefreshToken  = apperr.New(apperr.Unauthenticated, "the refresh token is invalid or expired")
	ErrRefreshTokenReused   = apperr.New(apperr.Unauthenticated, "the refresh token was already used; its session has been ended")
	ErrEmailTaken           = apperr.New(apperr.Conflict, "an account with this email already exists")
	ErrPasswordBusy         = apperr.Retry(time.Second, "the server is busy checking passwords; try again in a second")
	ErrWrongCurrentPassword = apperr.Input("currentPassword", "the current password is wrong")
	ErrWrongPassword        = apperr.Input("password", "the password is wrong")
	ErrNoPassword           = apperr.Input("password", "this account signs in through a provider and has no password")
)

// errSignInLimited says how long to wait before the next sign-in attempt.
func errSignInLimited(wait time.Duration) error {
	return apperr.Retry(wait, "too many sign-in attempts; try again in %d seconds", seconds(wait))
}

func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
