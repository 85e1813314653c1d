package database

import (
	"context"
	"fmt"
)

// backfill brings rows stored by an older chatty up to what the current
// schema expects; each step is idempotent, so it runs on every start.
//
// Revisions (the rooms' change feeds): messages stored before the feed
// existed get revision = seq (nothing was edited or deleted before it, so
// their adding is their latest change), and each such room the revision of
// its newest message. Old rooms then replay from any cursor like new
// ones. Stop every instance of the older version before the upgrade: a
// message one of them stores afterwards has no revision.
func (d *DB) backfill(ctx context.Context) error {
	steps := []string{
		`UPDATE messages SET revision = seq, last_change = 'ADDED' WHERE revision IS NULL`,
		`UPDATE rooms SET revision = last_seq WHERE revision < last_seq`,
	}
	for _, q := range steps {
		if _, err := d.SQL.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("backfill (%s): %w", q, err)
		}
	}
	return nil
}
