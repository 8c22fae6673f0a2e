package invoice

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/period"
	"billing-api/server/tenancy"
	"billing-api/server/usage"
)

// Outcome of closing one tenant's period.
type CloseOutcome string

const (
	// ClosedIssued: an invoice was issued now.
	ClosedIssued CloseOutcome = "ISSUED"
	// ClosedExisting: the period already had its invoice (a replayed close,
	// or another replica got there first); an unfinished collection of it
	// was resumed.
	ClosedExisting CloseOutcome = "EXISTING"
	// ClosedNothingToBill: no part of the period was billed; it is closed
	// without an invoice.
	ClosedNothingToBill CloseOutcome = "NOTHING_TO_BILL"
	// ClosedFailed: closing failed (Err says why); the period stays open
	// for that tenant and the next run retries it.
	ClosedFailed CloseOutcome = "FAILED"
)

// TenantClose is what closing a period did for one tenant.
type TenantClose struct {
	Tenant  string
	Outcome CloseOutcome
	// Invoice is the period's invoice (issued now or before), after
	// collection.
	Invoice *Invoice
	Err     error
}

// PeriodOf reads a billing period written as YYYY-MM; field names it in
// the error.
func PeriodOf(field, s string) (period.Month, error) {
	m, err := period.Parse(s)
	if err != nil {
		return period.Month{}, fault.InvalidField(field, "period", "must be a calendar month as YYYY-MM, such as 2026-10")
	}
	return m, nil
}

// ClosePeriod closes month m for the tenant named tenantName, or for every
// tenant when it is empty: each tenant that existed before the month ended
// gets one invoice for it (or none, when nothing was billed), which is then
// collected. The month must have ended. Closing again changes nothing but
// resuming a collection a crash interrupted.
func (s *Service) ClosePeriod(ctx context.Context, m period.Month, tenantName string) ([]TenantClose, error) {
	if now := s.now(); now.Before(m.End()) {
		return nil, fault.InvalidField("period", "ended", fmt.Sprintf("%s has not ended yet (it ends %s)", m, m.End().Format(time.RFC3339)))
	}
	tenants, err := s.tenantsOf(ctx, m, tenantName)
	if err != nil {
		return nil, err
	}
	var out []TenantClose
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, s.closeTenant(ctx, t, m))
	}
	return out, nil
}

// tenantsOf returns the tenant named tenantName, or every tenant, that
// existed before month m ended.
func (s *Service) tenantsOf(ctx context.Context, m period.Month, tenantName string) ([]tenancy.Tenant, error) {
	var all []tenancy.Tenant
	if tenantName != "" {
		t, err := s.tenants.Tenant(ctx, tenantName)
		if err != nil {
			return nil, err
		}
		if !t.CreatedAt.Before(m.End()) {
			return nil, fault.InvalidField("tenant", "existed", fmt.Sprintf("tenant %s was created on %s, after %s ended: it has nothing to close",
				t.Name, t.CreatedAt.Format(time.RFC3339), m))
		}
		all = []tenancy.Tenant{t}
	} else {
		var err error
		if all, err = s.tenants.ListTenants(ctx); err != nil {
			return nil, err
		}
	}
	var out []tenancy.Tenant
	for _, t := range all {
		if t.CreatedAt.Before(m.End()) {
			out = append(out, t)
		}
	}
	return out, nil
}

// closeTenant issues the tenant's invoice for month m and collects it here
// and now (the operator's close, RunDue).
func (s *Service) closeTenant(ctx context.Context, t tenancy.Tenant, m period.Month) TenantClose {
	res, inv := s.issueFor(ctx, t, m)
	if res.Outcome == ClosedFailed || res.Outcome == ClosedNothingToBill {
		return res
	}
	if inv.Collecting {
		collected, err := s.collect(ctx, inv)
		if err != nil {
			res.Err = fmt.Errorf("collecting %s: %w", inv.Number, err)
		}
		inv = collected
	}
	res.Invoice = &inv
	return res
}

