package invoice

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/payment"
	"billing-api/server/plan"
	"billing-api/server/subscription"
	"billing-api/server/usage"
)

// Draft is what a tenant's month bills, before (or without) an invoice.
type Draft struct {
	TenantID               uuid.UUID
	PeriodStart, PeriodEnd time.Time
	Currency               string
	// Billable is false when no part of the month was on a billed plan and
	// no paid add-on ran: such a month is closed without an invoice.
	Billable                  bool
	Lines                     []Line
	Subtotal, Discount, Total int64
}

// planSpan is a part of a period spent on one plan.
type planSpan struct {
	Plan     plan.Plan
	From, To time.Time
}

// spans cuts [start, end) by the tenant's plan history. Time before the
// tenant's first plan (it did not exist yet) is in no span.
func spans(cat *plan.Catalogue, hist []plan.Assignment, start, end time.Time) ([]planSpan, error) {
	var out []planSpan
	for i, a := range hist {
		from, to := a.Since, end
		if i+1 < len(hist) {
			to = hist[i+1].Since
		}
		from = maxTime(from, start)
		to = minTime(to, end)
		if !to.After(from) {
			continue
		}
		p, ok := cat.Plan(a.Plan)
		if !ok {
			return nil, fault.Internal(fmt.Errorf("the plan history names plan %q, which the catalogue lacks", a.Plan))
		}
		out = append(out, planSpan{Plan: p, From: from, To: to})
	}
	return out, nil
}

// fraction is the part num/den of a period (durations in microseconds).
type fraction struct{ num, den int64 }

func fractionOf(from, to, start, end time.Time) fraction {
	return fraction{num: to.Sub(from).Microseconds(), den: end.Sub(start).Microseconds()}
}

func (f fraction) whole() bool { return f.num == f.den }

// of is n × f, rounded half to even.
func (f fraction) of(n int64) int64 {
	if f.whole() {
		return n
	}
	return usage.DivRoundHalfEven(new(big.Int).Mul(big.NewInt(n), big.NewInt(f.num)), big.NewInt(f.den)).Int64()
}

// months is f as a quantity of months ("1 month", "0.709677 month").
func (f fraction) months() string {
	return usage.DivDecimal(usage.Quantity(f.num), usage.Quantity(f.den), 6) + " month"
}

// prorate scales what is monthly in p — the flat price, the included
// quantities and fixed-amount coupons — to the fraction f of the month.
func prorate(p usage.Pricing, f fraction) usage.Pricing {
	if f.whole() {
		return p
	}
	p.FlatPriceCents = f.of(p.FlatPriceCents)
	rates := make(map[string]usage.Rate, len(p.Rates))
	for name, r := range p.Rates {
		r.Included = usage.Quantity(f.of(int64(r.Included)))
		rates[name] = r
	}
	p.Rates = rates
	coupons := make([]usage.Coupon, len(p.Coupons))
	for i, c := range p.Coupons {
		if c.Kind == usage.DiscountFixed {
			c.Amount = int32(f.of(int64(c.Amount)))
		}
		coupons[i] = c
	}
	p.Coupons = coupons
	return p
}

