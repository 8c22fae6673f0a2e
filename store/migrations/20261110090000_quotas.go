package migrations

import (
	"fmt"

	"gorm.io/gorm"
)

func init() {
	register(Migration{ID: "20261110090000_quotas", Legacy: 2, Up: func(tx *gorm.DB, d DDL) error {
		return Exec(tx,
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
	}})
}
