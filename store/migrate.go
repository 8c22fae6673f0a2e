package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"billing-api/server/clock"
	"billing-api/store/migrations"
)

// migrationLockID serialises concurrent replicas migrating one PostgreSQL.
const migrationLockID = 7_140_318_665

// Migrate brings the schema to the newest version: it applies, in name
// order, every migration of store/migrations the database has not applied.
// It is safe to run from several replicas at once: PostgreSQL takes an
// advisory lock, SQLite an immediate (writer) transaction. Each run commits
// as one transaction, so a failure leaves the schema where it was. Then it
// applies River's migrations (see migrateRiver).
//
// With Config.DirectURL it connects there for the migrations (and closes
// that connection after): a migration is long, holds locks, and is no work
// to put through a transaction pooler.
func (db *DB) Migrate(ctx context.Context) error {
	if db.direct.URL != "" {
		direct, err := Open(ctx, db.direct)
		if err != nil {
			return fmt.Errorf("the direct database URL (for migrations): %w", err)
		}
		defer func() { _ = direct.Close() }()
		return direct.Migrate(ctx)
	}
	if err := db.migrate(ctx, ""); err != nil {
		return err
	}
	return db.migrateRiver(ctx)
}

// migrate applies the migrations up to and including upTo ("" = all).
func (db *DB) migrate(ctx context.Context, upTo string) error {
	d := migrations.DDL{Postgres: db.dialect == Postgres}
	return db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if db.dialect == Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockID).Error; err != nil {
				return classify(err)
			}
		}
		// Inside the lock: concurrent CREATE TABLE IF NOT EXISTS can collide.
		if err := migrations.Exec(tx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS schema_versions (
			id TEXT PRIMARY KEY,
			applied_at %s NOT NULL)`, d.Time())); err != nil {
			return classify(err)
		}
		if err := adoptLegacyVersions(tx); err != nil {
			return err
		}
		var applied []string
		if err := tx.Raw("SELECT id FROM schema_versions").Scan(&applied).Error; err != nil {
			return classify(err)
		}
		for _, m := range migrations.All() {
			if upTo != "" && m.ID > upTo {
				break
			}
			if slices.Contains(applied, m.ID) {
				continue
			}
			if err := m.Up(tx, d); err != nil {
				return fmt.Errorf("migration %s: %w", m.ID, err)
			}
			if err := tx.Exec("INSERT INTO schema_versions (id, applied_at) VALUES (?, ?)", m.ID, clock.System()).Error; err != nil {
				return classify(err)
			}
		}
		return nil
	})
}

// adoptLegacyVersions carries databases migrated when versions were a
// counter (table schema_migrations) over to the named versions.
func adoptLegacyVersions(tx *gorm.DB) error {
	if !tx.Migrator().HasTable("schema_migrations") {
		return nil
	}
	var rows []struct {
		Version   int
		AppliedAt time.Time
	}
	if err := tx.Raw("SELECT version, applied_at FROM schema_migrations").Scan(&rows).Error; err != nil {
		return classify(err)
	}
	byLegacy := map[int]string{}
	for _, m := range migrations.All() {
		if m.Legacy != 0 {
			byLegacy[m.Legacy] = m.ID
		}
	}
	for _, r := range rows {
		id, ok := byLegacy[r.Version]
		if !ok {
			return fmt.Errorf("the database has schema version %d, which this build does not know", r.Version)
		}
		if err := tx.Exec("INSERT INTO schema_versions (id, applied_at) VALUES (?, ?)", id, r.AppliedAt.UTC()).Error; err != nil {
			return classify(err)
		}
	}
	return classify(tx.Exec("DROP TABLE schema_migrations").Error)
}

// SchemaVersion is the newest applied migration ("" when none is); call it
// after Migrate, which creates the bookkeeping table.
func (db *DB) SchemaVersion(ctx context.Context) (string, error) {
	var v *string
	if err := db.gdb.WithContext(ctx).Raw("SELECT MAX(id) FROM schema_versions").Scan(&v).Error; err != nil {
		return "", classify(err)
	}
	if v == nil {
		return "", nil
	}
	return *v, nil
}

// LatestSchemaVersion is the version Migrate brings a database to.
func LatestSchemaVersion() string {
	all := migrations.All()
	return all[len(all)-1].ID
}
