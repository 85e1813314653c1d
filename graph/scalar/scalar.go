// Package scalar marshals chatty's custom GraphQL scalars. Input that does
// not parse is a BAD_USER_INPUT error, never an internal one.
package scalar

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/apperr"
)

// MarshalID writes an entity id as a GraphQL ID (a string).
func MarshalID(id int) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(strconv.Itoa(id)))
	})
}

// UnmarshalID reads a GraphQL ID. IDs are opaque to clients; they are
// positive integers underneath.
func UnmarshalID(v any) (int, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case int:
		s = strconv.Itoa(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	default:
		return 0, apperr.New(apperr.BadInput, "an ID must be a string")
	}
	id, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.BadInput, "%q is not a valid ID", s)
	}
	return id, nil
}

// MarshalCursor writes a pagination cursor.
func MarshalCursor(c ent.Cursor) graphql.Marshaler {
	return graphql.WriterFunc(c.MarshalGQL)
}

// UnmarshalCursor reads a pagination cursor handed out earlier.
func UnmarshalCursor(v any) (ent.Cursor, error) {
	var c ent.Cursor
	if err := c.UnmarshalGQL(v); err != nil {
		return c, apperr.New(apperr.BadInput, "malformed cursor: use a cursor from an earlier page")
	}
	return c, nil
}
