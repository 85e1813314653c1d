package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Scripts runs several statements of chatty's own in one round trip, on
// MySQL/MariaDB: the hot write paths (a send: BEGIN, the seq, the INSERT,
// the recipients read, then the grams, the notifications, COMMIT and the
// totals read) cost two round trips instead of eight.
//
// It is a pool of its own, opened with the driver's multiStatements: the
// main pool (ent's) keeps it off, so a query that someone builds from
// text can never stack a second statement there. A script is fixed SQL
// text with ? placeholders, its arguments interpolated by the driver
// (interpolateParams, escaped as every statement's are): nothing a user
// sends becomes SQL text. SQLite has no Scripts (nil): it runs in
// process, where a statement is a function call, not a round trip.
type Scripts struct {
	pool *sql.DB
	n    *atomic.Int64 // the DB's statement counter: one per round trip
}

// openScripts opens the scripts pool on dsn (the main pool's, lock
// timeouts included) with at most maxOpen connections.
func openScripts(dsn string, maxOpen, maxIdle int, n *atomic.Int64) (*Scripts, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MultiStatements = true
	cfg.InterpolateParams = true // a script with arguments must not be prepared server-side
	pool, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	pool.SetMaxOpenConns(maxOpen)
	pool.SetMaxIdleConns(min(maxIdle, maxOpen))
	pool.SetConnMaxLifetime(30 * time.Minute)
	return &Scripts{pool: pool, n: n}, nil
}

// Close closes the pool.
func (s *Scripts) Close() error {
	if s == nil {
		return nil
	}
	return s.pool.Close()
}

// Conn takes a connection of the pool for a script or a transaction made
// of scripts. Release it with Release, or Discard it when a transaction
// it began may still be open.
func (s *Scripts) Conn(ctx context.Context) (*ScriptConn, error) {
	c, err := s.pool.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("script connection: %w", err)
	}
	return &ScriptConn{c: c, n: s.n}, nil
}

// ScriptConn is one connection of Scripts.
type ScriptConn struct {
	c *sql.Conn
	n *atomic.Int64
}

// Query sends script, one or more statements separated by ";", in one
// round trip. The rows start at the first statement that returns rows
// (those that return none are skipped, here and by NextResultSet); an
// error of any statement ends the script there (the server runs none
// after it) and comes back from Query, Next or NextResultSet when the
// reading reaches it.
func (c *ScriptConn) Query(ctx context.Context, script string, args ...any) (*sql.Rows, error) {
	c.n.Add(1)
	return c.c.QueryContext(ctx, script, args...)
}

// Release returns the connection to the pool: only with no transaction
// open on it.
func (c *ScriptConn) Release() { _ = c.c.Close() }

// Discard closes the connection instead of returning it to the pool: the
// server rolls back whatever transaction was open on it.
func (c *ScriptConn) Discard() {
	_ = c.c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.c.Close()
}

// Rollback rolls back the transaction open on the connection and returns
// it to the pool; if that fails, the connection is discarded (which rolls
// back too).
func (c *ScriptConn) Rollback() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.n.Add(1)
	if _, err := c.c.ExecContext(ctx, "ROLLBACK"); err != nil {
		c.Discard()
		return
	}
	c.Release()
}

// IsDuplicate reports whether err is MySQL's duplicate key error (1062).
func IsDuplicate(err error) bool {
	var my *mysql.MySQLError
	return errors.As(err, &my) && my.Number == 1062
}
