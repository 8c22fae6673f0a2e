package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/invoice"
	"billing-api/server/payment"
	"billing-api/server/period"
)

// Invoices is the invoicing repository.
type Invoices struct{ db *DB }

// NewInvoices returns the repository.
func NewInvoices(db *DB) *Invoices { return &Invoices{db: db} }

var _ invoice.Store = (*Invoices)(nil)

// WithTx runs fn in one transaction.
func (r *Invoices) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return r.db.WithTx(ctx, fn)
}

// LockTenant takes the tenant's row FOR UPDATE (PostgreSQL), which waits for
// ingestion holding it FOR KEY SHARE and makes later ingestion wait. SQLite
// runs one writing transaction at a time anyway.
func (r *Invoices) LockTenant(ctx context.Context, tenantID uuid.UUID) error {
	if r.db.dialect != Postgres {
		return nil
	}
	rows, err := r.db.query(ctx, "SELECT id FROM tenants WHERE id = $1 FOR UPDATE", r.db.id(tenantID))
	if err != nil {
		return err
	}
	return closeRows(rows)
}

const invoiceColumns = "id, seq, number, period_start, period_end, currency, subtotal, discount, total, issued_at, due_at, " +
	"seller, bill_to, status, status_at, status_reason, collection_round, collecting, tenant_id"

func scanInvoice(scan func(...any) error) (invoice.Invoice, error) {
	var inv invoice.Invoice
	var seller, billTo []byte
	var status string
	var start, end time.Time
	if err := scan(&inv.ID, &inv.Seq, &inv.Number, &start, &end, &inv.Currency, &inv.Subtotal, &inv.Discount,
		&inv.Total, &inv.IssuedAt, &inv.DueAt, &seller, &billTo, &status, &inv.StatusSince, &inv.StatusReason, &inv.Round,
		&inv.Collecting, &inv.TenantID); err != nil {
		return inv, classify(err)
	}
	inv.Status, inv.Period = invoice.Status(status), period.Of(start)
	for _, t := range []*time.Time{&inv.IssuedAt, &inv.DueAt, &inv.StatusSince} {
		*t = t.UTC()
	}
	if err := json.Unmarshal(seller, &inv.Seller); err != nil {
		return inv, fault.Internal(fmt.Errorf("invoice %s seller: %w", inv.Number, err))
	}
	if err := json.Unmarshal(billTo, &inv.BillTo); err != nil {
		return inv, fault.Internal(fmt.Errorf("invoice %s bill_to: %w", inv.Number, err))
	}
	return inv, nil
}

