package database

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// countingDriver counts the statements the server sends to the database,
// BEGIN, COMMIT and ROLLBACK included: each is one round trip. /metrics
// exports the count (chatty_db_statements_total), so a load test can tell
// what one request costs the database.
//
// On SQLite it also runs the statements it has seen before as prepared
// statements (stmts, see stmtcache.go).
type countingDriver struct {
	dialect.Driver
	n     *atomic.Int64
	stmts *stmtCache // nil: every statement runs as text
}

func (d countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	if st := d.stmts.get(ctx, query); st != nil {
		return execStmt(ctx, st, args, v)
	}
	return d.Driver.Exec(ctx, query, args, v)
}

func (d countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	if st := d.stmts.get(ctx, query); st != nil {
		return queryStmt(ctx, st, args, v)
	}
	return d.Driver.Query(ctx, query, args, v)
}

func (d countingDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := d.stmts.get(ctx, query); st != nil {
		d.n.Add(1)
		return st.ExecContext(ctx, args...)
	}
	drv, ok := d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("Driver.ExecContext is not supported")
	}
	d.n.Add(1)
	return drv.ExecContext(ctx, query, args...)
}

func (d countingDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := d.stmts.get(ctx, query); st != nil {
		d.n.Add(1)
		return st.QueryContext(ctx, args...)
	}
	drv, ok := d.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("Driver.QueryContext is not supported")
	}
	d.n.Add(1)
	return drv.QueryContext(ctx, query, args...)
}

func (d countingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	d.n.Add(1)
	return countingTx{tx, d.n, d.stmts, &queried{}}, nil
}

func (d countingDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	drv, ok := d.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	})
	if !ok {
		return nil, fmt.Errorf("Driver.BeginTx is not supported")
	}
	tx, err := drv.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	d.n.Add(1)
	return countingTx{tx, d.n, d.stmts, &queried{}}, nil
}

type countingTx struct {
	dialect.Tx
	n       *atomic.Int64
	stmts   *stmtCache
	queried *queried
}

// queried is the rows of the texts a transaction ran as prepared
// queries. In a transaction every statement runs on one connection, where
// a text's prepared statement is one (the driver's, on that connection):
// run again while the rows of its last run are still open (a query in the
// loop over another's rows), it would be bound anew in the middle of that
// run. So a text whose last rows are open runs as text.
type queried struct {
	mu    sync.Mutex
	texts map[string]*sql.Rows // nil: a query of it under way
}

// take reports whether query may run as its prepared statement: unless
// the rows of its last run are still open. For a query (forRows) it
// holds the text until done says how the query went.
func (q *queried) take(query string, forRows bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if rows, ok := q.texts[query]; ok && (rows == nil || open(rows)) {
		return false
	}
	if forRows {
		if q.texts == nil {
			q.texts = map[string]*sql.Rows{}
		}
		q.texts[query] = nil
	}
	return true
}

// done records the rows of query's run through its prepared statement
// (nil: it failed, nothing is open).
func (q *queried) done(query string, rows *sql.Rows) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if rows == nil {
		delete(q.texts, query)
		return
	}
	q.texts[query] = rows
}

// open reports whether rows is not closed yet (Columns fails once it is,
// after the last row or an error).
func open(rows *sql.Rows) bool {
	_, err := rows.Columns()
	return err == nil
}

// stmt returns query's prepared statement in the transaction, nil when
// it runs as text. forRows: the statement returns rows.
func (t countingTx) stmt(ctx context.Context, query string, forRows bool) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	tx := sqlTx(t.Tx)
	if tx == nil || !t.queried.take(query, forRows) {
		return nil
	}
	if st := t.stmts.get(ctx, query); st != nil {
		// Closed with the transaction; the connection's prepared
		// statement stays for the next one.
		return tx.StmtContext(ctx, st)
	}
	return nil
}

func (t countingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.n.Add(1)
	if st := t.stmt(ctx, query, false); st != nil {
		return execStmt(ctx, st, args, v)
	}
	return t.Tx.Exec(ctx, query, args, v)
}

func (t countingTx) Query(ctx context.Context, query string, args, v any) error {
	t.n.Add(1)
	if st := t.stmt(ctx, query, true); st != nil {
		err := queryStmt(ctx, st, args, v)
		var rows *sql.Rows
		if vr, ok := v.(*entsql.Rows); ok && err == nil {
			rows, _ = vr.ColumnScanner.(*sql.Rows)
		}
		t.queried.done(query, rows)
		return err
	}
	return t.Tx.Query(ctx, query, args, v)
}

func (t countingTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query, false); st != nil {
		t.n.Add(1)
		return st.ExecContext(ctx, args...)
	}
	tx, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("Tx.ExecContext is not supported")
	}
	t.n.Add(1)
	return tx.ExecContext(ctx, query, args...)
}

func (t countingTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query, true); st != nil {
		t.n.Add(1)
		rows, err := st.QueryContext(ctx, args...)
		t.queried.done(query, rows)
		return rows, err
	}
	tx, ok := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("Tx.QueryContext is not supported")
	}
	t.n.Add(1)
	return tx.QueryContext(ctx, query, args...)
}

func (t countingTx) Commit() error {
	t.n.Add(1)
	return t.Tx.Commit()
}

func (t countingTx) Rollback() error {
	t.n.Add(1)
	return t.Tx.Rollback()
}

// Statements is how many round trips this DB has made since it was
// opened: each statement of its ent client (BEGIN, COMMIT and ROLLBACK
// included) and each script of its Scripts (several statements, once).
func (d *DB) Statements() int64 {
	if d.statements == nil {
		return 0
	}
	return d.statements.Load()
}

// execStmt is ent's Exec (entsql.Conn.Exec) with a prepared statement.
func execStmt(ctx context.Context, st *sql.Stmt, args, v any) error {
	argv, err := argList(args)
	if err != nil {
		return err
	}
	res, err := st.ExecContext(ctx, argv...)
	if err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
	case *sql.Result:
		*v = res
	default:
		return fmt.Errorf("dialect/sql: invalid type %T. expect *sql.Result", v)
	}
	return nil
}

// queryStmt is ent's Query (entsql.Conn.Query) with a prepared statement.
func queryStmt(ctx context.Context, st *sql.Stmt, args, v any) error {
	vr, ok := v.(*entsql.Rows)
	if !ok {
		return fmt.Errorf("dialect/sql: invalid type %T. expect *sql.Rows", v)
	}
	argv, err := argList(args)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, argv...)
	if err != nil {
		return err
	}
	*vr = entsql.Rows{ColumnScanner: rows}
	return nil
}

// argList is ent's arguments of a statement (entsql.Conn's: a []any).
func argList(args any) ([]any, error) {
	argv, ok := args.([]any)
	if !ok {
		return nil, fmt.Errorf("dialect/sql: invalid type %T. expect []any for args", args)
	}
	return argv, nil
}
