package migrations

import (
	"gorm.io/gorm"
)

// Background work moves to River (github.com/riverqueue/river), whose own
// tables the store creates after these migrations (store/river.go):
// invoice_runs loses its lease, since River's jobs decide who closes a
// month, and only records when each month's close started and finished.
func init() {
	register(Migration{ID: "20261205160000_river_jobs", Up: func(tx *gorm.DB, _ DDL) error {
		return Exec(tx, `ALTER TABLE invoice_runs DROP COLUMN lease_until`)
	}})
}
