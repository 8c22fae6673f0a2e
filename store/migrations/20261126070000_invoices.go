package migrations

import (
	"fmt"

	"gorm.io/gorm"
)

// Invoices, and the plan history they are priced from.
//
//   - plan_assignments: every plan a tenant has been on and since when
//     (existing tenants start with their current plan at their creation).
//   - invoices: one per tenant and billing period (a unique index, so two
//     replicas closing at once issue one), numbered per tenant. What an
//     invoice bills is frozen by triggers: only its status columns change.
//   - invoice_lines: the items, frozen likewise.
//   - invoice_payments: every charge attempt, external payment and refund,
//     keyed by its idempotency key; a partial unique index allows one
//     successful payment per invoice.
//   - invoice_runs: which periods the scheduler has closed, with the lease
//     of the replica closing one.
func init() {
	register(Migration{ID: "20261126070000_invoices", Up: func(tx *gorm.DB, d DDL) error {
		frozenInvoice := []string{
			`CREATE TRIGGER invoices_frozen BEFORE UPDATE OF tenant_id, id, seq, number, period_start, period_end, currency,
				subtotal, discount, total, issued_at, due_at, seller, bill_to ON invoices
				BEGIN SELECT RAISE(ABORT, 'an issued invoice never changes'); END`,
			`CREATE TRIGGER invoice_lines_frozen BEFORE UPDATE ON invoice_lines
				BEGIN SELECT RAISE(ABORT, 'an issued invoice never changes'); END`,
		}
		if d.Postgres {
			frozenInvoice = []string{
				`CREATE FUNCTION invoice_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					RAISE EXCEPTION 'an issued invoice never changes' USING ERRCODE = 'integrity_constraint_violation';
				END $$`,
				`CREATE TRIGGER invoices_frozen BEFORE UPDATE OF tenant_id, id, seq, number, period_start, period_end, currency,
					subtotal, discount, total, issued_at, due_at, seller, bill_to ON invoices
					FOR EACH ROW EXECUTE FUNCTION invoice_frozen()`,
				`CREATE TRIGGER invoice_lines_frozen BEFORE UPDATE ON invoice_lines
					FOR EACH ROW EXECUTE FUNCTION invoice_frozen()`,
			}
		}
		stmts := []string{
			fmt.Sprintf(`CREATE TABLE plan_assignments (
				tenant_id %[1]s NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
				started_at %[2]s NOT NULL,
				plan_name TEXT NOT NULL,
				PRIMARY KEY (tenant_id, started_at))`, d.UUID(), d.Time()),
			`INSERT INTO plan_assignments (tenant_id, started_at, plan_name) SELECT id, created_at, plan_name FROM tenants`,
			fmt.Sprintf(`CREATE TABLE invoices (
				tenant_id %[1]s NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
				id %[1]s NOT NULL,
				seq BIGINT NOT NULL CHECK (seq > 0),
				number TEXT NOT NULL,
				period_start %[2]s NOT NULL,
				period_end %[2]s NOT NULL,
				currency TEXT NOT NULL,
				subtotal BIGINT NOT NULL CHECK (subtotal >= 0),
				discount BIGINT NOT NULL CHECK (discount >= 0),
				total BIGINT NOT NULL CHECK (total >= 0 AND total = subtotal - discount),
				issued_at %[2]s NOT NULL,
				due_at %[2]s NOT NULL,
				seller %[3]s NOT NULL,
				bill_to %[3]s NOT NULL,
				status TEXT NOT NULL CHECK (status IN ('ISSUED', 'PAID', 'REFUNDED', 'CANCELLED')),
				status_at %[2]s NOT NULL,
				status_reason TEXT NOT NULL,
				collection_round INTEGER NOT NULL CHECK (collection_round >= 0),
				collecting BOOLEAN NOT NULL,
				CHECK (period_end > period_start AND due_at >= issued_at),
				CHECK (NOT collecting OR status = 'ISSUED'),
				PRIMARY KEY (tenant_id, id))`, d.UUID(), d.Time(), d.JSON()),
			`CREATE UNIQUE INDEX invoices_one_per_period ON invoices (tenant_id, period_start)`,
			`CREATE UNIQUE INDEX invoices_number ON invoices (tenant_id, number)`,
			`CREATE UNIQUE INDEX invoices_seq ON invoices (tenant_id, seq)`,
			// The scheduler's sweep for collections left unfinished.
			`CREATE INDEX invoices_collecting ON invoices (issued_at) WHERE collecting`,
			fmt.Sprintf(`CREATE TABLE invoice_lines (
				tenant_id %[1]s NOT NULL,
				invoice_id %[1]s NOT NULL,
				position INTEGER NOT NULL,
				kind TEXT NOT NULL CHECK (kind IN ('PLAN', 'USAGE', 'ADDON', 'DISCOUNT')),
				description TEXT NOT NULL,
				quantity TEXT NOT NULL,
				unit_price BIGINT NOT NULL,
				amount BIGINT NOT NULL,
				PRIMARY KEY (tenant_id, invoice_id, position),
				FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id) ON DELETE CASCADE)`, d.UUID()),
			fmt.Sprintf(`CREATE TABLE invoice_payments (
				tenant_id %[1]s NOT NULL,
				invoice_id %[1]s NOT NULL,
				idempotency_key TEXT NOT NULL,
				kind TEXT NOT NULL CHECK (kind IN ('CHARGE', 'EXTERNAL', 'REFUND')),
				round INTEGER NOT NULL,
				method_name TEXT NOT NULL,
				method_role TEXT NOT NULL,
				token TEXT NOT NULL,
				amount BIGINT NOT NULL CHECK (amount >= 0),
				outcome TEXT NOT NULL CHECK (outcome IN ('PENDING', 'SUCCEEDED', 'DECLINED')),
				reference TEXT NOT NULL,
				detail TEXT NOT NULL,
				created_at %[2]s NOT NULL,
				finished_at %[2]s,
				PRIMARY KEY (tenant_id, idempotency_key),
				FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id) ON DELETE CASCADE)`, d.UUID(), d.Time()),
			`CREATE INDEX invoice_payments_invoice ON invoice_payments (tenant_id, invoice_id, created_at)`,
			`CREATE UNIQUE INDEX invoice_payments_one_paid ON invoice_payments (tenant_id, invoice_id)
				WHERE kind IN ('CHARGE', 'EXTERNAL') AND outcome = 'SUCCEEDED'`,
			fmt.Sprintf(`CREATE TABLE invoice_runs (
				period_start %[1]s PRIMARY KEY,
				owner TEXT NOT NULL,
				lease_until %[1]s NOT NULL,
				started_at %[1]s NOT NULL,
				finished_at %[1]s,
				issued INTEGER NOT NULL DEFAULT 0,
				failed INTEGER NOT NULL DEFAULT 0)`, d.Time()),
		}
		return Exec(tx, append(stmts, frozenInvoice...)...)
	}})
}
