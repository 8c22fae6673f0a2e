package store

import "context"

// MigrateTo applies the migrations up to and including id, to build a
// database as an older release left it.
func (db *DB) MigrateTo(ctx context.Context, id string) error { return db.migrate(ctx, id) }

// Exec runs a statement outside any repository, for tests that shape a
// database by hand.
func (db *DB) Exec(ctx context.Context, sql string, args ...any) error {
	return classify(db.gdb.WithContext(ctx).Exec(sql, args...).Error)
}

// DescribedNotPrepared is describedNotPrepared, for its test.
var DescribedNotPrepared = describedNotPrepared
