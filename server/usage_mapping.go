package server

import (
	"strconv"
	"time"

	"billing-api/gen/api"
	"billing-api/server/invoice"
	"billing-api/server/money"
	"billing-api/server/usage"
)

// The usage types of current_usage's lines that do not come from metering.
const (
	// planFeeUsageType is a plan's flat price for the part of the month the
	// tenant was on it.
	planFeeUsageType = "plan_flat_price"
	// addonFeeUsageType is an add-on's price for the part of the month it
	// was active.
	addonFeeUsageType = "addon_fee"
)

func wireDetailLine(l usage.DetailLine) api.UsageUsageItem {
	return api.UsageUsageItem{
		MetricLabel:          l.Namespace + "/" + l.UsageType + "/" + l.ObjectName,
		HourlyBreakdownQuery: l.Query,
		Namespace:            ptr(l.Namespace), UsageType: ptr(l.UsageType), ObjectName: ptr(l.ObjectName),
		UnitName: ptr(l.Unit), Quantity: ptr(l.Quantity.Units()),
		StartTimestamp: ptr(l.Window.From), EndTimestamp: ptr(l.Window.To),
	}
}

func wireHourlyItem(s usage.Series, it usage.HourlyItem) api.UsageHourlyItem {
	return api.UsageHourlyItem{
		Deployment: s.ObjectName, Container: ptr(""), UnitName: ptr(it.Unit), Quantity: ptr(it.Quantity.Units()),
		StartTimestamp: ptr(it.Start), EndTimestamp: ptr(it.Start.Add(time.Hour)),
	}
}

func cents(a money.Amount) *string { return ptr(a.String()) }

// wireCurrentUsage shows a month's draft as current_usage: a line for each
// plan fee, usage line and add-on the month's invoice will have (and the
// rate card's unused types, at nothing), its coupons, its discount and its
// total. The lines' amounts less the discount are the total. Usage lines
// are dated by the window asked for.
func wireCurrentUsage(d invoice.Draft, w usage.Window) api.UsageListCurrentUsageResp {
	items := make([]api.UsageCalculatedUsageItem, 0, len(d.Charges))
	coupons := []api.UsageCoupon{}
	seen := map[usage.Coupon]bool{}
	for _, c := range d.Charges {
		labels := []string{}
		item := api.UsageCalculatedUsageItem{
			Amount: cents(c.Amount), CurrencyCode: ptr(d.Currency), StartTimestamp: ptr(c.From), EndTimestamp: ptr(c.To),
		}
		fee := func(usageType string, price money.Amount) {
			labels = append(labels, usageType)
			if usageType == addonFeeUsageType {
				labels = append(labels, "addon="+c.Addon.Name)
			}
			labels = append(labels, "plan="+c.Plan.Name, "price="+price.String()+" per month")
			item.UsageType, item.Fixed = ptr(usageType), ptr(true)
			item.Quantity, item.QuantityBillable = ptr(c.Share.Float64()), ptr("1")
			item.UnitName, item.UnitNameBillable = ptr("month"), ptr("month")
			item.Status = ptr(api.SchemausageStatusTypeSTATUSACTIVE)
		}
		switch c.Kind {
		case invoice.LinePlan:
			fee(planFeeUsageType, c.UnitPrice)
		case invoice.LineAddon:
			fee(addonFeeUsageType, c.UnitPrice)
		case invoice.LineUsage:
			l := c.Usage
			billableUnit := l.Type.Unit
			labels = append(labels, l.Type.Name, "plan="+c.Plan.Name)
			if l.Priced {
				billableUnit = l.Rate.BillableUnit
				labels = append(labels, "included="+l.Rate.Included.String()+" "+l.Type.Unit,
					"price="+l.Rate.Price.String()+" per "+l.Rate.BillableUnit)
			}
			status := api.SchemausageStatusTypeSTATUSNODATA
			if l.Quantity > 0 {
				status = api.SchemausageStatusTypeSTATUSACTIVE
			}
			item.UsageType, item.Fixed = ptr(l.Type.Name), ptr(false)
			item.Quantity, item.QuantityBillable = ptr(l.Quantity.Units()), ptr(strconv.FormatInt(l.Billable, 10))
			item.UnitName, item.UnitNameBillable = ptr(l.Type.Unit), ptr(billableUnit)
			item.Status = ptr(status)
			item.StartTimestamp, item.EndTimestamp = within(c.From, c.To, w)
		case invoice.LineDiscount:
			for _, cp := range c.Coupons {
				if !seen[cp] {
					seen[cp] = true
					coupons = append(coupons, wireCoupon(cp))
				}
			}
			continue
		}
		item.MetricLabels = &labels
		items = append(items, item)
	}
	return api.UsageListCurrentUsageResp{
		UsageItems: &items, Coupons: &coupons, Discount: cents(d.Discount), TotalCost: cents(d.Total),
	}
}

func wireCoupon(c usage.Coupon) api.UsageCoupon {
	kind := api.DISCOUNTTYPEPERCENTAGE
	if c.Kind == usage.DiscountFixed {
		kind = api.DISCOUNTTYPEFIXEDAMOUNT
	}
	return api.UsageCoupon{Title: ptr(c.Title), DiscountType: &kind, DiscountAmount: c.Amount}
}

func wireMonthTotal(m invoice.MonthTotal) api.UsageMonthlyUsageType {
	return api.UsageMonthlyUsageType{
		Amount: cents(m.Total), CurrencyCode: ptr(m.Currency),
		StartTimestamp: ptr(m.Month.Start()), EndTimestamp: ptr(m.Month.End()),
	}
}

// within clips [from, to) to the window w (an empty range at its start
// when they do not meet).
func within(from, to time.Time, w usage.Window) (*time.Time, *time.Time) {
	if from.Before(w.From) {
		from = w.From
	}
	if to.After(w.To) {
		to = w.To
	}
	if to.Before(from) {
		to = from
	}
	return &from, &to
}

func wireSummaryItem(it usage.SummaryItem, w usage.Window) api.BillingUsageSummaryItem {
	return api.BillingUsageSummaryItem{
		Name: ptr(it.Type.DisplayName), Service: ptr(it.Type.Service),
		UsageMetricData: &api.BillingUsageMetricData{
			Unit:        ptr(it.Type.Unit),
			MetricValue: &api.SchemabillingMetricValue{Timestamp: ptr(float64(w.To.Unix())), Value: ptr(it.Quantity.String())},
		},
		BillingMetricData: &api.BillingBillingMetricData{Unit: ptr(it.BillableUnit), Value: ptr(it.Billable)},
	}
}
