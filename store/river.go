package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// riverLockID serialises replicas applying River's migrations.
const riverLockID = 7_140_318_666

// RiverDriver is River's driver for the store's engine, on the store's
// pool: database/sql on PostgreSQL (so jobs are inserted in the store's own
// transactions), River's SQLite driver on SQLite.
func (db *DB) RiverDriver() riverdriver.Driver[*sql.Tx] {
	if db.dialect == Postgres {
		return riverdatabasesql.New(db.sqlDB)
	}
	return riversqlite.New(db.sqlDB)
}

// migrateRiver applies River's own migrations (its job, leader and queue
// tables), one version per transaction: a PostgreSQL enum value added by
// one version is used by a later one, which one transaction does not
// allow. Each transaction first takes an advisory lock (PostgreSQL; SQLite
// transactions are immediate), so replicas starting together apply each
// version once; the lock is transaction-scoped, so this works through a
// transaction-pooling connection pooler too.
func (db *DB) migrateRiver(ctx context.Context) error {
	m, err := rivermigrate.New(db.RiverDriver(), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	for {
		applied := 0
		err := db.WithTx(ctx, func(ctx context.Context) error {
			if db.dialect == Postgres {
				if _, err := db.exec(ctx, "SELECT pg_advisory_xact_lock($1)", riverLockID); err != nil {
					return err
				}
			}
			tx, _ := SQLTx(ctx)
			// MigrateTx is deprecated because River's versions cannot all
			// share one transaction; here each transaction applies one.
			//lint:ignore SA1019 one version per transaction, under our lock
			res, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{MaxSteps: 1})
			if err != nil {
				return err
			}
			applied = len(res.Versions)
			return nil
		})
		if err != nil {
			return fmt.Errorf("river's migrations: %w", err)
		}
		if applied == 0 {
			return nil
		}
	}
}
