// Package scalar marshals chatty's custom GraphQL scalars. Input that does
// not parse is a BAD_USER_INPUT error, never an internal one.
package scalar

import (
	"encoding/base64"
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

// maxCursorLen bounds a cursor's text; chatty's are well under 100 characters.
const maxCursorLen = 512

var errMalformedCursor = apperr.New(apperr.BadInput, "malformed cursor: use a cursor from an earlier page")

// UnmarshalCursor reads a pagination cursor handed out earlier. Before
// entgql decodes it, its bytes must have the shape chatty's cursors have
// (see plainCursor): entgql decodes the value into an interface, and a map
// header claiming four billion entries in an 11-character cursor made it
// allocate 80 MiB.
func UnmarshalCursor(v any) (ent.Cursor, error) {
	var c ent.Cursor
	s, ok := v.(string)
	if !ok || len(s) > maxCursorLen {
		return c, errMalformedCursor
	}
	raw, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || !plainCursor(raw) {
		return c, errMalformedCursor
	}
	if err := c.UnmarshalGQL(s); err != nil {
		return c, errMalformedCursor
	}
	return c, nil
}

// plainCursor reports whether raw is MessagePack for a map of one or two
// short-string keys to scalar values (nil, bool, number, string, binary,
// extension such as a timestamp), with no bytes left over and no length
// claiming more bytes than there are: what entgql writes for a cursor.
// Maps and arrays, which a decoder would allocate for, are refused.
func plainCursor(raw []byte) bool {
	if len(raw) == 0 || raw[0] < 0x81 || raw[0] > 0x82 { // fixmap of 1 or 2
		return false
	}
	rest := raw[1:]
	for range int(raw[0] & 0x0f) {
		// The key: a fixstr.
		if len(rest) == 0 || rest[0]&0xe0 != 0xa0 {
			return false
		}
		var ok bool
		if rest, ok = skip(rest[1:], int(rest[0]&0x1f)); !ok {
			return false
		}
		if rest, ok = skipScalar(rest); !ok {
			return false
		}
	}
	return len(rest) == 0
}

// skipScalar skips one MessagePack scalar at the start of b.
func skipScalar(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	c, b := b[0], b[1:]
	switch {
	case c <= 0x7f || c >= 0xe0: // positive and negative fixint
		return b, true
	case c&0xe0 == 0xa0: // fixstr
		return skip(b, int(c&0x1f))
	}
	switch c {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return b, true
	case 0xcc, 0xd0: // uint8, int8
		return skip(b, 1)
	case 0xcd, 0xd1: // uint16, int16
		return skip(b, 2)
	case 0xce, 0xd2, 0xca: // uint32, int32, float32
		return skip(b, 4)
	case 0xcf, 0xd3, 0xcb: // uint64, int64, float64
		return skip(b, 8)
	case 0xd9, 0xc4: // str8, bin8
		return skipSized(b, 1, 0)
	case 0xda, 0xc5: // str16, bin16
		return skipSized(b, 2, 0)
	case 0xdb, 0xc6: // str32, bin32
		return skipSized(b, 4, 0)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: a type byte and the data
		return skip(b, 1+1<<(c-0xd4))
	case 0xc7: // ext8
		return skipSized(b, 1, 1)
	case 0xc8: // ext16
		return skipSized(b, 2, 1)
	case 0xc9: // ext32
		return skipSized(b, 4, 1)
	}
	return nil, false // maps, arrays, reserved codes
}

// skipSized skips a big-endian length of size bytes, extra bytes (an
// extension's type) and as many bytes as the length says.
func skipSized(b []byte, size, extra int) ([]byte, bool) {
	if len(b) < size {
		return nil, false
	}
	n := 0
	for _, x := range b[:size] {
		n = n<<8 | int(x)
	}
	return skip(b[size:], extra+n)
}

// skip drops n bytes from b; false when b is shorter.
func skip(b []byte, n int) ([]byte, bool) {
	if n < 0 || n > len(b) {
		return nil, false
	}
	return b[n:], true
}