// hourFloor is the start of t's hour: usage is kept per hour, and the hour
// in which the plan changes is billed at the new plan.
func hourFloor(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// cachedDraft prices the tenant's month starting at period (see draft), through
// the pending-invoice cache: what the list shows for a month not closed yet.
func (s *Service) cachedDraft(ctx context.Context, tenantID uuid.UUID, period time.Time) (Draft, error) {
	return s.drafts.Get(ctx, draftKey{tenant: tenantID, period: period.Unix()}, func(ctx context.Context) (Draft, error) {
		// A month closed without an invoice bills nothing more.
		if closed, err := s.store.PeriodClosed(ctx, tenantID, period); err != nil || closed {
			return Draft{TenantID: tenantID, PeriodStart: period, PeriodEnd: period.AddDate(0, 1, 0)}, err
		}
		return s.draft(ctx, tenantID, period)
	})
}

// draft prices the tenant's month starting at period:
//   - per plan it was on (pro-rated by the time on it, to the microsecond),
//     the plan's flat price, its usage priced at the plan's rate card with
//     the included quantities pro-rated alike, and its coupons;
//   - per add-on subscription, the add-on's monthly price pro-rated to the
//     time it was active on a billed plan that does not include it.
//
// Usage is attributed by hour: an hour belongs to the plan in force at its
// start, except that the hour of a change belongs to the new plan.
// Every amount is rounded half to even once, per line; the totals are exact
// sums of the lines.
func (s *Service) draft(ctx context.Context, tenantID uuid.UUID, period time.Time) (Draft, error) {
	start := usage.MonthStart(period)
	end := start.AddDate(0, 1, 0)
	cat := s.plans.Catalogue()
	d := Draft{TenantID: tenantID, PeriodStart: start, PeriodEnd: end, Currency: cat.Currency}
	hist, err := s.plans.History(ctx, tenantID, start, end)
	if err != nil {
		return Draft{}, err
	}
	ps, err := spans(cat, hist, start, end)
	if err != nil {
		return Draft{}, err
	}
	types := s.usage.Types()
	billed := 0
	for _, sp := range ps {
		if !sp.Plan.BillingDisabled {
			billed++
		}
	}
	for _, sp := range ps {
		if sp.Plan.BillingDisabled {
			continue
		}
		d.Billable = true
		f := fractionOf(sp.From, sp.To, start, end)
		from, to := hourFloor(sp.From), hourFloor(sp.To)
		if sp.To.Equal(end) {
			to = end
		}
		sums, err := s.usage.Sums(ctx, tenantID, from, to)
		if err != nil {
			return Draft{}, err
		}
		bill := usage.Price(prorate(cat.Pricing(sp.Plan), f), types, sums)
		on := ""
		if billed > 1 {
			on = fmt.Sprintf(" (on %s)", sp.Plan.Name)
		}
		if sp.Plan.FlatPriceCents > 0 {
			d.add(Line{
				Kind:        LinePlan,
				Description: fmt.Sprintf("%s plan (%s), %s", sp.Plan.Title, sp.Plan.Name, dateRange(sp.From, sp.To)),
				Quantity:    f.months(), UnitPrice: sp.Plan.FlatPriceCents, Amount: bill.FlatCents,
			})
		}
		for _, l := range bill.Lines {
			if !l.Priced || l.Quantity == 0 {
				continue
			}
			d.add(Line{
				Kind: LineUsage,
				Description: fmt.Sprintf("%s%s: %s %s used, %s included", l.Type.DisplayName, on,
					groupDigits(l.Quantity.String()), l.Type.Unit, groupDigits(l.Rate.Included.String())),
				Quantity:  fmt.Sprintf("%d × %s", l.Billable, l.Rate.BillableUnit),
				UnitPrice: l.Rate.PriceCents, Amount: l.AmountCents,
			})
		}
		if bill.DiscountCents > 0 {
			titles := make([]string, len(bill.Coupons))
			for i, c := range bill.Coupons {
				titles[i] = c.Title
			}
			d.add(Line{
				Kind: LineDiscount, Description: "Discount" + on + ": " + strings.Join(titles, ", "),
				Quantity: "1", UnitPrice: -bill.DiscountCents, Amount: -bill.DiscountCents,
			})
		}
	}
	subs, err := s.subs.All(ctx, tenantID)
	if err != nil {
		return Draft{}, err
	}
	for i := len(subs) - 1; i >= 0; i-- { // oldest first
		for _, l := range addonLines(cat, subs[i], ps, start, end) {
			d.Billable = true
			d.add(l)
		}
	}
	return d, nil
}

// addonLines bills a subscription over the plan spans: its add-on's monthly
// price, pro-rated to the time it was active on a billed plan that does not
// include it.
func addonLines(cat *plan.Catalogue, sub subscription.Subscription, ps []planSpan, start, end time.Time) []Line {
	a, ok := cat.Addon(sub.Addon)
	if !ok || a.PriceCents == 0 || sub.Included {
		return nil
	}
	subEnd := end
	if sub.CancelledAt != nil {
		subEnd = *sub.CancelledAt
	}
	var out []Line
	for _, sp := range ps {
		if sp.Plan.BillingDisabled || slices.Contains(sp.Plan.IncludedAddons, sub.Addon) {
			continue
		}
		from, to := maxTime(sp.From, sub.StartedAt), minTime(sp.To, subEnd)
		if !to.After(from) {
			continue
		}
		f := fractionOf(from, to, start, end)
		out = append(out, Line{
			Kind:        LineAddon,
			Description: fmt.Sprintf("Add-on %s, %s", a.DisplayName, dateRange(from, to)),
			Quantity:    f.months(), UnitPrice: a.PriceCents, Amount: f.of(a.PriceCents),
		})
	}
	return out
}

// add appends l and keeps the totals.
func (d *Draft) add(l Line) {
	d.Lines = append(d.Lines, l)
	if l.Amount < 0 {
		d.Discount -= l.Amount
	} else {
		d.Subtotal += l.Amount
	}
	d.Total = d.Subtotal - d.Discount
}

// billTo is the customer block: the tenant's display name and the billing
// address of its PRIMARY payment method (else of any method that has one).
func billTo(displayName, name string, methods []payment.Method) Party {
	p := Party{Name: displayName}
	if p.Name == "" {
		p.Name = name
	}
	pick := -1
	for i, m := range methods {
		if m.Contact.Address1 == "" {
			continue
		}
		if m.Role == payment.RolePrimary || pick < 0 {
			pick = i
		}
	}
	if pick >= 0 {
		c := methods[pick].Contact
		p.Lines = nonEmpty(c.Address1, c.Address2,
			strings.TrimSpace(strings.Join(nonEmpty(c.City, c.StateCode, c.ZipCode), " ")), c.Country)
	}
	p.Lines = append(p.Lines, "Account: "+name)
	return p
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// dateRange shows [from, to) as days: "10 Oct 2026 – 31 Oct 2026" (to is
// exclusive, so a span ending at midnight ends the day before).
func dateRange(from, to time.Time) string {
	last := to.Add(-time.Microsecond)
	return from.UTC().Format("2 Jan 2006") + " – " + last.UTC().Format("2 Jan 2006")
}

// groupDigits puts thousands separators into a decimal's whole part.
func groupDigits(dec string) string {
	whole, frac, hasFrac := strings.Cut(dec, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if hasFrac {
		out += "." + frac
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
