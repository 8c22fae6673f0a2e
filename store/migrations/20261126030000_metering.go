package migrations

import (
	"fmt"

	"gorm.io/gorm"
)

// Metering: raw usage records (on PostgreSQL partitioned by month of
// occurrence, partitions created as months first appear, so old months can
// be detached and archived), the record ids that make ingestion idempotent,
// rollups at three levels (hour, day, month; buckets are Unix seconds), the
// months already invoiced per tenant, and the keys that sign breakdown
// queries. Every tenant table's keys lead with the tenant.
//
// The high-volume tables (record ids, records, rollups) carry no foreign key
// to tenants: a per-row check costs as much as the insert itself, and
// ingestion holds each batch's tenants FOR KEY SHARE for the whole
// transaction, which already guarantees they exist and stay. Their text key
// columns compare bytewise (KeyText).
func init() {
	register(Migration{ID: "20261126030000_metering", Up: func(tx *gorm.DB, d DDL) error {
		partition := ""
		if d.Postgres {
			partition = " PARTITION BY RANGE (occurred_at)"
		}
		return Exec(tx,
			fmt.Sprintf(`CREATE TABLE usage_record_ids (
				tenant_id %[1]s NOT NULL,
				record_id %[2]s NOT NULL,
				PRIMARY KEY (tenant_id, record_id))`, d.UUID(), d.KeyText()),
			fmt.Sprintf(`CREATE TABLE usage_records (
				tenant_id %[1]s NOT NULL,
				record_id %[4]s NOT NULL,
				namespace TEXT NOT NULL,
				usage_type TEXT NOT NULL,
				object_name TEXT NOT NULL,
				unit TEXT NOT NULL,
				quantity BIGINT NOT NULL CHECK (quantity >= 0),
				occurred_at %[2]s NOT NULL,
				late BOOLEAN NOT NULL,
				received_at %[2]s NOT NULL,
				PRIMARY KEY (tenant_id, record_id, occurred_at))%[3]s`, d.UUID(), d.Time(), partition, d.KeyText()),
			fmt.Sprintf(`CREATE TABLE usage_rollups (
				tenant_id %[1]s NOT NULL,
				level SMALLINT NOT NULL,
				bucket BIGINT NOT NULL,
				usage_type %[2]s NOT NULL,
				namespace %[2]s NOT NULL,
				object_name %[2]s NOT NULL,
				quantity BIGINT NOT NULL CHECK (quantity BETWEEN 0 AND 4000000000000000000),
				late_quantity BIGINT NOT NULL CHECK (late_quantity BETWEEN 0 AND quantity),
				PRIMARY KEY (tenant_id, level, bucket, usage_type, namespace, object_name))`, d.UUID(), d.KeyText()),
			// Hourly breakdowns read one series' hours; only level 0 needs it.
			`CREATE INDEX usage_rollups_series ON usage_rollups (tenant_id, usage_type, namespace, object_name, bucket) WHERE level = 0`,
			// Room on every page, so adding to a rollup (an UPDATE of a
			// column no index holds) stays on its page and touches no index.
			d.pick(`ALTER TABLE usage_rollups SET (fillfactor = 70)`, `SELECT 1`),
			fmt.Sprintf(`CREATE TABLE closed_periods (
				tenant_id %[1]s NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
				period_start BIGINT NOT NULL,
				closed_at %[2]s NOT NULL,
				PRIMARY KEY (tenant_id, period_start))`, d.UUID(), d.Time()),
			fmt.Sprintf(`CREATE TABLE signing_keys (
				id %[1]s PRIMARY KEY,
				secret %[2]s NOT NULL,
				created_at %[3]s NOT NULL,
				retired_at %[3]s)`, d.AutoID(), d.Bytes(), d.Time()),
		)
	}})
}
