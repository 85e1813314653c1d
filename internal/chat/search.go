package chat

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/attachment"
	"github.com/chatty/chatty/ent/message"
	"github.com/chatty/chatty/internal/apperr"
	"github.com/chatty/chatty/internal/search"
	"github.com/chatty/chatty/internal/viewer"
)

// Message search. Each message's searchable text (body or caption, and
// its attachment's file name) is indexed by its bigrams in message_grams
// (internal/search), written in the transaction that stores, edits or
// deletes the message. A search reads, for the viewer's rooms, the
// messages holding the query's grams, newest first, and keeps those whose
// text really contains the query.

// index adds the grams of a new message (not SYSTEM) to the search index:
// one statement, none for a text shorter than two characters. On SQLite
// the statement's text is always the same (the grams go as one JSON
// argument), so it runs prepared: compiling a text with a row of
// literals per gram cost SQLite more than the rows themselves.
func (s *Service) index(ctx context.Context, tx *ent.Tx, m *ent.Message, filename string) error {
	if m.Kind == message.KindSYSTEM {
		return nil
	}
	grams := search.Grams(m.Body, filename)
	if len(grams) == 0 {
		return nil
	}
	d, err := s.sqlDialect(ctx)
	if err != nil {
		return err
	}
	q, args := search.InsertSQL("", m.RoomID, m.ID, grams, false), []any(nil)
	if d == dialect.SQLite {
		q, args = search.InsertJSONSQL, search.InsertJSONArgs(m.RoomID, m.ID, grams)
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("index message %d: %w", m.ID, err)
	}
	return nil
}

// reindex brings the index of message m (as stored before the change) to
// its new body, or removes it from the index when deleted: the grams that
// come and go, at most two statements (and a read of a file's name).
func reindex(ctx context.Context, tx *ent.Tx, m *ent.Message, body string, deleted bool) error {
	var filename string
	if m.AttachmentID != nil {
		var err error
		filename, err = tx.Attachment.Query().Where(attachment.ID(*m.AttachmentID)).Select(attachment.FieldFilename).String(ctx)
		if err != nil {
			return fmt.Errorf("file name of message %d: %w", m.ID, err)
		}
	}
	var after []int64
	if !deleted {
		after = search.Grams(body, filename)
	}
	add, remove := search.Diff(search.Grams(m.Body, filename), after)
	for _, q := range []string{search.DeleteSQL(m.RoomID, m.ID, remove), search.InsertSQL("", m.RoomID, m.ID, add, false)} {
		if q == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("reindex message %d: %w", m.ID, err)
		}
	}
	return nil
}

// SearchQuery is a validated search: its text and where it looks.
type SearchQuery struct {
	text   string
	grams  []int64 // the grams candidates must hold (at most maxProbes)
	roomID *int
	userID int
}

// maxProbes bounds the grams a candidate is looked up by; the literal
// match checks the rest.
const maxProbes = 3

// NewSearch checks a search of the viewer's messages for text (trimmed:
// 2 to 100 characters) in room roomID (nil: all their rooms; a room they
// are not in: ErrRoomNotFound).
func (s *Service) NewSearch(ctx context.Context, v viewer.Viewer, text string, roomID *int) (*SearchQuery, error) {
	text = strings.TrimSpace(text)
	switch n := search.Len(text); {
	case !utf8.ValidString(text):
		return nil, apperr.Input("query", "the search query must be valid UTF-8")
	case n < search.MinQueryLen:
		return nil, apperr.Input("query", "the search query must be at least %d characters", search.MinQueryLen)
	case n > search.MaxQueryLen:
		return nil, apperr.Input("query", "the search query must be at most %d characters", search.MaxQueryLen)
	}
	if roomID != nil {
		if _, err := currentMember(ctx, s.db, *roomID, v.UserID); err != nil {
			return nil, err
		}
	}
	gs := search.Grams(text)
	probes := gs
	if len(gs) > maxProbes { // the first, the last and the middle one
		probes = []int64{gs[0], gs[len(gs)/2], gs[len(gs)-1]}
	}
	return &SearchQuery{text: text, grams: probes, roomID: roomID, userID: v.UserID}, nil
}

