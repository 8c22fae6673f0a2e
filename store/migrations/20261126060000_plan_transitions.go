package migrations

import (
	"fmt"

	"gorm.io/gorm"
)

// Plan transitions. The partial unique index keeps at most one open
// transition per tenant, whatever the concurrency or the replica; the index
// on id serves the no-auth status lookup, which knows nothing but the id.
func init() {
	register(Migration{ID: "20261126060000_plan_transitions", Up: func(tx *gorm.DB, d DDL) error {
		return Exec(tx,
			fmt.Sprintf(`CREATE TABLE plan_transitions (
				tenant_id %[1]s NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
				id %[1]s NOT NULL,
				from_plan TEXT NOT NULL,
				to_plan TEXT NOT NULL,
				state TEXT NOT NULL CHECK (state IN ('CREATING', 'WAITING_FOR_APPROVAL', 'FINISHED', 'FAILED')),
				reason TEXT NOT NULL,
				created_at %[2]s NOT NULL,
				updated_at %[2]s NOT NULL,
				PRIMARY KEY (tenant_id, id))`, d.UUID(), d.Time()),
			`CREATE UNIQUE INDEX plan_transitions_one_open ON plan_transitions (tenant_id) WHERE state IN ('CREATING', 'WAITING_FOR_APPROVAL')`,
			`CREATE INDEX plan_transitions_id ON plan_transitions (id)`,
		)
	}})
}
