// Package database opens chatty's ent client on SQLite or MySQL/MariaDB and
// migrates the schema.
package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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
	// Scripts: several statements in one round trip (MySQL; nil on
	// SQLite), see scripts.go.
	Scripts *Scripts

	statements *atomic.Int64 // see Statements
}

// Option changes how Open builds the ent driver.
type Option func(*options)

type options struct {
	wrap func(dialect.Driver) dialect.Driver
	n    *atomic.Int64
}

// WithStatementCounter counts the statements (round trips) into n, as
// Statements does: every round trip, ent's and the scripts' (a test's
// statement counter).
func WithStatementCounter(n *atomic.Int64) Option {
	return func(o *options) { o.n = n }
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
		dsn  string // MySQL's, for the scripts pool
		err  error
	)
	lockTimeout := db.LockTimeout
	if lockTimeout <= 0 {
		lockTimeout = DefaultLockTimeout
	}
	maxOpen := db.MaxOpenConns
	switch db.Driver {
	case "sqlite":
		pool, err = openSQLite(db.DSN, lockTimeout)
		dia = dialect.SQLite
		if maxOpen == 0 {
			maxOpen = 8
		}
	case "mysql":
		if dsn, err = mysqlLockTimeouts(db.DSN, lockTimeout); err == nil {
			pool, err = sql.Open("mysql", dsn)
		}
		dia = dialect.MySQL
		if maxOpen == 0 {
			maxOpen = 32
		}
		if err == nil {
			pool.SetConnMaxLifetime(30 * time.Minute)
		}
	default:
		return nil, fmt.Errorf("unknown database driver %q", db.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", db.Driver, err)
	}
	maxIdle := db.MaxIdleConns
	if maxIdle == 0 {
		maxIdle = max(1, maxOpen/2)
	}
	pool.SetMaxOpenConns(maxOpen)
	pool.SetMaxIdleConns(min(maxIdle, maxOpen))
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", db.Driver, err)
	}
	n := o.n
	if n == nil {
		n = new(atomic.Int64)
	}
	var scripts *Scripts
	if dia == dialect.MySQL {
		// As many as the main pool: a send holds one of each at most.
		if scripts, err = openScripts(dsn, maxOpen, maxIdle, n); err != nil {
			pool.Close()
			return nil, fmt.Errorf("open %s: %w", db.Driver, err)
		}
	}
	var stmts *stmtCache
	if dia == dialect.SQLite {
		stmts = newStmtCache(pool)
	}
	var drv dialect.Driver = countingDriver{entsql.OpenDB(dia, pool), n, stmts}
	if o.wrap != nil {
		drv = o.wrap(drv)
	}
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: pool, Dialect: dia, Scripts: scripts, statements: n}, nil
}

// DefaultLockTimeout bounds one wait for a lock when the configuration
// does not say.
const DefaultLockTimeout = 5 * time.Second

// mysqlLockTimeouts sets the session's lock waits, row locks
// (innodb_lock_wait_timeout) and table and metadata locks
// (lock_wait_timeout), to d in whole seconds (at least 1), unless the DSN
// sets them itself. Past it the statement fails with error 1205 and the
// request with SERVICE_UNAVAILABLE, instead of the server's 50 s (rows)
// and a year (tables).
func mysqlLockTimeouts(dsn string, d time.Duration) (string, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	secs := strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
	for _, v := range []string{"innodb_lock_wait_timeout", "lock_wait_timeout"} {
		if _, ok := cfg.Params[v]; !ok {
			cfg.Params[v] = secs
		}
	}
	return cfg.FormatDSN(), nil
}

