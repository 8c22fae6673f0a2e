// Package migrations is the schema history of billing-api, one migration per
// file. A migration is named by the UTC time it was written and what it does
// (20261125120000_limit_overrides), so two branches never claim the same
// name; the store applies, in name order, every migration a database has not
// applied yet, whatever order the branches landed in.
package migrations

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gorm.io/gorm"
)

// Migration moves the schema forward. Never edit one that has been
// released; add a new file.
type Migration struct {
	// ID is YYYYMMDDhhmmss_snake_case_name, unique and ordered.
	ID string
	// Legacy is the integer version the migration had when versions were a
	// counter (0 for migrations written since); databases migrated then are
	// recognised by it.
	Legacy int
	Up     func(tx *gorm.DB, d DDL) error
}

var (
	idPattern = regexp.MustCompile(`^[0-9]{14}_[a-z0-9]+(_[a-z0-9]+)*$`)
	all       []Migration
)

// register adds a migration; each migration file calls it from init.
func register(m Migration) {
	if !idPattern.MatchString(m.ID) {
		panic(fmt.Sprintf("migration id %q is not YYYYMMDDhhmmss_name", m.ID))
	}
	for _, o := range all {
		if o.ID[:14] == m.ID[:14] || o.ID == m.ID {
			panic(fmt.Sprintf("migrations %q and %q share a timestamp", o.ID, m.ID))
		}
	}
	all = append(all, m)
}

// All returns every migration in the order they apply.
func All() []Migration {
	out := slices.Clone(all)
	slices.SortFunc(out, func(a, b Migration) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DDL spells column types for the database in use, so the hand-written
// schema is exactly what we mean on both engines.
type DDL struct{ Postgres bool }

func (d DDL) UUID() string  { return d.pick("UUID", "TEXT") }
func (d DDL) Time() string  { return d.pick("TIMESTAMPTZ", "DATETIME") }
func (d DDL) JSON() string  { return d.pick("JSONB", "TEXT") }
func (d DDL) Float() string { return "DOUBLE PRECISION" }

func (d DDL) pick(postgres, sqlite string) string {
	if d.Postgres {
		return postgres
	}
	return sqlite
}

// Exec runs statements in order, naming the one that failed.
func Exec(tx *gorm.DB, statements ...string) error {
	for _, s := range statements {
		if err := tx.Exec(s).Error; err != nil {
			return fmt.Errorf("%w\n%s", err, s)
		}
	}
	return nil
}

// Bytes is a binary column; AutoID an integer key the database assigns;
// KeyText a text column compared byte by byte (fast in indexes, and the
// same order on every PostgreSQL locale).
func (d DDL) Bytes() string   { return d.pick("BYTEA", "BLOB") }
func (d DDL) AutoID() string  { return d.pick("BIGINT GENERATED ALWAYS AS IDENTITY", "INTEGER") }
func (d DDL) KeyText() string { return d.pick(`TEXT COLLATE "C"`, "TEXT") }
