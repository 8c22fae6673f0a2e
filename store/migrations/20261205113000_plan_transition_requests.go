package migrations

import (
	"fmt"

	"gorm.io/gorm"
)

// What a customer asked for with a plan transition beyond the plan: the
// add-ons to subscribe to and cancel when it finishes (JSON arrays of add-on
// names, kept until an operator approves a transition that waits), and what
// is recorded for the operator — the support ticket asked for and why a
// customer leaves. Existing transitions asked for none of it.
func init() {
	register(Migration{ID: "20261205113000_plan_transition_requests", Up: func(tx *gorm.DB, d DDL) error {
		return Exec(tx,
			fmt.Sprintf(`ALTER TABLE plan_transitions ADD COLUMN subscribe_addons %s NOT NULL DEFAULT '[]'`, d.JSON()),
			fmt.Sprintf(`ALTER TABLE plan_transitions ADD COLUMN unsubscribe_addons %s NOT NULL DEFAULT '[]'`, d.JSON()),
			`ALTER TABLE plan_transitions ADD COLUMN support_ticket BOOLEAN NOT NULL DEFAULT FALSE`,
			`ALTER TABLE plan_transitions ADD COLUMN support_ticket_info TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE plan_transitions ADD COLUMN deletion_reason TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE plan_transitions ADD COLUMN deletion_feedback TEXT NOT NULL DEFAULT ''`,
		)
	}})
}
