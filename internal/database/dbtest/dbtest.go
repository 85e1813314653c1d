// Package dbtest gives tests fresh databases: SQLite always, MariaDB/MySQL
// when CHATTY_TEST_MYSQL_DSN is set (each test gets its own database,
// dropped afterwards).
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/chatty/chatty/internal/config"
	"github.com/chatty/chatty/internal/database"
)

// Backends lists the databases tests run on.
func Backends() []string {
	b := []string{"sqlite"}
	if os.Getenv("CHATTY_TEST_MYSQL_DSN") != "" {
		b = append(b, "mysql")
	}
	return b
}

// Config returns a fresh, empty database on backend.
func Config(t testing.TB, backend string) config.Database {
	t.Helper()
	switch backend {
	case "sqlite":
		return config.Database{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "chatty.db")}
	case "mysql":
		base, err := config.ParseDatabaseURL(os.Getenv("CHATTY_TEST_MYSQL_DSN"))
		if err != nil {
			t.Fatalf("CHATTY_TEST_MYSQL_DSN: %v", err)
		}
		cfg, err := mysql.ParseDSN(base.DSN)
		if err != nil {
			t.Fatalf("CHATTY_TEST_MYSQL_DSN: %v", err)
		}
		admin, err := sql.Open("mysql", base.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		name := "chatty_test_" + hex.EncodeToString(b)
		if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
			t.Fatalf("create test database: %v", err)
		}
		t.Cleanup(func() {
			if a, err := sql.Open("mysql", base.DSN); err == nil {
				_, _ = a.Exec("DROP DATABASE IF EXISTS " + name)
				a.Close()
			}
		})
		cfg.DBName = name
		return config.Database{Driver: "mysql", DSN: cfg.FormatDSN()}
	}
	t.Fatalf("unknown backend %q", backend)
	return config.Database{}
}

// Open opens and migrates a fresh database on backend, closed when the test ends.
func Open(t testing.TB, backend string, opts ...database.Option) *database.DB {
	t.Helper()
	return OpenConfig(t, Config(t, backend), opts...)
}

// OpenConfig opens and migrates the database cfg (from Config), closed
// when the test ends: for tests that also need its address.
func OpenConfig(t testing.TB, cfg config.Database, opts ...database.Option) *database.DB {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, cfg, opts...)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.Driver, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", cfg.Driver, err)
	}
	return db
}
