package invoice

import (
	"fmt"
	"strings"
	"time"

	"billing-api/server/payment"
)

// monthPlaces is how many decimals a share of a month is written with.
const monthPlaces = 6

// Lines are the draft's charges as an invoice prints them: the charges of
// billed plans, without usage lines where nothing priced was used and
// without zero fees. What is left out adds nothing to the totals.
func (d Draft) Lines() []Line {
	multi := d.billedPlans() > 1
	var out []Line
	for _, c := range d.Charges {
		if c.printed() {
			out = append(out, c.line(multi))
		}
	}
	return out
}

// billedPlans counts the plan spans of the month on billed plans.
func (d Draft) billedPlans() int {
	n := 0
	for _, c := range d.Charges {
		if c.Kind == LinePlan && c.Billed() {
			n++
		}
	}
	return n
}

// printed reports whether an invoice shows c.
func (c Charge) printed() bool {
	switch c.Kind {
	case LinePlan:
		return c.Billed() && c.UnitPrice > 0
	case LineUsage:
		return c.Billed() && c.Usage.Priced && c.Usage.Quantity > 0
	default:
		return c.Amount != 0
	}
}

// line describes c for people; multi names the plan on usage and discount
// lines when the month had more than one billed plan.
func (c Charge) line(multi bool) Line {
	on := ""
	if multi {
		on = fmt.Sprintf(" (on %s)", c.Plan.Name)
	}
	l := Line{Kind: c.Kind, UnitPrice: c.UnitPrice, Amount: c.Amount}
	switch c.Kind {
	case LinePlan:
		l.Description = fmt.Sprintf("%s plan (%s), %s", c.Plan.Title, c.Plan.Name, dateRange(c.From, c.To))
		l.Quantity = c.Share.Decimal(monthPlaces) + " month"
	case LineUsage:
		u := c.Usage
		l.Description = fmt.Sprintf("%s%s: %s %s used, %s included", u.Type.DisplayName, on,
			u.Quantity.Display(), u.Type.Unit, u.Rate.Included.Display())
		l.Quantity = fmt.Sprintf("%d × %s", u.Billable, u.Rate.BillableUnit)
	case LineAddon:
		l.Description = fmt.Sprintf("Add-on %s, %s", c.Addon.DisplayName, dateRange(c.From, c.To))
		l.Quantity = c.Share.Decimal(monthPlaces) + " month"
	case LineDiscount:
		titles := make([]string, len(c.Coupons))
		for i, cp := range c.Coupons {
			titles[i] = cp.Title
		}
		l.Description = "Discount" + on + ": " + strings.Join(titles, ", ")
		l.Quantity = "1"
	}
	return l
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
