package migrations

import (
	"fmt"

	"gorm.io/gorm"
)

func init() {
	register(Migration{ID: "20261101090000_tenancy", Legacy: 1, Up: func(tx *gorm.DB, d DDL) error {
		return Exec(tx,
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
	}})
}
