package invoice

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"billing-api/pdf"
	"billing-api/server/fault"
	"billing-api/server/period"
	"billing-api/server/usage"
)

// Listed is an invoice as the tenant's list shows it.
type Listed struct {
	Name string
	// Active marks the running month.
	Active                 bool
	Status                 Status
	Amount                 int64
	Currency               string
	PeriodStart, PeriodEnd time.Time
}

// List returns the tenant's invoices, newest period first: the running
// month as PENDING (active), the month before it as PENDING while it is not
// closed yet, then the issued invoices; at most limit (0: all). Months that
// bill nothing have no entry.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, limit int) ([]Listed, error) {
	now := s.now()
	running := usage.MonthStart(now)
	prev := running.AddDate(0, -1, 0)
	issued, err := s.issuedOf(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]Listed, 0, len(issued)+2)
	pending := func(period time.Time, active bool) error {
		d, err := s.cachedDraft(ctx, tenantID, period)
		if err != nil || !d.Billable {
			return err
		}
		out = append(out, Listed{
			Name: PendingName(period), Active: active, Status: StatusPending, Amount: d.Total, Currency: d.Currency,
			PeriodStart: d.PeriodStart, PeriodEnd: d.PeriodEnd,
		})
		return nil
	}
	if err := pending(running, true); err != nil {
		return nil, err
	}
	if len(issued) == 0 || issued[0].PeriodStart.Before(prev) {
		if err := pending(prev, false); err != nil {
			return nil, err
		}
	}
	for _, inv := range issued {
		out = append(out, Listed{
			Name: inv.Number, Status: inv.StatusAt(now), Amount: inv.Total, Currency: inv.Currency,
			PeriodStart: inv.PeriodStart, PeriodEnd: inv.PeriodEnd,
		})
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// PDF renders the tenant's invoice named name (its number) as the PDF a
// customer receives. A pending month has none; an unknown name, or another
// tenant's invoice, is not found.
func (s *Service) PDF(ctx context.Context, tenantID uuid.UUID, name string) ([]byte, error) {
	if strings.HasPrefix(name, "pending-") {
		return nil, fault.NotFoundf("%s is a month not closed yet; its invoice, and the PDF, come when it closes", name)
	}
	inv, err := s.store.InvoiceByNumber(ctx, tenantID, name)
	if fault.KindOf(err) == fault.KindNotFound {
		return nil, fault.NotFoundf("there is no invoice named %q", name)
	}
	if err != nil {
		return nil, err
	}
	return pdf.Render(Document(inv, s.now()))
}

// Document is what the PDF of inv shows at now (its status may have moved
// since it was issued; nothing else has).
func Document(inv Invoice, now time.Time) pdf.Invoice {
	doc := pdf.Invoice{
		Number: inv.Number, Status: string(inv.StatusAt(now)), Currency: inv.Currency,
		Seller: pdf.Party{Name: inv.Seller.Name, Lines: inv.Seller.Lines},
		BillTo: pdf.Party{Name: inv.BillTo.Name, Lines: inv.BillTo.Lines},
		// The period is shown by its first and last day.
		PeriodStart: inv.PeriodStart, PeriodEnd: inv.PeriodEnd.Add(-time.Microsecond), IssuedAt: inv.IssuedAt, DueAt: inv.DueAt,
		Subtotal: inv.Subtotal, Discount: inv.Discount, Total: inv.Total,
	}
	for _, l := range inv.Lines {
		doc.Lines = append(doc.Lines, pdf.Line{Description: l.Description, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: l.Amount})
	}
	return doc
}

// Detail is an invoice as the operator sees it: with its tenant, its lines,
// every payment record and the usage of its month that arrived after it was
// issued (reported here, never billed into it).
type Detail struct {
	Invoice
	Tenant   string
	Payments []Payment
	Late     map[string]usage.Quantity
}

// Detail reads a tenant's invoice for the operator.
func (s *Service) Detail(ctx context.Context, tenantName, number string) (Detail, error) {
	inv, err := s.target(ctx, tenantName, number)
	if err != nil {
		return Detail{}, err
	}
	pays, err := s.store.Payments(ctx, inv.TenantID, inv.ID)
	if err != nil {
		return Detail{}, err
	}
	late, err := s.usage.Late(ctx, inv.TenantID, inv.PeriodStart)
	if err != nil {
		return Detail{}, err
	}
	return Detail{Invoice: inv, Tenant: tenantName, Payments: pays, Late: late}, nil
}

// Find lists invoices of one tenant (by name) or all, for the operator.
func (s *Service) Find(ctx context.Context, tenantName string, f Filter) ([]Invoice, error) {
	if tenantName != "" {
		t, err := s.tenants.Tenant(ctx, tenantName)
		if err != nil {
			return nil, err
		}
		f.TenantID = &t.ID
	}
	f.Now = s.now()
	return s.store.FindInvoices(ctx, f)
}

// issuedOf returns the tenant's issued invoices, newest first, without
// lines, through the cache (a second at most behind a change made on
// another replica; at once on this one). Callers must not modify it.
func (s *Service) issuedOf(ctx context.Context, tenantID uuid.UUID) ([]Invoice, error) {
	return s.issued.Get(ctx, tenantID, func(ctx context.Context) ([]Invoice, error) {
		return s.store.ListInvoices(ctx, tenantID)
	})
}

// Numbers returns the numbers of the tenant's issued invoices by the start
// of their period.
func (s *Service) Numbers(ctx context.Context, tenantID uuid.UUID) (map[time.Time]string, error) {
	invs, err := s.issuedOf(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make(map[time.Time]string, len(invs))
	for _, inv := range invs {
		out[inv.PeriodStart] = inv.Number
	}
	return out, nil
}

// MonthTotals returns what each month bills the tenant: its invoice's
// total once issued, else the month's draft so far.
func (s *Service) MonthTotals(ctx context.Context, tenantID uuid.UUID, months []period.Month) (map[period.Month]int64, error) {
	out := make(map[period.Month]int64, len(months))
	if len(months) == 0 {
		return out, nil
	}
	invs, err := s.issuedOf(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	issued := make(map[period.Month]int64, len(invs))
	for _, inv := range invs {
		issued[period.Of(inv.PeriodStart)] = inv.Total
	}
	for _, m := range months {
		if total, ok := issued[m]; ok {
			out[m] = total
			continue
		}
		d, err := s.cachedDraft(ctx, tenantID, m.Start())
		if err != nil {
			return nil, err
		}
		out[m] = d.Total
	}
	return out, nil
}

// Now is the service's clock reading (what OVERDUE is judged against).
func (s *Service) Now() time.Time { return s.now() }
