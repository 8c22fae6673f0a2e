package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// A migration moves the schema one version forward. DDL is written by hand
// per dialect (through ddl's type names) so the schema is exactly what we
// mean on both engines: partial unique indexes, foreign keys, JSONB.
type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB, d ddl) error
}

// migrations is the schema history. Never edit an applied migration; add a
// new one.
var migrations = []migration{
	{1, "tenants, namespaces and API tokens", migrateTenancy},
	{2, "plans, quota objects and usage gauges", migrateQuotas},
}

// ddl spells column types for the dialect.
type ddl struct{ dialect Dialect }

func (d ddl) UUID() string {
	if d.dialect == Postgres {
		return "UUID"
	}
	return "TEXT"
}

func (d ddl) Time() string {
	if d.dialect == Postgres {
		return "TIMESTAMPTZ"
	}
	return "DATETIME"
}

func (d ddl) Float() string { return "DOUBLE PRECISION" }

func (d ddl) JSON() string {
	if d.dialect == Postgres {
		return "JSONB"
	}
	return "TEXT"
}

func exec(tx *gorm.DB, statements ...string) error {
	for _, s := range statements {
		if err := tx.Exec(s).Error; err != nil {
			return fmt.Errorf("%w\n%s", err, s)
		}
	}
	return nil
}

// migrationLockID serialises concurrent replicas migrating one PostgreSQL.
const migrationLockID = 7_140_318_665

// Migrate brings the schema to the newest version. It is safe to run from
// several replicas at once: PostgreSQL takes an advisory lock, SQLite an
// immediate (writer) transaction. Each run of pending migrations commits as
// one transaction, so a failure leaves the schema where it was.
func (db *DB) Migrate(ctx context.Context) error {
	d := ddl{db.dialect}
	return db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if db.dialect == Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockID).Error; err != nil {
				return classify(err)
			}
		}
		// Inside the lock: concurrent CREATE TABLE IF NOT EXISTS can collide.
		if err := exec(tx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			name TEXT NOT NULL,
			applied_at %s NOT NULL)`, d.Time())); err != nil {
			return classify(err)
		}
		var applied []int
		if err := tx.Raw("SELECT version FROM schema_migrations").Scan(&applied).Error; err != nil {
			return classify(err)
		}
		done := map[int]bool{}
		for _, v := range applied {
			done[v] = true
		}
		for _, m := range migrations {
			if done[m.version] {
				continue
			}
			if err := m.up(tx, d); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			if err := tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.version, m.name, time.Now().UTC()).Error; err != nil {
				return classify(err)
			}
		}
		return nil
	})
}

// SchemaVersion is the newest applied migration (0 when none is); call it
// after Migrate, which creates the bookkeeping table.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v *int
	if err := db.gdb.WithContext(ctx).Raw("SELECT MAX(version) FROM schema_migrations").Scan(&v).Error; err != nil {
		return 0, classify(err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// LatestSchemaVersion is the version Migrate brings a database to.
func LatestSchemaVersion() int { return migrations[len(migrations)-1].version }

func migrateTenancy(tx *gorm.DB, d ddl) error {
	return exec(tx,
		fmt.Sprintf(`CREATE TABLE tenants (
			id %[1]s PRIMARY KEY,
			name TEXT NOT NULL UNIQUE,
			display_name TEXT NOT NULL,
			created_at %[2]s NOT NULL)`, d.UUID(), d.Time()),
		fmt.Sprintf(`CREATE TABLE namespaces (
			tenant_id %[1]s NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
			name TEXT NOT NULL,
			created_at %[2]s NOT NULL,
			PRIMARY KEY (tenant_id, name))`, d.UUID(), d.Time()),
		fmt.Sprintf(`CREATE TABLE api_tokens (
			id %[1]s PRIMARY KEY,
			tenant_id %[1]s NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
			name TEXT NOT NULL,
			role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
			namespaces %[3]s NOT NULL,
			secret_hash TEXT NOT NULL UNIQUE,
			prefix TEXT NOT NULL,
			created_at %[2]s NOT NULL,
			revoked_at %[2]s)`, d.UUID(), d.Time(), d.JSON()),
		`CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, created_at)`,
	)
}

func migrateQuotas(tx *gorm.DB, d ddl) error {
	return exec(tx,
		`ALTER TABLE tenants ADD COLUMN plan_name TEXT NOT NULL DEFAULT 'FREE'`,
		fmt.Sprintf(`CREATE TABLE quota_objects (
			uid %[1]s PRIMARY KEY,
			tenant_id %[1]s NOT NULL,
			namespace TEXT NOT NULL,
			name TEXT NOT NULL,
			labels %[3]s,
			annotations %[3]s,
			description TEXT,
			disabled BOOLEAN NOT NULL,
			spec %[3]s NOT NULL,
			creator_id TEXT NOT NULL,
			creator_class TEXT NOT NULL,
			created_at %[2]s NOT NULL,
			updated_at %[2]s NOT NULL,
			UNIQUE (tenant_id, namespace, name),
			FOREIGN KEY (tenant_id, namespace) REFERENCES namespaces (tenant_id, name) ON DELETE CASCADE)`,
			d.UUID(), d.Time(), d.JSON()),
		fmt.Sprintf(`CREATE TABLE object_counts (
			tenant_id %[1]s NOT NULL,
			namespace TEXT NOT NULL,
			kind TEXT NOT NULL,
			count BIGINT NOT NULL CHECK (count >= 0),
			observed_at %[2]s NOT NULL,
			PRIMARY KEY (tenant_id, namespace, kind),
			FOREIGN KEY (tenant_id, namespace) REFERENCES namespaces (tenant_id, name) ON DELETE CASCADE)`,
			d.UUID(), d.Time()),
		fmt.Sprintf(`CREATE TABLE resource_amounts (
			tenant_id %[1]s NOT NULL,
			namespace TEXT NOT NULL,
			resource TEXT NOT NULL,
			amount %[3]s NOT NULL CHECK (amount >= 0),
			observed_at %[2]s NOT NULL,
			PRIMARY KEY (tenant_id, namespace, resource),
			FOREIGN KEY (tenant_id, namespace) REFERENCES namespaces (tenant_id, name) ON DELETE CASCADE)`,
			d.UUID(), d.Time(), d.Float()),
	)
}
