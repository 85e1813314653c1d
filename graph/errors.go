package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/database"
)

// CodeInternal is the code of every error a client can do nothing about.
const CodeInternal = "INTERNAL_SERVER_ERROR"

// ErrUnavailable answers work the database did not get to in time: the
// request's deadline passed, a lock wait timed out, a deadlock was broken.
var ErrUnavailable = apperr.New(apperr.Unavailable, "the server is busy and could not finish this in time; try again shortly")

// ErrorPresenter is the one place that turns errors into what clients see:
// domain errors keep their message and get their kind as extensions.code;
// gqlgen's own parse, validation and limit errors keep theirs; a database
// that did not answer in time is SERVICE_UNAVAILABLE (retryable); anything
// else is logged and answered with a bare INTERNAL_SERVER_ERROR, so no SQL,
// file path or stack text reaches a client.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if apperr.KindOf(err) == "" && (database.Unavailable(err) || errors.Is(ctx.Err(), context.DeadlineExceeded)) {
			log.WarnContext(ctx, "database unavailable", "err", err, "path", gqlErr.Path.String())
			err = ErrUnavailable
		}
		if e, ok := apperr.As(err); ok {
			out := &gqlerror.Error{
				Message:    e.Message,
				Path:       gqlErr.Path,
				Locations:  gqlErr.Locations,
				Extensions: map[string]any{},
			}
			for k, v := range e.Extensions {
				out.Extensions[k] = v
			}
			out.Extensions["code"] = string(e.Kind)
			if e.Field != "" {
				out.Extensions["field"] = e.Field
			}
			if e.RetryAfter > 0 {
				out.Extensions["retryAfter"] = int(math.Ceil(e.RetryAfter.Seconds()))
			}
			return out
		}
		if code, ok := gqlErr.Extensions["code"].(string); ok && code != "" && gqlErr.Err == nil {
			return gqlErr // gqlgen's parse/validation/complexity errors: their text is about the query
		}
		if errors.Is(err, context.Canceled) {
			return &gqlerror.Error{Message: "the request was cancelled", Path: gqlErr.Path, Extensions: map[string]any{"code": CodeInternal}}
		}
		log.ErrorContext(ctx, "internal error", "err", err, "path", gqlErr.Path.String())
		return &gqlerror.Error{
			Message:    "internal server error",
			Path:       gqlErr.Path,
			Locations:  gqlErr.Locations,
			Extensions: map[string]any{"code": CodeInternal},
		}
	}
}

// Recover logs a resolver panic with its stack and answers with an internal error.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errors.New("panic") // presented as INTERNAL_SERVER_ERROR
	}
}
