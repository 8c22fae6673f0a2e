package usage

import (
	"fmt"
	"regexp"

	"billing-api/server/fault"
	"billing-api/server/money"
)

// Type is a kind of metered usage: what records name in usage_type.
type Type struct {
	Name string
	// Service is the product the usage belongs to; usage_summary groups by it.
	Service     string
	DisplayName string
	// Unit is the unit every record of the type carries (its quantity is in it).
	Unit string
}

// Rate prices one usage type in a plan. Per calendar month the first
// Included units are free; beyond them, usage is billed in billable units of
// UnitSize units at Price each.
type Rate struct {
	UsageType    string
	BillableUnit string
	UnitSize     Quantity
	Included     Quantity
	Price        money.Amount
}

// DiscountKind is how a coupon discounts.
type DiscountKind string

const (
	// DiscountPercentage takes Amount hundredths of a percent (1235 = 12.35%)
	// off every priced line.
	DiscountPercentage DiscountKind = "PERCENTAGE"
	// DiscountFixed takes Amount (minor units of the plan's currency) off
	// the total, never below zero.
	DiscountFixed DiscountKind = "FIXED_AMOUNT"
)

// Coupon is a discount a plan grants on its monthly bill.
type Coupon struct {
	Title  string
	Kind   DiscountKind
	Amount int32
}

// Pricing is what prices a tenant's month: its plan's flat price, rate card
// and coupons.
type Pricing struct {
	Plan            string
	Currency        string
	FlatPrice       money.Amount
	BillingDisabled bool
	Rates           map[string]Rate
	Coupons         []Coupon
}

// Limits of the catalogue's numbers, so that no line's amount can leave int64.
const (
	MaxPrice    = 1_000_000
	minUnitSize = QuantityScale // one unit
)

var (
	typeNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	unitPattern     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 ._/-]{0,31}$`)
)

// CheckType adds the broken rules of a usage type to v.
func CheckType(v *fault.Violations, field string, t Type) {
	if !typeNamePattern.MatchString(t.Name) {
		v.Add(field+".name", "pattern", "must be 1-63 lower-case letters, digits or '_', starting with a letter")
	}
	if t.Service == "" {
		v.Add(field+".service", "required", "is required")
	}
	if t.DisplayName == "" {
		v.Add(field+".display_name", "required", "is required")
	}
	if !unitPattern.MatchString(t.Unit) {
		v.Add(field+".unit", "pattern", "must be 1-32 letters, digits, spaces or . _ / -, starting with a letter")
	}
}

// CheckRate adds the broken rules of a rate to v; types are the catalogue's
// usage types by name.
func CheckRate(v *fault.Violations, field string, r Rate, types map[string]Type) {
	if _, ok := types[r.UsageType]; !ok {
		v.Add(field, "ref", fmt.Sprintf("%q is not one of the catalogue's usage_types", r.UsageType))
	}
	if r.BillableUnit == "" {
		v.Add(field+".billable_unit", "required", "is required")
	}
	if r.UnitSize < minUnitSize {
		v.Add(field+".unit_size", "minimum", "must be at least 1 unit")
	}
	if r.Price < 0 || r.Price > MaxPrice {
		v.Add(field+".price", "range", fmt.Sprintf("must be 0 to %d minor units of the currency", MaxPrice))
	}
}

// CheckCoupon adds the broken rules of a coupon to v.
func CheckCoupon(v *fault.Violations, field string, c Coupon) {
	if c.Title == "" {
		v.Add(field+".title", "required", "is required")
	}
	switch c.Kind {
	case DiscountPercentage:
		if c.Amount < 1 || c.Amount > 10000 {
			v.Add(field+".amount", "range", "a percentage is 1 to 10000 hundredths of a percent")
		}
	case DiscountFixed:
		if c.Amount < 1 {
			v.Add(field+".amount", "minimum", "a fixed amount is at least 1 minor unit of the currency")
		}
	default:
		v.Add(field+".type", "enum", fmt.Sprintf("must be %s or %s", DiscountPercentage, DiscountFixed))
	}
}
