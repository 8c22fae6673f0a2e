package usage

import (
	"slices"

	"billing-api/server/money"
)

// PricedLine is one usage type's month (or part of it), priced.
type PricedLine struct {
	Type     Type
	Quantity Quantity
	// Rate is the plan's rate for the type; Priced is false when the plan
	// has none (the usage is reported, not billed).
	Rate   Rate
	Priced bool
	// Billable is the number of billable units beyond the included
	// quantity: a started first unit counts as one, beyond it units are
	// rounded down (the vendor's rule for quantity_billable).
	Billable int64
	// Amount is Billable × the rate's price; Discount is what the plan's
	// percentage coupons take off it.
	Amount   money.Amount
	Discount money.Amount
}

// Bill is a priced month: the plan's flat price and its usage lines, with
// the coupons applied. Every total is the exact sum of its parts:
// Subtotal = Flat + Σ line amounts, Discount = FlatDiscount + Σ line
// discounts + FixedDiscount, Total = Subtotal − Discount.
type Bill struct {
	Currency      string
	Flat          money.Amount
	FlatDiscount  money.Amount
	Lines         []PricedLine
	Coupons       []Coupon
	FixedDiscount money.Amount
	Subtotal      money.Amount
	Discount      money.Amount
	Total         money.Amount
}

// Price prices usage (by usage type) under p. Percentage coupons discount
// each line, rounded half to even per line; fixed-amount coupons then come
// off the total, never taking it below zero. A plan with billing disabled
// charges nothing. Lines come sorted by usage type; every type of the rate
// card has one, used or not.
func Price(p Pricing, types map[string]Type, usage map[string]Quantity) Bill {
	b := Bill{Currency: p.Currency, Coupons: p.Coupons}
	names := make([]string, 0, len(usage)+len(p.Rates))
	for name := range p.Rates {
		names = append(names, name)
	}
	for name := range usage {
		if _, rated := p.Rates[name]; !rated {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var percent int64
	for _, c := range p.Coupons {
		if c.Kind == DiscountPercentage {
			percent += int64(c.Amount)
		}
	}
	off := money.Percent(min(percent, 10000))
	if !p.BillingDisabled {
		b.Flat = p.FlatPrice
		b.FlatDiscount = off.Apply(b.Flat)
	}
	b.Subtotal, b.Discount = b.Flat, b.FlatDiscount
	for _, name := range names {
		t, ok := types[name]
		if !ok {
			t = Type{Name: name, Service: "unknown", DisplayName: name}
		}
		l := PricedLine{Type: t, Quantity: usage[name]}
		l.Rate, l.Priced = p.Rates[name]
		if l.Priced {
			l.Billable = BillableUnits(l.Quantity, l.Rate)
			if !p.BillingDisabled {
				l.Amount = l.Rate.Price.Times(l.Billable)
				l.Discount = off.Apply(l.Amount)
			}
		}
		b.Subtotal += l.Amount
		b.Discount += l.Discount
		b.Lines = append(b.Lines, l)
	}
	for _, c := range p.Coupons {
		if c.Kind == DiscountFixed {
			b.FixedDiscount += money.Amount(c.Amount)
		}
	}
	b.FixedDiscount = min(b.FixedDiscount, b.Subtotal-b.Discount)
	b.Discount += b.FixedDiscount
	b.Total = b.Subtotal - b.Discount
	return b
}

// BillableUnits is how many billable units q comes to under r: nothing
// within the included quantity; beyond it, a started first unit counts as
// one and further units are rounded down.
func BillableUnits(q Quantity, r Rate) int64 {
	over := q - r.Included
	if over <= 0 {
		return 0
	}
	return max(1, int64(over/r.UnitSize))
}
