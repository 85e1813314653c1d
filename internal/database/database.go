// Package database opens chatty's ent client on SQLite or MySQL/MariaDB and
// migrates the schema.
package database

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/go-sql-driver/mysql" // driver "mysql"
	_ "modernc.org/sqlite"             // driver "sqlite"

	"github.com/chatty/chatty/ent"
	"github.com/chatty/chatty/ent/migrate"
	_ "github.com/chatty/chatty/ent/runtime" // hooks and policies of the schema
	"github.com/chatty/chatty/internal/config"
)

// DB is an open database: the ent client and the pool under it.
type DB struct {
	Client  *ent.Client
	SQL     *sql.DB
	Dialect string
}

// Option changes how Open builds the ent driver.
type Option func(*options)

type options struct {
	wrap func(dialect.Driver) dialect.Driver
}

// WithDriver wraps the ent driver, e.g. to count or log statements.
func WithDriver(wrap func(dialect.Driver) dialect.Driver) Option {
	return func(o *options) { o.wrap = wrap }
}

// Open connects to db and waits until it answers (up to ctx's deadline).
func Open(ctx context.Context, db config.Database, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var (
		pool *sql.DB
		dia  string
		err  error
	)
	switch db.Driver {
	case "sqlite":
		pool, err = openSQLite(db.DSN)
		dia = dialect.SQLite
	case "mysql":
		pool, err = sql.Open("mysql", db.DSN)
		dia = dialect.MySQL
		if err == nil {
			pool.SetMaxOpenConns(32)
			pool.SetMaxIdleConns(16)
			pool.SetConnMaxLifetime(30 * time.Minute)
		}
	default:
		return nil, fmt.Errorf("unknown database driver %q", db.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", db.Driver, err)
	}
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", db.Driver, err)
	}
	var drv dialect.Driver = entsql.OpenDB(dia, pool)
	if o.wrap != nil {
		drv = o.wrap(drv)
	}
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: pool, Dialect: dia}, nil
}

// openSQLite opens the embedded database at path, creating its directory.
// In WAL mode readers never wait for the writer; transactions begin
// IMMEDIATE so writers queue on the busy timeout instead of failing with
// SQLITE_BUSY when a read transaction would have to upgrade.
func openSQLite(path string) (*sql.DB, error) {
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_time_format", "sqlite")
	q.Set("_txlock", "immediate")
	pool, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	pool.SetMaxOpenConns(8)
	return pool, nil
}

// migrateMu serialises migrations in one process: ent's schema
// description (package-level tables) is not safe for concurrent Create
// calls, which tests with several databases make.
var migrateMu sync.Mutex

// Migrate brings the schema up to date. It is safe to run on every start.
func (d *DB) Migrate(ctx context.Context) error {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	if err := d.Client.Schema.Create(ctx, schema.WithApplyHook(), migrate.WithDropIndex(true)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.SQL.PingContext(ctx) }

// Close closes the client and the pool.
func (d *DB) Close() error { return d.Client.Close() }

// WithTx runs fn in a transaction on client: committed when fn returns nil,
// rolled back otherwise (and on panic).
func WithTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) (err error) {
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return fmt.Errorf("%w (rollback: %v)", err, rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
