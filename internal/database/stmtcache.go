package database

import (
	"context"
	"database/sql"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"
)

// On SQLite a statement's text is compiled (sqlite3_prepare) every time it
// runs unless it is a prepared statement: for the statements of a send
// (the seq, the INSERT … RETURNING with its subqueries, the
// notifications) that compiling cost more CPU than running them.
// stmtCache keeps the statements the server runs again and again
// prepared, on each connection of the pool (database/sql's *sql.Stmt),
// and the driver (countingDriver, countingTx) runs them through it. A text
// is prepared the second time it is seen, so a one-off text (a query with
// an IN list of its own length) costs no more than before; at most
// maxCachedStmts texts are kept. MySQL/MariaDB has none: there a
// statement runs in one round trip as text (a server-side prepared
// statement costs two), and its sends are scripts (scripts.go).
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	seen  map[string]struct{} // texts run once since seen was last cleared
}

const (
	maxCachedStmts = 128
	maxSeenStmts   = 4096
	// prepareWait bounds the wait for a free connection to prepare a text
	// on (when none was idle a moment before): one that does not get one
	// (every connection busy, maybe by transactions that wait for this
	// one) runs as text this time.
	prepareWait = 50 * time.Millisecond
)

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, seen: map[string]struct{}{}}
}

// get returns query's prepared statement, or nil when query is to run as
// text this time.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	if st, ok := c.stmts[query]; ok {
		c.mu.Unlock()
		return st
	}
	if len(c.stmts) >= maxCachedStmts {
		c.mu.Unlock()
		return nil
	}
	if _, ok := c.seen[query]; !ok {
		if len(c.seen) >= maxSeenStmts {
			clear(c.seen)
		}
		c.seen[query] = struct{}{}
		c.mu.Unlock()
		return nil
	}
	if st := c.db.Stats(); st.Idle == 0 && st.MaxOpenConnections > 0 && st.InUse >= st.MaxOpenConnections {
		// No connection to prepare it on now (the caller may hold the
		// last one, in a transaction): as text, and again next time.
		c.mu.Unlock()
		return nil
	}
	delete(c.seen, query)
	c.mu.Unlock()
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), prepareWait)
	st, err := c.db.PrepareContext(pctx, query)
	cancel()
	if err != nil {
		return nil // runs as text; a syntax error is reported by that run
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[query]; ok { // prepared meanwhile by another caller
		_ = st.Close()
		return prev
	}
	c.stmts[query] = st
	return st
}

// sqlTx is the *sql.Tx under an ent transaction, nil if it has none.
func sqlTx(tx any) *sql.Tx {
	if t, ok := tx.(*entsql.Tx); ok {
		if s, ok := t.Tx.(*sql.Tx); ok {
			return s
		}
	}
	return nil
}