// openSQLite opens the embedded database at path, creating its directory.
// In WAL mode readers never wait for the writer; transactions begin
// IMMEDIATE so writers queue on the busy timeout (lockTimeout) instead of
// failing with SQLITE_BUSY when a read transaction would have to upgrade.
// Statement journals and temporary tables stay in memory (temp_store): a
// send's grams INSERT journals a page per gram, past the 64 KB SQLite
// keeps in memory, and wrote a temporary file per send otherwise. Pages
// are read with a pread each, not through a memory map (mmap_size): an I/O
// error on a mapped page is a fault that ends the process, not an error
// (it saved about 70 µs of a send's syscalls).
func openSQLite(path string, lockTimeout time.Duration) (*sql.DB, error) {
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	busy := fmt.Sprintf("busy_timeout(%d)", lockTimeout.Milliseconds())
	for _, p := range []string{"foreign_keys(1)", busy, "journal_mode(WAL)", "synchronous(NORMAL)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_time_format", "sqlite")
	q.Set("_txlock", "immediate")
	return sql.Open("sqlite", "file:"+path+"?"+q.Encode())
}

// Unavailable reports whether err means the database did not get to the
// work in time: the request's deadline passed, a lock wait timed out, a
// deadlock was broken, SQLite stayed busy, or the connection to the
// database was lost or refused. Trying again later may
// succeed; the client is told SERVICE_UNAVAILABLE.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	// Out of time, or the connection to the database lost or refused.
	var netErr *net.OpError
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, mysql.ErrInvalidConn) || errors.As(err, &netErr) {
		return true
	}
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		switch my.Number {
		case 1205, // ER_LOCK_WAIT_TIMEOUT
			1213, // ER_LOCK_DEADLOCK
			1969, // ER_STATEMENT_TIMEOUT (MariaDB's max_statement_time)
			3024: // ER_QUERY_TIMEOUT (MySQL's max_execution_time)
			return true
		}
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// migrateMu serialises migrations in one process: ent's schema
// description (package-level tables) is not safe for concurrent Create
// calls, which tests with several databases make.
var migrateMu sync.Mutex

// Migrate brings the schema up to date. It is safe to run on every start,
// and on MySQL/MariaDB by several instances starting at once on one
// database: they take turns (see migrationLock).
func (d *DB) Migrate(ctx context.Context) error {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	unlock, err := d.migrationLock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := d.Client.Schema.Create(ctx, schema.WithApplyHook(), migrate.WithDropIndex(true)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := d.upgrade(ctx); err != nil {
		return err
	}
	if err := d.backfill(ctx); err != nil {
		return err
	}
	if err := d.buildSearchIndex(ctx); err != nil {
		return err
	}
	return d.fillUnreadCounters(ctx)
}

// migrationWait bounds how long an instance waits for another's migration.
const migrationWait = 10 * time.Minute

// migrationLock makes instances sharing a MySQL/MariaDB database migrate
// one at a time: two starting together on an empty database would both
// create the tables, and the second fails ("table already exists"). It
// takes a named lock (GET_LOCK, held by one connection, released when
// that connection ends, so a crashed instance does not leave it taken),
// named after the database, so deployments on one server don't wait for
// each other. SQLite is one process's database: nothing to take.
func (d *DB) migrationLock(ctx context.Context) (unlock func(), err error) {
	if d.Dialect != dialect.MySQL {
		return func() {}, nil
	}
	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	var got sql.NullInt64
	err = conn.QueryRowContext(ctx, "SELECT GET_LOCK(CONCAT('chatty-migrate:', DATABASE()), ?)", int(migrationWait.Seconds())).Scan(&got)
	if err == nil && got.Int64 != 1 {
		err = fmt.Errorf("another instance has been migrating this database for %v", migrationWait)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	return func() {
		// Released with the connection anyway if this fails.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(CONCAT('chatty-migrate:', DATABASE()))")
		conn.Close()
	}, nil
}

// Ping reports whether the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.SQL.PingContext(ctx) }

// Close closes the client and the pools.
func (d *DB) Close() error {
	err := d.Client.Close()
	if serr := d.Scripts.Close(); err == nil {
		err = serr
	}
	return err
}

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
