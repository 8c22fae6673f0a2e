package invoice

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/money"
	"billing-api/server/period"
	"billing-api/server/plan"
	"billing-api/server/subscription"
	"billing-api/server/usage"
)

// Draft is what a tenant's month bills, priced: the one computation behind
// the pending invoice of the list, current_usage, monthly_usage of an open
// month, the draft PDF and, once the month has ended, the invoice that
// closing issues. Its totals are exact sums of its charges.
type Draft struct {
	TenantID uuid.UUID
	Month    period.Month
	Currency string
	// Billable is false when no part of the month was on a billed plan and
	// no paid add-on ran: such a month is closed without an invoice.
	Billable bool
	// Closed is true once the month is closed: what it bills is then its
	// invoice (or nothing), which this draft repeats (it counts only the
	// usage the invoice billed, no late records).
	Closed bool
	// counting is the usage the draft counts (BilledUsage once closed).
	counting usage.Counting
	// Charges are the month's items in invoice order: per plan the tenant
	// was on, its fee, its usage lines and its discount; then the add-ons.
	Charges                   []Charge
	Subtotal, Discount, Total money.Amount
}

// Charge is one priced item of a month.
type Charge struct {
	Kind LineKind
	// Plan is the plan in force over the charge (for an add-on, the plan it
	// ran on).
	Plan plan.Plan
	// From and To bound what is charged: the time on the plan (a fee, a
	// discount), the add-on's time on it, or the hours of usage metered.
	From, To time.Time
	// Share is the part of the month the plan (or the add-on) was held: it
	// pro-rates the fee and, for usage, the included quantities.
	Share money.Rate
	// Usage is a usage line, priced at the plan's rate card (LineUsage).
	Usage usage.PricedLine
	// Addon is the add-on billed (LineAddon).
	Addon plan.Addon
	// Coupons are the plan's coupons a discount applies (LineDiscount).
	Coupons []usage.Coupon
	// UnitPrice is the monthly fee or the price per billable unit; Amount
	// is what the charge adds (a discount's is negative).
	UnitPrice, Amount money.Amount
}

// Billed reports whether the charge is on a plan that bills (a plan with
// billing disabled reports its usage at no charge).
func (c Charge) Billed() bool { return !c.Plan.BillingDisabled }

// planSpan is a part of a month spent on one plan.
type planSpan struct {
	Plan     plan.Plan
	From, To time.Time
}