// issueFor issues the tenant's invoice for month m, once: the tenant is
// locked, and a unique index backs the check. An invoice to collect has its
// collection queued in the same transaction (when a job engine is
// connected), so it is collected even if this process stops right after.
func (s *Service) issueFor(ctx context.Context, t tenancy.Tenant, m period.Month) (TenantClose, Invoice) {
	res := TenantClose{Tenant: t.Name}
	var inv Invoice
	err := s.store.WithTx(ctx, func(ctx context.Context) error {
		if err := s.store.LockTenant(ctx, t.ID); err != nil {
			return err
		}
		existing, ok, err := s.store.InvoiceForPeriod(ctx, t.ID, m)
		if err != nil {
			return err
		}
		if ok {
			res.Outcome, inv = ClosedExisting, existing
			return nil
		}
		closed, err := s.closings.Closed(ctx, t.ID, m)
		if err != nil || closed {
			res.Outcome = ClosedNothingToBill
			return err
		}
		d, err := s.draft(ctx, t.ID, m, wholeMonth(m), usage.AllUsage)
		if err != nil {
			return err
		}
		res.Outcome = ClosedNothingToBill
		if d.Billable {
			if inv, err = s.issue(ctx, t, d); err != nil {
				return err
			}
			res.Outcome = ClosedIssued
			if inv.Collecting && s.later != nil {
				if err := s.later.Collect(ctx, inv); err != nil {
					return err
				}
			}
		}
		return s.closings.Close(ctx, t.ID, m, s.now())
	})
	if fault.KindOf(err) == fault.KindConflict {
		// Another replica issued it between our check and our insert.
		existing, ok, rerr := s.store.InvoiceForPeriod(ctx, t.ID, m)
		if rerr == nil && ok {
			err, res.Outcome, inv = nil, ClosedExisting, existing
		}
	}
	if err != nil {
		res.Outcome, res.Err = ClosedFailed, err
		return res, inv
	}
	s.Invalidate(t.ID)
	if res.Outcome != ClosedNothingToBill {
		res.Invoice = &inv
	}
	return res, inv
}

// issue stores the draft as the tenant's next invoice. One with nothing to
// pay is PAID at once; any other starts its first collection round.
func (s *Service) issue(ctx context.Context, t tenancy.Tenant, d Draft) (Invoice, error) {
	cat := s.plans.Catalogue()
	methods, err := s.methods.Methods(ctx, t.ID)
	if err != nil {
		return Invoice{}, err
	}
	seq, err := s.store.LastSeq(ctx, t.ID)
	if err != nil {
		return Invoice{}, err
	}
	seq++
	now := s.now()
	inv := Invoice{
		TenantID: t.ID, ID: uuid.New(), Seq: seq, Number: NumberFor(d.Month, seq), Period: d.Month, Currency: d.Currency,
		Subtotal: d.Subtotal, Discount: d.Discount, Total: d.Total,
		IssuedAt: now, DueAt: now.AddDate(0, 0, cat.PaymentTermsDays),
		Seller: Party{Name: cat.Seller.Name, Lines: cat.Seller.Address}, BillTo: billTo(t.DisplayName, t.Name, methods),
		Lines:  d.Lines(),
		Status: StatusIssued, StatusSince: now, StatusReason: "issued", Round: 1, Collecting: true,
	}
	if inv.Total == 0 {
		inv.Status, inv.StatusReason, inv.Round, inv.Collecting = StatusPaid, "nothing to pay", 0, false
	}
	return inv, s.store.InsertInvoice(ctx, inv)
}

// ---- the scheduler

