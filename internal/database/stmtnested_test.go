package database_test

import (
	"context"
	"testing"

	"github.com/chatty/chatty/internal/database/dbtest"
)

// In a transaction, a query run again while the rows of its first run
// are still open (the same text, prepared: one statement on the
// transaction's connection) reads its own rows, and the first run goes on
// reading its own.
func TestPreparedQueryNestedInATransaction(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t, "sqlite")
	c := db.Client
	if _, err := c.ExecContext(ctx, `CREATE TABLE nest_test (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.ExecContext(ctx, `INSERT INTO nest_test (id, v) VALUES (?, ?)`, i, "x"); err != nil {
			t.Fatal(err)
		}
	}
	const q = `SELECT id FROM nest_test WHERE id >= ? ORDER BY id`
	for range 3 { // seen, then prepared
		rows, err := c.QueryContext(ctx, q, 0)
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	tx, err := c.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	outer, err := tx.QueryContext(ctx, q, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for outer.Next() {
		var id int
		if err := outer.Scan(&id); err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
		inner, err := tx.QueryContext(ctx, q, 2) // the same text, while outer is open
		if err != nil {
			t.Fatalf("inner query while the outer one is open: %v", err)
		}
		n := 0
		for inner.Next() {
			n++
		}
		if err := inner.Err(); err != nil {
			t.Fatalf("inner: %v", err)
		}
		inner.Close()
		if n != 1 {
			t.Fatalf("inner query read %d rows, want 1", n)
		}
	}
	if err := outer.Err(); err != nil {
		t.Fatalf("outer: %v", err)
	}
	outer.Close()
	if len(got) != 3 {
		t.Fatalf("outer query read %v, want [0 1 2]", got)
	}
}
