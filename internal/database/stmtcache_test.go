package database_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/chatty/chatty/internal/database/dbtest"
)

// On SQLite the statements run again and again are prepared once and
// reused (stmtcache.go): each run binds its own arguments and reads its
// own rows, in and out of transactions, after a schema change too, and
// with a single connection (held by the transaction that runs them) no
// statement waits for another.
func TestPreparedStatementsOnSQLite(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t, "sqlite")
	db.SQL.SetMaxOpenConns(1)
	c := db.Client
	if _, err := c.ExecContext(ctx, `CREATE TABLE stmt_test (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const (
		insert = `INSERT INTO stmt_test (id, v) VALUES (?, ?)`
		read   = `SELECT v FROM stmt_test WHERE id = ?`
	)
	for i := range 5 { // outside a transaction
		if _, err := c.ExecContext(ctx, insert, i, fmt.Sprint("value ", i)); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 3 { // in transactions, on the one connection
		tx, err := c.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			id := 100*(round+1) + i
			if _, err := tx.ExecContext(ctx, insert, id, fmt.Sprint("tx value ", id)); err != nil {
				t.Fatal(err)
			}
			if v := queryString(t, tx.QueryContext, read, id); v != fmt.Sprint("tx value ", id) {
				t.Fatalf("row %d in its transaction: %q", id, v)
			}
		}
		if round == 1 {
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ExecContext(ctx, `ALTER TABLE stmt_test ADD COLUMN w TEXT`); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if v := queryString(t, c.QueryContext, read, i); v != fmt.Sprint("value ", i) {
			t.Fatalf("row %d: %q", i, v)
		}
		if v := queryString(t, c.QueryContext, read, 300+i); v != fmt.Sprint("tx value ", 300+i) {
			t.Fatalf("row %d: %q", 300+i, v)
		}
	}
	var n int
	rows, err := c.QueryContext(ctx, `SELECT COUNT(*) FROM stmt_test WHERE id BETWEEN 200 AND 299`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	if n != 0 {
		t.Fatalf("%d rows of a rolled back transaction", n)
	}
}

// queryString runs query (one row, one text column) with arg.
func queryString(t *testing.T, query func(context.Context, string, ...any) (*sql.Rows, error), q string, arg any) string {
	t.Helper()
	rows, err := query(context.Background(), q, arg)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("%s (%v): no row: %v", q, arg, rows.Err())
	}
	var v string
	if err := rows.Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

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
