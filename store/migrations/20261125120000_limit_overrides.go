package migrations

import (
	"fmt"

	"gorm.io/gorm"
)

func init() {
	register(Migration{ID: "20261125120000_limit_overrides", Up: func(tx *gorm.DB, d DDL) error {
		return Exec(tx, fmt.Sprintf(`CREATE TABLE limit_overrides (
			tenant_id %[1]s PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
			spec %[3]s NOT NULL,
			updated_at %[2]s NOT NULL)`, d.UUID(), d.Time(), d.JSON()))
	}})
}
