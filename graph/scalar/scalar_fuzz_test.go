package scalar_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/graph/scalar"
	"github.com/chatty/chatty/internal/apperr"
)

// An ID from a client either is refused as BAD_USER_INPUT or names a
// positive id that writes back as the canonical string and reads again
// as itself. Run as a plain test it checks the seeds;
// `go test -fuzz=FuzzUnmarshalID ./graph/scalar` looks further.
func FuzzUnmarshalID(f *testing.F) {
	for _, s := range []string{
		"1", "34359738369", " 42 ", "007", "+5", "0", "-1", "", " ", "abc", "1e3", "0x10",
		"9223372036854775807", "9223372036854775808", "１２", "1\x00", "٣", "1_000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := scalar.UnmarshalID(s)
		if err != nil {
			if apperr.KindOf(err) != apperr.BadInput {
				t.Fatalf("UnmarshalID(%q): %v is not a BAD_USER_INPUT error", s, err)
			}
			return
		}
		if id <= 0 {
			t.Fatalf("UnmarshalID(%q) = %d, want a positive id or an error", s, id)
		}
		var b bytes.Buffer
		scalar.MarshalID(id).MarshalGQL(&b)
		if want := strconv.Quote(strconv.Itoa(id)); b.String() != want {
			t.Fatalf("MarshalID(%d) = %s, want %s", id, b.String(), want)
		}
		again, err := scalar.UnmarshalID(strconv.Itoa(id))
		if err != nil || again != id {
			t.Fatalf("id %d does not read back: %d, %v", id, again, err)
		}
	})
}

// marshalCursor writes c as a client sees it: the string inside the JSON quotes.
func marshalCursor(t testing.TB, c ent.Cursor) string {
	t.Helper()
	var b bytes.Buffer
	scalar.MarshalCursor(c).MarshalGQL(&b)
	s, err := strconv.Unquote(b.String())
	if err != nil {
		t.Fatalf("cursor %+v marshals to %s, not a JSON string: %v", c, b.String(), err)
	}
	return s
}

// A cursor from a client either is refused as BAD_USER_INPUT or reads as
// a cursor that writes and reads back to the same id: garbage never
// panics and never turns into an internal error.
func FuzzUnmarshalCursor(f *testing.F) {
	for _, c := range []ent.Cursor{
		{ID: 1}, {ID: 34359738369}, {ID: 8589934593, Value: "2026-11-30T08:00:00.123456Z"}, {ID: 7, Value: 12},
	} {
		f.Add(marshalCursor(f, c))
	}
	for _, s := range []string{
		"", "not-a-cursor", "gaFp", "gaFpAQ", "====", "kQ", "3wAAAAA", "3f////8", "xf////8", "3QAAAP8", "gqFpAaF2kJA",
		strings.Repeat("kZGRkZGRkZGR", 50), "gaFp3gAA", "gaFpy3/wAAAAAAAA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := scalar.UnmarshalCursor(s)
		if err != nil {
			if apperr.KindOf(err) != apperr.BadInput {
				t.Fatalf("UnmarshalCursor(%q): %v is not a BAD_USER_INPUT error", s, err)
			}
			return
		}
		again, err := scalar.UnmarshalCursor(marshalCursor(t, c))
		if err != nil || again.ID != c.ID {
			t.Fatalf("cursor %q (id %d) does not read back: %+v, %v", s, c.ID, again, err)
		}
	})
}

// Every kind of cursor chatty hands out reads back as itself.
func TestCursorsReadBack(t *testing.T) {
	when := time.Date(2026, 11, 30, 8, 0, 0, 123456000, time.UTC)
	for _, c := range []ent.Cursor{
		{ID: 1}, {ID: 34359738369}, {ID: 2, Value: "민수 😀"}, {ID: 3, Value: strings.Repeat("가", 30)},
		{ID: 4, Value: when}, {ID: 5, Value: int64(-7)}, {ID: 6, Value: uint64(1 << 40)}, {ID: 7, Value: 1.5},
		{ID: 8, Value: true},
	} {
		s := marshalCursor(t, c)
		got, err := scalar.UnmarshalCursor(s)
		if err != nil {
			t.Errorf("cursor %+v (%q) is refused: %v", c, s, err)
			continue
		}
		if got.ID != c.ID || fmt.Sprint(got.Value) != fmt.Sprint(c.Value) {
			t.Errorf("cursor %+v reads back as %+v", c, got)
		}
	}
}

// A short cursor whose MessagePack claims a huge map, array, string or
// extension is refused without allocating for the claim (a map header
// claiming 2³² entries cost 80 MiB before).
func TestHostileCursorsAllocateLittle(t *testing.T) {
	for _, b := range [][]byte{
		{0x81, 0xa1, 'v', 0xdf, 0xff, 0xff, 0xff, 0xff},                        // map32
		{0x82, 0xa1, 'i', 0x01, 0xa1, 'v', 0x91, 0xdf, 0xff, 0xff, 0xff, 0xff}, // nested in an array
		{0x81, 0xa1, 'v', 0xdd, 0xff, 0xff, 0xff, 0xff},                        // array32
		{0x81, 0xa1, 'v', 0xdb, 0xff, 0xff, 0xff, 0xff},                        // str32
		{0x81, 0xa1, 'v', 0xc6, 0xff, 0xff, 0xff, 0xff},                        // bin32
		{0x81, 0xa1, 'v', 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},                  // ext32
		{0xdf, 0xff, 0xff, 0xff, 0xff},                                         // the cursor itself a map32
		{0x81, 0xdb, 0xff, 0xff, 0xff, 0xff},                                   // a str32 key
	} {
		s := base64.RawStdEncoding.EncodeToString(b)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := scalar.UnmarshalCursor(s)
		runtime.ReadMemStats(&after)
		if apperr.KindOf(err) != apperr.BadInput {
			t.Errorf("cursor %q (% x): %v, want BAD_USER_INPUT", s, b, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("cursor %q (% x) allocated %d KiB", s, b, n>>10)
		}
	}
}
