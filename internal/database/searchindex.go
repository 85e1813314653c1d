package database

import (
	"context"
	"database/sql"
	"fmt"

	"entgo.io/ent/dialect"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/internal/search"
)

// The message search index (internal/search): the table message_grams,
// kept by internal/chat in the transaction that stores, edits or deletes
// a message, and built here for the messages stored before it existed.
// The table is not an ent entity (a three-integer key and nothing else,
// written only as bulk statements), so Migrate creates it itself.

// searchIndexDDL creates the index's tables. message_grams clusters on its
// key (WITHOUT ROWID on SQLite, InnoDB's primary key on MariaDB): the
// postings of a gram in a room are one contiguous range, newest message
// last. message_grams_built records how far the build of the existing
// messages got (one row; done = 1 once it finished).
func searchIndexDDL(d string) []string {
	if d == dialect.MySQL {
		return []string{
			`CREATE TABLE IF NOT EXISTS message_grams (room_id BIGINT NOT NULL, gram BIGINT NOT NULL, message_id BIGINT NOT NULL,
  PRIMARY KEY (room_id, gram, message_id)) ENGINE=InnoDB`,
			`CREATE TABLE IF NOT EXISTS message_grams_built (id INT NOT NULL PRIMARY KEY, upto BIGINT NOT NULL, done TINYINT NOT NULL) ENGINE=InnoDB`,
		}
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS message_grams (room_id INTEGER NOT NULL, gram INTEGER NOT NULL, message_id INTEGER NOT NULL,
  PRIMARY KEY (room_id, gram, message_id)) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS message_grams_built (id INTEGER NOT NULL PRIMARY KEY, upto INTEGER NOT NULL, done INTEGER NOT NULL)`,
	}
}

// buildBatch is how many messages one step of the build reads.
const buildBatch = 1000

// buildSearchIndex creates the index and indexes every message stored
// before it existed (not SYSTEM, not deleted), in id order, a batch at a
// time, recording its progress: a start interrupted halfway resumes where
// it stopped, and once done it costs one small read. Messages stored by
// this version are indexed as they are stored; inserting a gram that is
// there already is skipped, so two instances building at once agree.
// Stop instances of older versions before the upgrade: a message one of
// them stores afterwards is not indexed.
func (d *DB) buildSearchIndex(ctx context.Context) error {
	for _, q := range searchIndexDDL(d.Dialect) {
		if _, err := d.SQL.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create search index: %w", err)
		}
	}
	var upto int64
	var done bool
	err := d.SQL.QueryRowContext(ctx, `SELECT upto, done FROM message_grams_built WHERE id = 1`).Scan(&upto, &done)
	switch {
	case err == sql.ErrNoRows:
		if _, err := d.SQL.ExecContext(ctx, `INSERT INTO message_grams_built (id, upto, done) VALUES (1, 0, 0)`); err != nil {
			return fmt.Errorf("start search index build: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read search index build: %w", err)
	case done:
		return nil
	}
	var last sql.NullInt64 // the newest message when the build starts: later ones are indexed by their senders
	if err := d.SQL.QueryRowContext(ctx, `SELECT MAX(id) FROM messages`).Scan(&last); err != nil {
		return fmt.Errorf("search index build: %w", err)
	}
	for upto < last.Int64 {
		next, err := d.indexBatch(ctx, upto, last.Int64)
		if err != nil {
			return err
		}
		upto = next
		if _, err := d.SQL.ExecContext(ctx, `UPDATE message_grams_built SET upto = ? WHERE id = 1`, upto); err != nil {
			return fmt.Errorf("record search index build: %w", err)
		}
	}
	if _, err := d.SQL.ExecContext(ctx, `UPDATE message_grams_built SET done = 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("finish search index build: %w", err)
	}
	return nil
}

// indexBatch indexes the messages with ids in (after, last], at most
// buildBatch of them, and returns the id it got to.
func (d *DB) indexBatch(ctx context.Context, after, last int64) (int64, error) {
	rows, err := d.SQL.QueryContext(ctx, `SELECT m.id, m.room_id, m.body, COALESCE(a.filename, '')
FROM messages m LEFT JOIN attachments a ON a.id = m.attachment_id
WHERE m.id > ? AND m.id <= ? AND m.kind <> 'SYSTEM' AND m.deleted_at IS NULL
ORDER BY m.id LIMIT ?`, after, last, buildBatch)
	if err != nil {
		return 0, fmt.Errorf("search index build: read messages: %w", err)
	}
	var batch []search.Row
	n := 0
	for rows.Next() {
		var id, roomID int
		var body, filename string
		if err := rows.Scan(&id, &roomID, &body, &filename); err != nil {
			rows.Close()
			return 0, fmt.Errorf("search index build: %w", err)
		}
		n++
		after = int64(id)
		batch = append(batch, search.Row{RoomID: roomID, MessageID: id, Grams: search.Grams(body, filename)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("search index build: %w", err)
	}
	if n < buildBatch {
		after = last // nothing more up to last
	}
	err = WithTx(ctx, d.Client, func(tx *ent.Tx) error {
		for _, q := range search.BulkInsertSQL(d.Dialect, batch, 5000, true) {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("search index build: %w", err)
	}
	return after, nil
}
