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

// closeTenant issues the tenant's invoice for month m (once: the tenant is
// locked, and a unique index backs the check), then collects it.
func (s *Service) closeTenant(ctx context.Context, t tenancy.Tenant, m period.Month) TenantClose {
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
		return res
	}
	s.Invalidate(t.ID)
	if res.Outcome == ClosedNothingToBill {
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

// RunLease is how long a replica holds a period it is closing before
// another may take it over (it stopped, say).
const RunLease = 15 * time.Minute

// RunDue closes every due month (see Due), oldest first, each by one
// replica at a time: a replica claims a month in the database (renewing the
// claim before each tenant, so a long close is not taken over), closes it
// for every tenant, and records it done. A month where some tenant failed
// is recorded with its failures and released unfinished, so the next run
// retries it (the tenants already closed are skipped, their invoices
// standing); later months are closed all the same. Then it resumes every
// collection left unfinished (a provider error, a stopped process). It
// returns the months it finished, and an error naming every failure.
func (s *Service) RunDue(ctx context.Context) ([]period.Month, error) {
	due, err := s.Due(ctx)
	if err != nil {
		return nil, err
	}
	var finished []period.Month
	var errs []error
	for _, m := range due {
		done, err := s.runMonth(ctx, m)
		if err != nil {
			errs = append(errs, err)
		}
		if done {
			finished = append(finished, m)
		}
		if ctx.Err() != nil {
			return finished, ctx.Err()
		}
	}
	if err := s.ResumeCollections(ctx); err != nil {
		errs = append(errs, err)
	}
	return finished, errors.Join(errs...)
}

// runMonth closes month m for every tenant under this replica's claim and
// reports whether it finished it.
func (s *Service) runMonth(ctx context.Context, m period.Month) (bool, error) {
	claim := func() (bool, error) {
		now := s.now()
		return s.store.ClaimRun(ctx, m, s.owner, now, now.Add(RunLease))
	}
	if ok, err := claim(); err != nil || !ok {
		return false, err // !ok: another replica is on it
	}
	tenants, err := s.tenantsOf(ctx, m, "")
	if err != nil {
		return false, err
	}
	issued, failed := 0, 0
	var errs []error
	for _, t := range tenants {
		if ok, err := claim(); err != nil || !ok {
			return false, err // the claim was lost: the new holder carries on
		}
		r := s.closeTenant(ctx, t, m)
		switch {
		case r.Outcome == ClosedFailed:
			failed++
			errs = append(errs, fmt.Errorf("closing %s for tenant %s: %w", m, r.Tenant, r.Err))
		case r.Err != nil:
			// Issued; its collection stays unfinished and is resumed by
			// ResumeCollections, so the month itself is done.
			errs = append(errs, fmt.Errorf("tenant %s, %s: %w", r.Tenant, r.Invoice.Number, r.Err))
		}
		if r.Outcome == ClosedIssued {
			issued++
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
	if err := s.store.FinishRun(ctx, m, s.owner, s.now(), issued, failed, failed == 0); err != nil {
		return false, err
	}
	return failed == 0, errors.Join(errs...)
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