// SearchMessages returns the messages matching q older than message
// before (0: from the newest), newest first, at most n of them, and
// whether there are more.
func (s *Service) SearchMessages(ctx context.Context, q *SearchQuery, before, n int) ([]*ent.Message, bool, error) {
	ids, err := s.searchIDs(ctx, q, before, n+1)
	if err != nil || len(ids) == 0 {
		return nil, false, err
	}
	more := len(ids) > n
	if more {
		ids = ids[:n]
	}
	ms, err := s.db.Message.Query().Where(message.IDIn(ids...), readableBy(q.userID)).
		Order(ent.Desc(message.FieldID)).All(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("load found messages: %w", err)
	}
	return ms, more, nil
}

// CountSearch is the number of messages matching q.
func (s *Service) CountSearch(ctx context.Context, q *SearchQuery) (int, error) {
	ids, err := s.searchIDs(ctx, q, 0, -1)
	return len(ids), err
}

// searchIDs returns the ids of up to limit (-1: all) messages matching q
// older than before (0: any), newest first: candidates from the index in
// batches, each kept when its text contains the query.
func (s *Service) searchIDs(ctx context.Context, q *SearchQuery, before, limit int) ([]int, error) {
	var out []int
	batch := 64
	if limit > 0 {
		batch = max(batch, limit+limit/4)
	}
	d, err := s.sqlDialect(ctx)
	if err != nil {
		return nil, err
	}
	for limit < 0 || len(out) < limit {
		query, args := q.candidates(d, before, batch)
		rows, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("search messages: %w", err)
		}
		got := 0
		for rows.Next() {
			var id int
			var body, filename string
			if err := rows.Scan(&id, &body, &filename); err != nil {
				rows.Close()
				return nil, fmt.Errorf("search messages: %w", err)
			}
			got++
			before = id
			if (search.Contains(body, q.text) || search.Contains(filename, q.text)) && (limit < 0 || len(out) < limit) {
				out = append(out, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("search messages: %w", err)
		}
		if got < batch {
			break
		}
		batch = min(batch*4, 4096)
	}
	return out, nil
}

// candidates is the query for up to limit messages older than before the
// viewer may read that hold all of q's probe grams, newest first, with
// their texts. It starts from the viewer's memberships (the index
// memberships(user_id, left_at)); per room, each gram is one range of
// message_grams' key (room_id, gram, message_id); a message is read by its
// id only once all its grams matched.
//
// On MariaDB the join order is fixed (STRAIGHT_JOIN): left to choose, the
// optimizer walks messages newest first by primary key to save the sort,
// probing the index for each, which reads every message of the database
// when the query is rare.
func (q *SearchQuery) candidates(d string, before, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT ")
	if d == dialect.MySQL {
		b.WriteString("STRAIGHT_JOIN ")
	}
	b.WriteString("g0.message_id, m.body, COALESCE(a.filename, '')\nFROM memberships mb\n")
	for i, g := range q.grams {
		gi := "g" + strconv.Itoa(i)
		if i == 0 {
			fmt.Fprintf(&b, "JOIN %s g0 ON g0.room_id = mb.room_id AND g0.gram = %d\n", search.Table, g)
			continue
		}
		fmt.Fprintf(&b, "JOIN %s %s ON %s.room_id = mb.room_id AND %s.gram = %d AND %s.message_id = g0.message_id\n", search.Table, gi, gi, gi, g, gi)
	}
	b.WriteString(`JOIN messages m ON m.id = g0.message_id
LEFT JOIN attachments a ON a.id = m.attachment_id
WHERE mb.user_id = ? AND mb.left_at IS NULL AND m.seq > mb.joined_seq AND m.deleted_at IS NULL AND m.kind <> 'SYSTEM'`)
	args := []any{q.userID}
	if q.roomID != nil {
		b.WriteString(" AND mb.room_id = ?")
		args = append(args, *q.roomID)
	}
	if before > 0 {
		b.WriteString(" AND g0.message_id < ?")
		args = append(args, before)
	}
	b.WriteString("\nORDER BY g0.message_id DESC LIMIT ?")
	args = append(args, limit)
	return b.String(), args
}