// spans cuts month m by the tenant's plan history. Time before the
// tenant's first plan (it did not exist yet) is in no span.
func spans(cat *plan.Catalogue, hist []plan.Assignment, m period.Month) ([]planSpan, error) {
	var out []planSpan
	for i, a := range hist {
		from, to := a.Since, m.End()
		if i+1 < len(hist) {
			to = hist[i+1].Since
		}
		from = maxTime(from, m.Start())
		to = minTime(to, m.End())
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

// shareOf is the part of month m that [from, to) makes up, to the
// microsecond.
func shareOf(from, to time.Time, m period.Month) money.Rate {
	return money.Ratio(to.Sub(from).Microseconds(), m.End().Sub(m.Start()).Microseconds())
}

// prorate scales what is monthly in p — the flat price, the included
// quantities and fixed-amount coupons — to the share of the month.
func prorate(p usage.Pricing, share money.Rate) usage.Pricing {
	if share.IsOne() {
		return p
	}
	p.FlatPrice = share.Apply(p.FlatPrice)
	rates := make(map[string]usage.Rate, len(p.Rates))
	for name, r := range p.Rates {
		r.Included = usage.Quantity(share.ApplyInt(int64(r.Included)))
		rates[name] = r
	}
	p.Rates = rates
	coupons := make([]usage.Coupon, len(p.Coupons))
	for i, c := range p.Coupons {
		if c.Kind == usage.DiscountFixed {
			c.Amount = int32(share.ApplyInt(int64(c.Amount)))
		}
		coupons[i] = c
	}
	p.Coupons = coupons
	return p
}

// hourFloor is the start of t's hour: usage is kept per hour, and the hour
// in which the plan changes is billed at the new plan.
func hourFloor(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// wholeMonth is the window that meters all of month m.
func wholeMonth(m period.Month) usage.Window { return usage.Window{From: m.Start(), To: m.End()} }

// draft prices the tenant's month m with the usage metered in window
// (inside m; the whole month for what an invoice bills), counting the
// usage c says (a closed month counts only what its invoice billed):
//   - per plan it was on (pro-rated by the time on it, to the microsecond),
//     the plan's flat price, its usage priced at the plan's rate card with
//     the included quantities pro-rated alike, and its coupons;
//   - per add-on subscription, the add-on's monthly price pro-rated to the
//     time it was active on a billed plan that allows it and does not
//     include it.
//
// Usage is attributed by hour: an hour belongs to the plan in force at its
// start, except that the hour of a change belongs to the new plan.
// Every amount is rounded half to even once, per charge; the totals are
// exact sums of the charges.
func (s *Service) draft(ctx context.Context, tenantID uuid.UUID, m period.Month, window usage.Window, c usage.Counting) (Draft, error) {
	cat := s.plans.Catalogue()
	d := Draft{TenantID: tenantID, Month: m, Currency: cat.Currency, counting: c}
	hist, err := s.plans.History(ctx, tenantID, m.Start(), m.End())
	if err != nil {
		return Draft{}, err
	}
	ps, err := spans(cat, hist, m)
	if err != nil {
		return Draft{}, err
	}
	for _, sp := range ps {
		cs, err := s.priceSpan(ctx, tenantID, m, sp, window, c)
		if err != nil {
			return Draft{}, err
		}
		d.add(cs...)
		d.Billable = d.Billable || !sp.Plan.BillingDisabled
	}
	subs, err := s.subs.All(ctx, tenantID)
	if err != nil {
		return Draft{}, err
	}
	for i := len(subs) - 1; i >= 0; i-- { // oldest first
		if cs := addonCharges(cat, subs[i], ps, m); len(cs) > 0 {
			d.Billable = true
			d.add(cs...)
		}
	}
	return d, nil
}

// priceSpan prices one plan span of month m: its fee, the usage metered in
// window during it and its discount.
func (s *Service) priceSpan(ctx context.Context, tenantID uuid.UUID, m period.Month, sp planSpan, window usage.Window, c usage.Counting) ([]Charge, error) {
	share := shareOf(sp.From, sp.To, m)
	from, to := hourFloor(sp.From), hourFloor(sp.To)
	if sp.To.Equal(m.End()) {
		to = m.End()
	}
	from, to = maxTime(from, window.From), minTime(to, window.To)
	sums := map[string]usage.Quantity{}
	if to.After(from) {
		var err error
		if sums, err = s.usage.Sums(ctx, tenantID, from, to, c); err != nil {
			return nil, err
		}
	} else {
		to = from
	}
	bill := usage.Price(prorate(s.plans.Catalogue().Pricing(sp.Plan), share), s.usage.Types(), sums)
	out := make([]Charge, 0, len(bill.Lines)+2)
	out = append(out, Charge{
		Kind: LinePlan, Plan: sp.Plan, From: sp.From, To: sp.To, Share: share,
		UnitPrice: sp.Plan.FlatPrice, Amount: bill.Flat,
	})
	for _, l := range bill.Lines {
		out = append(out, Charge{
			Kind: LineUsage, Plan: sp.Plan, From: from, To: to, Share: share, Usage: l,
			UnitPrice: l.Rate.Price, Amount: l.Amount,
		})
	}
	if bill.Discount > 0 {
		out = append(out, Charge{
			Kind: LineDiscount, Plan: sp.Plan, From: sp.From, To: sp.To, Share: share, Coupons: bill.Coupons,
			UnitPrice: -bill.Discount, Amount: -bill.Discount,
		})
	}
	return out, nil
}

// addonCharges bills a subscription over the plan spans of month m: its
// add-on's monthly price, pro-rated to the time it was active on a billed
// plan that allows it and does not include it. A span whose plan does not
// allow the add-on bills nothing for it, whatever the subscription says.
func addonCharges(cat *plan.Catalogue, sub subscription.Subscription, ps []planSpan, m period.Month) []Charge {
	a, ok := cat.Addon(sub.Addon)
	if !ok || a.Price == 0 || sub.Included {
		return nil
	}
	subEnd := m.End()
	if sub.CancelledAt != nil {
		subEnd = *sub.CancelledAt
	}
	var out []Charge
	for _, sp := range ps {
		if sp.Plan.BillingDisabled || !slices.Contains(sp.Plan.AllowedAddons, sub.Addon) || slices.Contains(sp.Plan.IncludedAddons, sub.Addon) {
			continue
		}
		from, to := maxTime(sp.From, sub.StartedAt), minTime(sp.To, subEnd)
		if !to.After(from) {
			continue
		}
		share := shareOf(from, to, m)
		out = append(out, Charge{
			Kind: LineAddon, Plan: sp.Plan, From: from, To: to, Share: share, Addon: a,
			UnitPrice: a.Price, Amount: share.Apply(a.Price),
		})
	}
	return out
}

// add appends charges and keeps the totals.
func (d *Draft) add(cs ...Charge) {
	for _, c := range cs {
		d.Charges = append(d.Charges, c)
		if c.Amount < 0 {
			d.Discount -= c.Amount
		} else {
			d.Subtotal += c.Amount
		}
	}
	d.Total = d.Subtotal - d.Discount
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
