package migrations

import (
	"fmt"

	"gorm.io/gorm"
)

// Add-on subscriptions; the partial unique index keeps one active
// subscription per tenant and add-on, whatever the concurrency.
func init() {
	register(Migration{ID: "20261126050000_subscriptions", Up: func(tx *gorm.DB, d DDL) error {
		return Exec(tx,
			fmt.Sprintf(`CREATE TABLE subscriptions (
				tenant_id %[1]s NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
				id %[1]s NOT NULL,
				addon TEXT NOT NULL,
				started_at %[2]s NOT NULL,
				cancelled_at %[2]s,
				PRIMARY KEY (tenant_id, id))`, d.UUID(), d.Time()),
			`CREATE UNIQUE INDEX subscriptions_one_active ON subscriptions (tenant_id, addon) WHERE cancelled_at IS NULL`,
		)
	}})
}