// Due returns the months the scheduler should close at now and has not:
// every month since the oldest tenant's first that ended at least the grace
// period ago, oldest first.
func (s *Service) Due(ctx context.Context) ([]period.Month, error) {
	tenants, err := s.tenants.ListTenants(ctx)
	if err != nil || len(tenants) == 0 {
		return nil, err
	}
	first := period.Of(tenants[0].CreatedAt)
	for _, t := range tenants {
		if m := period.Of(t.CreatedAt); m.Before(first) {
			first = m
		}
	}
	// The last month that may close: its end plus the grace is past.
	last := period.Of(s.now().Add(-s.grace)).Prev()
	if last.Before(first) {
		return nil, nil
	}
	done, err := s.store.FinishedRuns(ctx, first, last)
	if err != nil {
		return nil, err
	}
	var out []period.Month
	for m := first; !m.After(last); m = m.Next() {
		if !slices.Contains(done, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// Closing a month in the background (server/jobs runs these steps as jobs;
// RunDue runs them in this process): OpenMonth records the start and names
// the tenants still to close, CloseTenant closes one (its collection
// queued), FinishMonth records the month finished once every tenant is.
// Each step is idempotent: the database's unique indexes (one invoice per
// tenant and month, one successful payment per invoice) decide, never the
// order or number of times a step runs.

// OpenMonth records that closing month m started (once) and returns the
// tenants whose month is not closed yet.
func (s *Service) OpenMonth(ctx context.Context, m period.Month) ([]tenancy.Tenant, error) {
	if err := s.store.StartRun(ctx, m, s.owner, s.now()); err != nil {
		return nil, err
	}
	return s.openTenants(ctx, m)
}

// openTenants returns the tenants that existed before month m ended and
// whose month is not closed.
func (s *Service) openTenants(ctx context.Context, m period.Month) ([]tenancy.Tenant, error) {
	tenants, err := s.tenantsOf(ctx, m, "")
	if err != nil {
		return nil, err
	}
	var open []tenancy.Tenant
	for _, t := range tenants {
		closed, err := s.closings.Closed(ctx, t.ID, m)
		if err != nil {
			return nil, err
		}
		if !closed {
			open = append(open, t)
		}
	}
	return open, nil
}

// CloseTenant closes month m for the tenant named tenantName, its
// collection queued rather than run here; closing it again changes nothing.
// A tenant that no longer exists is fault.KindNotFound.
func (s *Service) CloseTenant(ctx context.Context, tenantName string, m period.Month) (TenantClose, error) {
	t, err := s.tenants.Tenant(ctx, tenantName)
	if err != nil {
		return TenantClose{Tenant: tenantName, Outcome: ClosedFailed, Err: err}, err
	}
	res, _ := s.issueFor(ctx, t, m)
	return res, res.Err
}

// FinishMonth records the month finished when every tenant's month is
// closed, and otherwise its counts so far (failed: the tenants whose close
// failed and waits for a retry); it reports whether the month is finished.
func (s *Service) FinishMonth(ctx context.Context, m period.Month, failed int) (bool, error) {
	open, err := s.openTenants(ctx, m)
	if err != nil {
		return false, err
	}
	issued, err := s.store.IssuedFor(ctx, m)
	if err != nil {
		return false, err
	}
	done := len(open) == 0
	if done {
		failed = 0
	}
	return done, s.store.FinishRun(ctx, m, s.now(), issued, failed, done)
}

// CollectRound runs (or resumes) round round of the tenant's invoice
// number; nothing when the invoice has moved past it (paid, cancelled,
// another round). A provider error is returned, for the caller to retry.
func (s *Service) CollectRound(ctx context.Context, tenantID uuid.UUID, number string, round int) (Invoice, error) {
	inv, err := s.store.InvoiceByNumber(ctx, tenantID, number)
	if err != nil {
		return Invoice{}, err
	}
	if !inv.Collecting || inv.Round != round {
		return inv, nil
	}
	return s.collect(ctx, inv)
}

// Collecting returns the invoices, of every tenant, whose collection round
// is unfinished (a sweep queues each again).
func (s *Service) Collecting(ctx context.Context) ([]Invoice, error) {
	return s.store.Collecting(ctx)
}

// RunDue closes every due month (see Due) in this process, oldest first,
// with the steps above, each tenant's collection run at once; then it
// resumes every collection left unfinished. It returns the months it
// finished and an error naming every failure.
func (s *Service) RunDue(ctx context.Context) ([]period.Month, error) {
	due, err := s.Due(ctx)
	if err != nil {
		return nil, err
	}
	var finished []period.Month
	var errs []error
	for _, m := range due {
		open, err := s.OpenMonth(ctx, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		failed := 0
		for _, t := range open {
			r := s.closeTenant(ctx, t, m)
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("closing %s for tenant %s: %w", m, r.Tenant, r.Err))
			}
			if r.Outcome == ClosedFailed {
				failed++
			}
			if ctx.Err() != nil {
				return finished, ctx.Err()
			}
		}
		done, err := s.FinishMonth(ctx, m, failed)
		if err != nil {
			errs = append(errs, err)
		}
		if done {
			finished = append(finished, m)
		}
	}
	if err := s.ResumeCollections(ctx); err != nil {
		errs = append(errs, err)
	}
	return finished, errors.Join(errs...)
}

// ResumeCollections resumes every collection round left unfinished, on any
// tenant: with the attempts' own idempotency keys, so nothing is charged
// twice even if another replica resumes the same one.
func (s *Service) ResumeCollections(ctx context.Context) error {
	stuck, err := s.store.Collecting(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, inv := range stuck {
		if _, err := s.collect(ctx, inv); err != nil {
			errs = append(errs, fmt.Errorf("resuming the collection of %s: %w", inv.Number, err))
		}
	}
	return errors.Join(errs...)
}

// NextDue is when the next month becomes due: the end of the running month
// plus the grace period.
func (s *Service) NextDue() time.Time {
	return period.Of(s.now().Add(-s.grace)).End().Add(s.grace)
}

// Runs lists the scheduler's runs, newest first.
func (s *Service) Runs(ctx context.Context, limit int) ([]Run, error) {
	return s.store.Runs(ctx, limit)
}
