package server

import (
	"strconv"
	"time"

	"billing-api/gen/api"
	"billing-api/server/period"
	"billing-api/server/usage"
)

// flatPriceUsageType names the fixed line that carries the plan's flat price.
const flatPriceUsageType = "plan_flat_price"

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

func cents(n int64) *string { return ptr(strconv.FormatInt(n, 10)) }

func wireBill(b usage.Bill, w usage.Window) api.UsageListCurrentUsageResp {
	status := func(q usage.Quantity) *api.SchemausageStatusType {
		if q > 0 {
			return ptr(api.SchemausageStatusTypeSTATUSACTIVE)
		}
		return ptr(api.SchemausageStatusTypeSTATUSNODATA)
	}
	items := []api.UsageCalculatedUsageItem{{
		UsageType: ptr(flatPriceUsageType), Fixed: ptr(true), MetricLabels: &[]string{flatPriceUsageType},
		Quantity: ptr(1.0), QuantityBillable: cents(1), UnitName: ptr("month"), UnitNameBillable: ptr("month"),
		Amount: cents(b.FlatCents), CurrencyCode: ptr(b.Currency), Status: ptr(api.SchemausageStatusTypeSTATUSACTIVE),
		StartTimestamp: ptr(w.From), EndTimestamp: ptr(w.To),
	}}
	for _, l := range b.Lines {
		labels := []string{l.Type.Name}
		billableUnit := l.Type.Unit
		if l.Priced {
			billableUnit = l.Rate.BillableUnit
			labels = append(labels, "included="+l.Rate.Included.String()+" "+l.Type.Unit,
				"price="+strconv.FormatInt(l.Rate.PriceCents, 10)+" per "+l.Rate.BillableUnit)
		}
		items = append(items, api.UsageCalculatedUsageItem{
			UsageType: ptr(l.Type.Name), Fixed: ptr(false), MetricLabels: &labels,
			Quantity: ptr(l.Quantity.Units()), QuantityBillable: cents(l.Billable),
			UnitName: ptr(l.Type.Unit), UnitNameBillable: ptr(billableUnit),
			Amount: cents(l.AmountCents), CurrencyCode: ptr(b.Currency), Status: status(l.Quantity),
			StartTimestamp: ptr(w.From), EndTimestamp: ptr(w.To),
		})
	}
	coupons := mapSlice(b.Coupons, func(c usage.Coupon) api.UsageCoupon {
		kind := api.DISCOUNTTYPEPERCENTAGE
		if c.Kind == usage.DiscountFixed {
			kind = api.DISCOUNTTYPEFIXEDAMOUNT
		}
		return api.UsageCoupon{Title: ptr(c.Title), DiscountType: &kind, DiscountAmount: c.Amount}
	})
	return api.UsageListCurrentUsageResp{
		UsageItems: &items, Coupons: ptr(nonNilSlice(coupons)),
		Discount: cents(b.DiscountCents), TotalCost: cents(b.TotalCents),
	}
}

func wireMonthTotal(m period.Month, total int64, currency string) api.UsageMonthlyUsageType {
	return api.UsageMonthlyUsageType{
		Amount: cents(total), CurrencyCode: ptr(currency),
		StartTimestamp: ptr(m.Start()), EndTimestamp: ptr(m.End()),
	}
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
