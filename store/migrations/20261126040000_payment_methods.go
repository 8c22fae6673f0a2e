package migrations

import (
	"fmt"

	"gorm.io/gorm"
)

// Payment methods. The two partial unique indexes are the invariant: per
// tenant at most one PRIMARY and at most one SECONDARY, at every instant,
// whatever the application does.
func init() {
	register(Migration{ID: "20261126040000_payment_methods", Up: func(tx *gorm.DB, d DDL) error {
		return Exec(tx,
			fmt.Sprintf(`CREATE TABLE payment_methods (
				tenant_id %[1]s NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
				name TEXT NOT NULL,
				role TEXT NOT NULL CHECK (role IN ('PRIMARY', 'SECONDARY', 'NORMAL')),
				token TEXT NOT NULL,
				masked TEXT NOT NULL,
				contact %[3]s NOT NULL,
				created_at %[2]s NOT NULL,
				PRIMARY KEY (tenant_id, name))`, d.UUID(), d.Time(), d.JSON()),
			`CREATE UNIQUE INDEX payment_methods_one_primary ON payment_methods (tenant_id) WHERE role = 'PRIMARY'`,
			`CREATE UNIQUE INDEX payment_methods_one_secondary ON payment_methods (tenant_id) WHERE role = 'SECONDARY'`,
		)
	}})
}
