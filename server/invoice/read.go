package invoice

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"billing-api/pdf"
	"billing-api/server/fault"
	"billing-api/server/money"
	"billing-api/server/period"
	"billing-api/server/tenancy"
	"billing-api/server/usage"
)

// Listed is an invoice as the tenant's list shows it.
type Listed struct {
	Name string
	// Active marks the running month.
	Active   bool
	Status   Status
	Amount   money.Amount
	Currency string
	Month    period.Month
}

// List returns the tenant's invoices, newest month first: the running
// month as PENDING (active), the month before it as PENDING while it is not
// closed yet, then the issued invoices; at most limit (0: all). Months that
// bill nothing have no entry.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, limit int) ([]Listed, error) {
	now := s.now()
	running := period.Of(now)
	issued, err := s.issuedOf(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]Listed, 0, len(issued)+2)
	pending := func(m period.Month, active bool) error {
		d, ok, err := s.pending(ctx, tenantID, m)
		if err != nil || !ok {
			return err
		}
		out = append(out, Listed{Name: PendingName(m), Active: active, Status: StatusPending, Amount: d.Total, Currency: d.Currency, Month: m})
		return nil
	}
	if err := pending(running, true); err != nil {
		return nil, err
	}
	if prev := running.Prev(); len(issued) == 0 || issued[0].Period.Before(prev) {
		if err := pending(prev, false); err != nil {
			return nil, err
		}
	}
	for _, inv := range issued {
		out = append(out, Listed{Name: inv.Number, Status: inv.StatusAt(now), Amount: inv.Total, Currency: inv.Currency, Month: inv.Period})
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// pending is the tenant's month m as its pending invoice: the whole month's
// draft, while the month is not closed and bills something.
func (s *Service) pending(ctx context.Context, tenantID uuid.UUID, m period.Month) (Draft, bool, error) {
	d, _, err := s.cachedDraft(ctx, tenantID, m, wholeMonth(m))
	return d, err == nil && !d.Closed && d.Billable, err
}

// cachedDraft prices the tenant's month m with the usage metered in window
// (see draft), through the draft cache, and says whether the month is
// closed; key names the draft. What the cache holds is shared: callers
// never modify it.
func (s *Service) cachedDraft(ctx context.Context, tenantID uuid.UUID, m period.Month, window usage.Window) (Draft, draftKey, error) {
	key := draftKey{tenant: tenantID, month: m, from: window.From.Unix(), to: window.To.Unix()}
	d, err := s.drafts.Get(ctx, key, func(ctx context.Context) (Draft, error) {
		closed, err := s.closings.Closed(ctx, tenantID, m)
		if err != nil {
			return Draft{}, err
		}
		c := usage.AllUsage
		if closed {
			c = usage.BilledUsage
		}
		d, err := s.draft(ctx, tenantID, m, window, c)
		d.Closed = closed
		return d, err
	})
	return d, key, err
}

// Current is the running month so far as current_usage shows it: the month
// of from's draft — every line its invoice will have — with the usage
// metered in [from, to) (by default the month so far). The window lies in
// one calendar month. A window that reaches the present meters up to the
// month's end, so the month so far is the very draft the pending invoice
// shows. Asked in a namespace other than system, it is that namespace's
// share (see shares). It returns the draft and the window asked for.
func (s *Service) Current(ctx context.Context, p tenancy.Principal, namespace string, from, to *time.Time) (Draft, usage.Window, error) {
	now := s.now()
	w, err := usage.MonthSoFar(now, from, to, "from", "to")
	if err != nil {
		return Draft{}, usage.Window{}, err
	}
	m := period.Of(w.From)
	if w.To.After(m.End()) {
		return Draft{}, usage.Window{}, fault.InvalidField("to", "sameMonth",
			fmt.Sprintf("current usage prices one calendar month: to must be at most %s (monthly_usage covers earlier months)", m.End().Format(time.RFC3339)))
	}
	metered := w
	if !w.To.Before(now) {
		metered.To = m.End()
	}
	d, key, err := s.cachedDraft(ctx, p.TenantID, m, metered)
	if err != nil {
		return Draft{}, w, err
	}
	d, err = s.namespaceDraft(ctx, p.TenantID, d, key, namespace)
	return d, w, err
}

// MonthlyHistory is how many past months monthly_usage reports at most.
const MonthlyHistory = 12

// MonthTotal is what one past month bills.
type MonthTotal struct {
	Month    period.Month
	Total    money.Amount
	Currency string
}

// Monthly returns what each past month bills the tenant, newest first: the
// months since the tenant was created, at most MonthlyHistory, each its
// invoice's total once issued (nothing for a month closed with nothing to
// bill), before that its draft's. Asked in a namespace other than system,
// each month's total is that namespace's share of its usage (see shares).
func (s *Service) Monthly(ctx context.Context, p tenancy.Principal, namespace string) ([]MonthTotal, error) {
	t, err := s.tenants.Tenant(ctx, p.TenantName)
	if err != nil {
		return nil, err
	}
	invs, err := s.issuedOf(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	issued := make(map[period.Month]Invoice, len(invs))
	for _, inv := range invs {
		issued[inv.Period] = inv
	}
	running := period.Of(s.now())
	first := period.Of(t.CreatedAt)
	if oldest := running.Add(-MonthlyHistory); first.Before(oldest) {
		first = oldest
	}
	currency := s.plans.Catalogue().Currency
	var out []MonthTotal
	for m := running.Prev(); !m.Before(first); m = m.Prev() {
		if inv, ok := issued[m]; ok && namespace == tenancy.SystemNamespace {
			out = append(out, MonthTotal{Month: m, Total: inv.Total, Currency: inv.Currency})
			continue
		}
		d, key, err := s.cachedDraft(ctx, p.TenantID, m, wholeMonth(m))
		if err != nil {
			return nil, err
		}
		if d, err = s.namespaceDraft(ctx, p.TenantID, d, key, namespace); err != nil {
			return nil, err
		}
		mt := MonthTotal{Month: m, Currency: currency}
		if _, invoiced := issued[m]; !d.Closed || invoiced {
			mt.Total = d.Total
		}
		out = append(out, mt)
	}
	return out, nil
}

// PDF renders the tenant's invoice named name as the PDF a customer
// receives: an issued invoice by its number, or a pending month by the
// name the list gives it — then a draft, marked as one, with the lines its
// invoice will have so far. An unknown name, a month the list does not
// offer, or another tenant's invoice is not found.
func (s *Service) PDF(ctx context.Context, tenantName, name string) ([]byte, error) {
	t, err := s.tenants.Tenant(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	if m, ok := pendingMonth(name); ok {
		return s.draftPDF(ctx, t, m, name)
	}
	inv, err := s.store.InvoiceByNumber(ctx, t.ID, name)
	if fault.KindOf(err) == fault.KindNotFound {
		return nil, fault.NotFoundf("there is no invoice named %q", name)
	}
	if err != nil {
		return nil, err
	}
	return pdf.Render(Document(inv, s.now()))
}

// draftPDF renders pending month m as a draft, when the list offers it:
// the running month, or the one before while it is not closed, billing
// something.
func (s *Service) draftPDF(ctx context.Context, t tenancy.Tenant, m period.Month, name string) ([]byte, error) {
	running := period.Of(s.now())
	if m != running && m != running.Prev() {
		return nil, fault.NotFoundf("there is no invoice named %q", name)
	}
	d, ok, err := s.pending(ctx, t.ID, m)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fault.NotFoundf("there is no invoice named %q", name)
	}
	methods, err := s.methods.Methods(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	cat := s.plans.Catalogue()
	return pdf.Render(DraftDocument(d, Party{Name: cat.Seller.Name, Lines: cat.Seller.Address}, billTo(t.DisplayName, t.Name, methods), s.now()))
}

// Document is what the PDF of inv shows at now (its status may have moved
// since it was issued; nothing else has).
func Document(inv Invoice, now time.Time) pdf.Invoice {
	doc := pdf.Invoice{
		Number: inv.Number, Status: string(inv.StatusAt(now)), Currency: inv.Currency,
		Seller: pdf.Party{Name: inv.Seller.Name, Lines: inv.Seller.Lines},
		BillTo: pdf.Party{Name: inv.BillTo.Name, Lines: inv.BillTo.Lines},
		// The period is shown by its first and last day.
		PeriodStart: inv.Period.Start(), PeriodEnd: inv.Period.End().Add(-time.Microsecond), IssuedAt: inv.IssuedAt, DueAt: inv.DueAt,
		Subtotal: inv.Subtotal, Discount: inv.Discount, Total: inv.Total,
	}
	for _, l := range inv.Lines {
		doc.Lines = append(doc.Lines, pdf.Line{Description: l.Description, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: l.Amount})
	}
	return doc
}

// DraftDocument is what the draft PDF of a pending month shows at now: the
// layout and lines its invoice will have, marked as a draft, without an
// invoice number, a due date or a payment status.
func DraftDocument(d Draft, seller, customer Party, now time.Time) pdf.Invoice {
	doc := pdf.Invoice{
		Draft: true, Currency: d.Currency,
		Seller:      pdf.Party{Name: seller.Name, Lines: seller.Lines},
		BillTo:      pdf.Party{Name: customer.Name, Lines: customer.Lines},
		PeriodStart: d.Month.Start(), PeriodEnd: d.Month.End().Add(-time.Microsecond), IssuedAt: now,
		Subtotal: d.Subtotal, Discount: d.Discount, Total: d.Total,
	}
	for _, l := range d.Lines() {
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
	late, err := s.usage.Late(ctx, inv.TenantID, inv.Period)
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

// Numbers returns the numbers of the tenant's issued invoices by month.
func (s *Service) Numbers(ctx context.Context, tenantID uuid.UUID) (map[period.Month]string, error) {
	invs, err := s.issuedOf(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make(map[period.Month]string, len(invs))
	for _, inv := range invs {
		out[inv.Period] = inv.Number
	}
	return out, nil
}

// Now is the service's clock reading (what OVERDUE is judged against).
func (s *Service) Now() time.Time { return s.now() }