func (r *Invoices) invoices(ctx context.Context, where string, args ...any) ([]invoice.Invoice, error) {
	rows, err := r.db.query(ctx, "SELECT "+invoiceColumns+" FROM invoices WHERE "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []invoice.Invoice
	for rows.Next() {
		inv, err := scanInvoice(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, classify(rows.Err())
}

func (r *Invoices) InvoiceForPeriod(ctx context.Context, tenantID uuid.UUID, m period.Month) (invoice.Invoice, bool, error) {
	invs, err := r.invoices(ctx, "tenant_id = $1 AND period_start = $2", r.db.id(tenantID), m.Start())
	if err != nil || len(invs) == 0 {
		return invoice.Invoice{}, false, err
	}
	return invs[0], true, nil
}

func (r *Invoices) LastSeq(ctx context.Context, tenantID uuid.UUID) (int64, error) {
	return r.db.count(ctx, "SELECT COALESCE(MAX(seq), 0) FROM invoices WHERE tenant_id = $1", r.db.id(tenantID))
}

func (r *Invoices) InsertInvoice(ctx context.Context, inv invoice.Invoice) error {
	seller, err := json.Marshal(inv.Seller)
	if err != nil {
		return fault.Internal(err)
	}
	billTo, err := json.Marshal(inv.BillTo)
	if err != nil {
		return fault.Internal(err)
	}
	return r.db.WithTx(ctx, func(ctx context.Context) error {
		tid, iid := r.db.id(inv.TenantID), r.db.id(inv.ID)
		if _, err := r.db.exec(ctx, "INSERT INTO invoices ("+invoiceColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "+
			"$11, $12, $13, $14, $15, $16, $17, $18, $19)",
			iid, inv.Seq, inv.Number, inv.Period.Start(), inv.Period.End(), inv.Currency, int64(inv.Subtotal), int64(inv.Discount), int64(inv.Total),
			inv.IssuedAt.UTC(), inv.DueAt.UTC(), string(seller), string(billTo), string(inv.Status), inv.StatusSince.UTC(),
			inv.StatusReason, inv.Round, inv.Collecting, tid); err != nil {
			return err
		}
		// Lines go in 100-row statements (SQLite binds at most 999 values).
		const perStatement = 100
		for start := 0; start < len(inv.Lines); start += perStatement {
			end := min(start+perStatement, len(inv.Lines))
			var b strings.Builder
			args := make([]any, 0, (end-start)*8)
			b.WriteString("INSERT INTO invoice_lines (tenant_id, invoice_id, position, kind, description, quantity, unit_price, amount) VALUES ")
			for i := start; i < end; i++ {
				if i > start {
					b.WriteString(", ")
				}
				n := len(args)
				fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8)
				l := inv.Lines[i]
				args = append(args, tid, iid, i, string(l.Kind), l.Description, l.Quantity, int64(l.UnitPrice), int64(l.Amount))
			}
			if _, err := r.db.exec(ctx, b.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
}

func (r *Invoices) InvoiceByNumber(ctx context.Context, tenantID uuid.UUID, number string) (invoice.Invoice, error) {
	invs, err := r.invoices(ctx, "tenant_id = $1 AND number = $2", r.db.id(tenantID), number)
	if err != nil {
		return invoice.Invoice{}, err
	}
	if len(invs) == 0 {
		return invoice.Invoice{}, &fault.Error{Kind: fault.KindNotFound, Message: "not found"}
	}
	inv := invs[0]
	rows, err := r.db.query(ctx, "SELECT kind, description, quantity, unit_price, amount FROM invoice_lines "+
		"WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY position", r.db.id(tenantID), r.db.id(inv.ID))
	if err != nil {
		return inv, err
	}
	defer rows.Close()
	for rows.Next() {
		var l invoice.Line
		var kind string
		if err := rows.Scan(&kind, &l.Description, &l.Quantity, &l.UnitPrice, &l.Amount); err != nil {
			return inv, classify(err)
		}
		l.Kind = invoice.LineKind(kind)
		inv.Lines = append(inv.Lines, l)
	}
	return inv, classify(rows.Err())
}

// ListInvoices reads only the columns a list shows (no parties to decode).
func (r *Invoices) ListInvoices(ctx context.Context, tenantID uuid.UUID) ([]invoice.Invoice, error) {
	rows, err := r.db.query(ctx, "SELECT number, period_start, currency, total, status, due_at FROM invoices "+
		"WHERE tenant_id = $1 ORDER BY period_start DESC", r.db.id(tenantID))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// A year of invoices without growing the slice of (large) structs.
	out := make([]invoice.Invoice, 0, 16)
	for rows.Next() {
		inv := invoice.Invoice{TenantID: tenantID}
		var status string
		var start time.Time
		if err := rows.Scan(&inv.Number, &start, &inv.Currency, &inv.Total, &status, &inv.DueAt); err != nil {
			return nil, classify(err)
		}
		inv.Status, inv.Period, inv.DueAt = invoice.Status(status), period.Of(start), inv.DueAt.UTC()
		out = append(out, inv)
	}
	return out, classify(rows.Err())
}

func (r *Invoices) FindInvoices(ctx context.Context, f invoice.Filter) ([]invoice.Invoice, error) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.TenantID != nil {
		conds = append(conds, "tenant_id = "+arg(r.db.id(*f.TenantID)))
	}
	if f.Period != nil {
		conds = append(conds, "period_start = "+arg(f.Period.Start()))
	}
	switch f.Status {
	case "":
	case invoice.StatusOverdue:
		conds = append(conds, "status = 'ISSUED' AND due_at <= "+arg(f.Now.UTC()))
	case invoice.StatusIssued:
		conds = append(conds, "status = 'ISSUED' AND due_at > "+arg(f.Now.UTC()))
	default:
		conds = append(conds, "status = "+arg(string(f.Status)))
	}
	where := "1 = 1"
	if len(conds) > 0 {
		where = strings.Join(conds, " AND ")
	}
	where += " ORDER BY period_start DESC, tenant_id, seq"
	if f.Limit > 0 {
		where += " LIMIT " + arg(f.Limit)
	}
	return r.invoices(ctx, where, args...)
}

func (r *Invoices) HasUnpaid(ctx context.Context, tenantID uuid.UUID) (bool, error) {
	n, err := r.db.count(ctx, "SELECT COUNT(*) FROM invoices WHERE tenant_id = $1 AND status = 'ISSUED'", r.db.id(tenantID))
	return n > 0, err
}

const paymentColumns = "invoice_id, idempotency_key, kind, round, method_name, method_role, token, amount, outcome, reference, detail, created_at, finished_at"

func (r *Invoices) Payments(ctx context.Context, tenantID, invoiceID uuid.UUID) ([]invoice.Payment, error) {
	rows, err := r.db.query(ctx, "SELECT "+paymentColumns+" FROM invoice_payments WHERE tenant_id = $1 AND invoice_id = $2 "+
		"ORDER BY created_at, round, idempotency_key", r.db.id(tenantID), r.db.id(invoiceID))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []invoice.Payment
	for rows.Next() {
		p := invoice.Payment{TenantID: tenantID}
		var kind, role, outcome string
		var finished sql.NullTime
		if err := rows.Scan(&p.InvoiceID, &p.IdempotencyKey, &kind, &p.Round, &p.MethodName, &role, &p.Token, &p.Amount, &outcome,
			&p.Reference, &p.Detail, &p.CreatedAt, &finished); err != nil {
			return nil, classify(err)
		}
		p.Kind, p.MethodRole, p.Outcome = invoice.PaymentKind(kind), payment.Role(role), invoice.Outcome(outcome)
		p.CreatedAt = p.CreatedAt.UTC()
		if finished.Valid {
			t := finished.Time.UTC()
			p.FinishedAt = &t
		}
		out = append(out, p)
	}
	return out, classify(rows.Err())
}

func (r *Invoices) InsertPayment(ctx context.Context, p invoice.Payment) (bool, error) {
	var finished any
	if p.FinishedAt != nil {
		finished = p.FinishedAt.UTC()
	}
	res, err := r.db.exec(ctx, "INSERT INTO invoice_payments (tenant_id, "+paymentColumns+") VALUES "+
		"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (tenant_id, idempotency_key) DO NOTHING",
		r.db.id(p.TenantID), r.db.id(p.InvoiceID), p.IdempotencyKey, string(p.Kind), p.Round, p.MethodName, string(p.MethodRole),
		p.Token, int64(p.Amount), string(p.Outcome), p.Reference, p.Detail, p.CreatedAt.UTC(), finished)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, classify(err)
}

func (r *Invoices) FinishPayment(ctx context.Context, tenantID uuid.UUID, key string, outcome invoice.Outcome, reference, detail string, at time.Time) error {
	_, err := r.db.exec(ctx, "UPDATE invoice_payments SET outcome = $1, reference = $2, detail = $3, finished_at = $4 "+
		"WHERE tenant_id = $5 AND idempotency_key = $6 AND outcome = 'PENDING'",
		string(outcome), reference, detail, at.UTC(), r.db.id(tenantID), key)
	return err
}

func (r *Invoices) SetStatus(ctx context.Context, tenantID, id uuid.UUID, from []invoice.Status, idle bool, to invoice.Status, at time.Time, reason string) (bool, error) {
	args := []any{string(to), at.UTC(), reason, r.db.id(tenantID), r.db.id(id)}
	in := make([]string, len(from))
	for i, st := range from {
		args = append(args, string(st))
		in[i] = fmt.Sprintf("$%d", len(args))
	}
	q := "UPDATE invoices SET status = $1, status_at = $2, status_reason = $3, collecting = FALSE " +
		"WHERE tenant_id = $4 AND id = $5 AND status IN (" + strings.Join(in, ", ") + ")"
	if idle {
		q += " AND NOT collecting"
	}
	res, err := r.db.exec(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, classify(err)
}

func (r *Invoices) StartRound(ctx context.Context, tenantID, id uuid.UUID, round int) (bool, error) {
	res, err := r.db.exec(ctx, "UPDATE invoices SET collection_round = $1, collecting = TRUE "+
		"WHERE tenant_id = $2 AND id = $3 AND status = 'ISSUED' AND NOT collecting AND collection_round = $4",
		round, r.db.id(tenantID), r.db.id(id), round-1)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, classify(err)
}

func (r *Invoices) EndRound(ctx context.Context, tenantID, id uuid.UUID, round int) error {
	_, err := r.db.exec(ctx, "UPDATE invoices SET collecting = FALSE WHERE tenant_id = $1 AND id = $2 AND collection_round = $3",
		r.db.id(tenantID), r.db.id(id), round)
	return err
}

func (r *Invoices) StartRun(ctx context.Context, m period.Month, owner string, at time.Time) error {
	_, err := r.db.exec(ctx, `INSERT INTO invoice_runs (period_start, owner, started_at) VALUES ($1, $2, $3)
		ON CONFLICT (period_start) DO NOTHING`, m.Start(), owner, at.UTC())
	return err
}

func (r *Invoices) FinishRun(ctx context.Context, m period.Month, at time.Time, issued, failed int, done bool) error {
	var finished any
	if done {
		finished = at.UTC()
	}
	_, err := r.db.exec(ctx, "UPDATE invoice_runs SET finished_at = $1, issued = $2, failed = $3 WHERE period_start = $4 AND finished_at IS NULL",
		finished, issued, failed, m.Start())
	return err
}

func (r *Invoices) IssuedFor(ctx context.Context, m period.Month) (int, error) {
	rows, err := r.db.query(ctx, "SELECT COUNT(*) FROM invoices WHERE period_start = $1", m.Start())
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, classify(err)
		}
	}
	return n, classify(rows.Err())
}

func (r *Invoices) Collecting(ctx context.Context) ([]invoice.Invoice, error) {
	return r.invoices(ctx, "collecting ORDER BY issued_at")
}

func (r *Invoices) FinishedRuns(ctx context.Context, from, to period.Month) ([]period.Month, error) {
	rows, err := r.db.query(ctx, "SELECT period_start FROM invoice_runs WHERE finished_at IS NOT NULL AND period_start >= $1 AND period_start < $2",
		from.Start(), to.End())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []period.Month
	for rows.Next() {
		var t time.Time
		if err := rows.Scan(&t); err != nil {
			return nil, classify(err)
		}
		out = append(out, period.Of(t))
	}
	return out, classify(rows.Err())
}

func (r *Invoices) Runs(ctx context.Context, limit int) ([]invoice.Run, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := r.db.query(ctx, "SELECT period_start, owner, started_at, finished_at, issued, failed FROM invoice_runs "+
		"ORDER BY period_start DESC LIMIT $1", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []invoice.Run
	for rows.Next() {
		var run invoice.Run
		var finished sql.NullTime
		var start time.Time
		if err := rows.Scan(&start, &run.Owner, &run.StartedAt, &finished, &run.Issued, &run.Failed); err != nil {
			return nil, classify(err)
		}
		run.Period, run.StartedAt = period.Of(start), run.StartedAt.UTC()
		if finished.Valid {
			t := finished.Time.UTC()
			run.FinishedAt = &t
		}
		out = append(out, run)
	}
	return out, classify(rows.Err())
}
