// Package apperr classifies domain errors by what a client can do about them.
// Domain packages declare sentinels and input errors with a Kind; the GraphQL
// error presenter turns the Kind into the contract's extensions.code. Errors
// without a Kind are internal: their text never reaches a client.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Kind is a class of failure a client can act on.
type Kind string

// The kinds, named as the contract's extensions.code values.
const (
	Unauthenticated   Kind = "UNAUTHENTICATED"
	Forbidden         Kind = "FORBIDDEN"
	NotFound          Kind = "NOT_FOUND"
	BadInput          Kind = "BAD_USER_INPUT"
	Conflict          Kind = "CONFLICT"
	TooLarge          Kind = "PAYLOAD_TOO_LARGE"
	UnsupportedMedia  Kind = "UNSUPPORTED_MEDIA_TYPE"
	RateLimited       Kind = "RATE_LIMITED"
	ComplexityLimited Kind = "COMPLEXITY_LIMIT_EXCEEDED"
	// Unavailable: the server could not do the work in time (the database
	// is busy or a lock is held); the same request may succeed later.
	Unavailable Kind = "SERVICE_UNAVAILABLE"
)

// Error is a failure a client may be told about: its Message is plain English
// meant for the client.
type Error struct {
	Kind    Kind
	Message string
	// Field names the input field at fault, when there is one.
	Field string
	// Extensions are more facts for the client, presented beside the code
	// (e.g. "remainingBytes"); they never override code or field.
	Extensions map[string]any
	// RetryAfter, when set, says how long to wait before trying again
	// (presented as extensions.retryAfter, whole seconds).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// New returns an error of kind k with a client-facing message.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Input returns a BAD_USER_INPUT error about one input field.
func Input(field, format string, args ...any) *Error {
	return &Error{Kind: BadInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// With returns a copy of e carrying the extension key: value.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Extensions = make(map[string]any, len(e.Extensions)+1)
	for k, v := range e.Extensions {
		c.Extensions[k] = v
	}
	c.Extensions[key] = value
	return &c
}

// Retry returns a RATE_LIMITED error telling the client to wait after.
func Retry(after time.Duration, format string, args ...any) *Error {
	return &Error{Kind: RateLimited, Message: fmt.Sprintf(format, args...), RetryAfter: after}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// KindOf returns the kind of err, or "" when err is internal.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return ""
}
