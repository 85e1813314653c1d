// Package search is the text index of messages: the bigrams a message's
// searchable text (its body or caption, and its attachment's file name) is
// indexed under, and the literal match that confirms a candidate.
//
// A gram is two consecutive characters (runes) of the lower-cased text,
// packed into one integer (first<<21 | second; a rune fits in 21 bits),
// so the index is the same compact integer table on SQLite and MariaDB and
// no collation ever compares two grams. Every substring of two characters
// or more of a text contains only grams of that text, so the messages
// holding all of a query's grams are a superset of those containing the
// query; Contains then decides.
package search

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Query lengths, in characters after trimming.
const (
	MinQueryLen = 2   // the shortest query: one gram
	MaxQueryLen = 100 // the longest query
)

// Table is the index's table: (room_id, gram, message_id), primary key in
// that order, so a search reads, per room of the viewer, one range of the
// key per gram.
const Table = "message_grams"

// fold is the case folding of both the index and the match.
func fold(s string) string { return strings.ToLower(s) }

// Grams returns the distinct grams of texts (each folded; no gram spans
// two texts), in the order they first occur.
func Grams(texts ...string) []int64 {
	n := 0
	for _, t := range texts {
		n += len(t)
	}
	if n == 0 {
		return nil
	}
	out := make([]int64, 0, n)
	// A line of chat has a few dozen grams: looking back over them costs
	// less than a map; a long text has a map.
	var seen map[int64]struct{}
	if n > smallText {
		seen = make(map[int64]struct{}, n)
	}
	for _, t := range texts {
		t = fold(t)
		prev := rune(-1)
		for _, r := range t {
			if prev >= 0 {
				g := int64(prev)<<21 | int64(r)
				if seen != nil {
					if _, ok := seen[g]; !ok {
						seen[g] = struct{}{}
						out = append(out, g)
					}
				} else if !slices.Contains(out, g) {
					out = append(out, g)
				}
			}
			prev = r
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// smallText: texts of up to this many bytes are deduplicated without a map.
const smallText = 256

// Contains reports whether text contains query, ignoring case. query is
// taken literally: no character has a special meaning.
func Contains(text, query string) bool {
	return strings.Contains(fold(text), fold(query))
}

// Len is the number of characters of s.
func Len(s string) int { return utf8.RuneCountInString(s) }

// Diff returns the grams of after that before lacks (to add) and those of
// before that after lacks (to remove).
func Diff(before, after []int64) (add, remove []int64) {
	in := func(gs []int64) map[int64]bool {
		m := make(map[int64]bool, len(gs))
		for _, g := range gs {
			m[g] = true
		}
		return m
	}
	b, a := in(before), in(after)
	for _, g := range after {
		if !b[g] {
			add = append(add, g)
		}
	}
	for _, g := range before {
		if !a[g] {
			remove = append(remove, g)
		}
	}
	return add, remove
}

// InsertSQL is the statement adding grams of message messageID of room
// roomID ("" when there are none). The values are integers the caller
// computed, written as literals: no placeholder limit, nothing to escape.
// ignore (for rebuilding) skips grams already there, in dialect's syntax
// ("mysql" or "sqlite3").
func InsertSQL(dialect string, roomID, messageID int, grams []int64, ignore bool) string {
	if len(grams) == 0 {
		return ""
	}
	head := insertHead(dialect, ignore)
	b := make([]byte, 0, len(head)+len(grams)*rowLen)
	b = append(b, head...)
	for i, g := range grams {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRow(b, int64(roomID), g, int64(messageID))
	}
	return string(b)
}

// rowLen is about the length of a row of grams: a room, a gram (up to 13
// digits) and a message.
const rowLen = 32

// InsertJSONSQL is InsertSQL on SQLite with one text for any number of
// grams, so that it can run prepared: its arguments (InsertJSONArgs) are
// the room, the message and the grams as a JSON array of integers (each
// below 2^42: exact in JSON, an INTEGER to json_each).
const InsertJSONSQL = "INSERT INTO " + Table + " (room_id, gram, message_id) SELECT ?, value, ? FROM json_each(?)"

// InsertJSONArgs are InsertJSONSQL's arguments.
func InsertJSONArgs(roomID, messageID int, grams []int64) []any {
	b := make([]byte, 0, 2+len(grams)*15)
	b = append(b, '[')
	for i, g := range grams {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, g, 10)
	}
	b = append(b, ']')
	return []any{roomID, messageID, string(b)}
}

func insertHead(dialect string, ignore bool) string {
	switch {
	case !ignore:
		return "INSERT INTO " + Table + " (room_id, gram, message_id) VALUES "
	case dialect == "mysql":
		return "INSERT IGNORE INTO " + Table + " (room_id, gram, message_id) VALUES "
	default:
		return "INSERT OR IGNORE INTO " + Table + " (room_id, gram, message_id) VALUES "
	}
}

func writeRow(b *strings.Builder, room, gram, msg int64) {
	var buf [3*20 + 4]byte
	b.Write(appendRow(buf[:0], room, gram, msg))
}

func appendRow(b []byte, room, gram, msg int64) []byte {
	b = append(b, '(')
	b = strconv.AppendInt(b, room, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, gram, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, msg, 10)
	return append(b, ')')
}

// DeleteSQL is the statement removing grams of message messageID of room
// roomID ("" when there are none): one range of the key per gram.
func DeleteSQL(roomID, messageID int, grams []int64) string {
	if len(grams) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("DELETE FROM " + Table + " WHERE room_id = ")
	b.WriteString(itoa(int64(roomID)))
	b.WriteString(" AND message_id = ")
	b.WriteString(itoa(int64(messageID)))
	b.WriteString(" AND gram IN (")
	for i, g := range grams {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(itoa(g))
	}
	b.WriteByte(')')
	return b.String()
}

// Row is one message's grams, for a bulk insert.
type Row struct {
	RoomID, MessageID int
	Grams             []int64
}

// BulkInsertSQL is InsertSQL for several messages, in statements of at
// most maxRows rows each.
func BulkInsertSQL(dialect string, rows []Row, maxRows int, ignore bool) []string {
	var out []string
	var b strings.Builder
	n := 0
	for _, r := range rows {
		for _, g := range r.Grams {
			if n == 0 {
				b.WriteString(insertHead(dialect, ignore))
			} else {
				b.WriteByte(',')
			}
			writeRow(&b, int64(r.RoomID), g, int64(r.MessageID))
			if n++; n == maxRows {
				out = append(out, b.String())
				b.Reset()
				n = 0
			}
		}
	}
	if n > 0 {
		out = append(out, b.String())
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
