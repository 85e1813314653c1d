package database_test

import (
	"context"
	"os"
	"testing"

	"github.com/chatty/chatty/internal/database/dbtest"
)

// Scripts run several statements in one round trip, their arguments
// escaped: a value that looks like SQL is stored as it is, and runs
// nothing. The main pool (ent's) refuses several statements at once.
// SQLite has no scripts.
func TestScripts(t *testing.T) {
	if os.Getenv("CHATTY_TEST_MYSQL_DSN") == "" {
		if db := dbtest.Open(t, "sqlite"); db.Scripts != nil {
			t.Fatal("SQLite has scripts")
		}
		t.Skip("CHATTY_TEST_MYSQL_DSN is not set")
	}
	ctx := context.Background()
	db := dbtest.Open(t, "mysql")
	if db.Scripts == nil {
		t.Fatal("MariaDB has no scripts")
	}
	if _, err := db.SQL.ExecContext(ctx, `CREATE TABLE script_test (id INT PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	c, err := db.Scripts.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evil := "x'); DROP TABLE script_test; -- \\'"
	before := db.Statements()
	rows, err := c.Query(ctx, `START TRANSACTION;
INSERT INTO script_test (id, v) VALUES (1, ?), (2, ?);
COMMIT;
SELECT v FROM script_test ORDER BY id`, evil, "plain")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	c.Release()
	if len(got) != 2 || got[0] != evil || got[1] != "plain" {
		t.Fatalf("stored %q, want %q and \"plain\"", got, evil)
	}
	if n := db.Statements() - before; n != 1 {
		t.Fatalf("the script counted %d round trips, want 1", n)
	}
	if _, err := db.SQL.ExecContext(ctx, `SELECT 1; DROP TABLE script_test`); err == nil {
		t.Fatal("the main pool ran two statements at once")
	}
	var n int
	if err := db.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM script_test`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("script_test: %d rows, %v", n, err)
	}
}
