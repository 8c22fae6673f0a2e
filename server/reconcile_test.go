package server

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"billing-api/gen/api"
	"billing-api/server/fault"
	"billing-api/server/invoice"
	"billing-api/server/money"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/tenancy"
	"billing-api/server/transition"
	"billing-api/server/usage"
)

// What a customer sees about one month agrees, to the cent, at any moment:
// current_usage over the month so far totals its pending invoice's amount
// (and its items less its discount make that total); the pending month's
// draft PDF shows the same total; and once the month is closed its invoice,
// monthly_usage and current_usage over the whole month are that amount
// too. The property is checked over generated tenants — created before or
// during the month, moved between plans (both coupon kinds among them),
// taking and dropping add-ons mid-month, with usage in every hour — at
// random moments of the month, on both stores.
func TestWhatACustomerSeesAboutOneMonthAgrees(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	v := newEnv(t)
	ctx := context.Background()
	month := period.New(2026, time.October)
	r := rand.New(rand.NewPCG(17, 2026))
	tenants := make([]*reconciled, 5)
	for i := range tenants {
		// Created up to ten days before the month or in its first three
		// weeks, on a minute of no hour in particular.
		created := month.Start().Add(time.Duration(r.IntN(31*24*60)-10*24*60) * time.Minute)
		tenants[i] = v.reconciledTenant(r, fmt.Sprintf("gen%d", i), created)
	}
	for _, tn := range tenants {
		tn.plan(r, month)
	}
	checkpoints := map[time.Time]bool{}
	for range 6 {
		checkpoints[month.Start().Add(time.Duration(1+r.IntN(30*24))*time.Hour).Add(17*time.Minute)] = true
	}
	var events []reconcileEvent
	for _, tn := range tenants {
		events = append(events, tn.events...)
	}
	slices.SortStableFunc(events, func(a, b reconcileEvent) int { return a.at.Compare(b.at) })

	// Hour by hour through the month: the events of the hour, then its
	// usage (ingested as it happens, as a meter would), then the checks.
	for h := month.Start(); h.Before(month.End()); h = h.Add(time.Hour) {
		for len(events) > 0 && events[0].at.Before(h.Add(time.Hour)) {
			e := events[0]
			events = events[1:]
			if e.at.After(v.clock.Now()) {
				v.clock.Set(e.at)
			}
			e.do()
		}
		v.clock.Set(h.Add(59 * time.Minute))
		var batch []usage.RecordInput
		for _, tn := range tenants {
			batch = append(batch, tn.hourOfUsage(r, h)...)
		}
		if len(batch) > 0 {
			if _, err := v.app.Usage.Ingest(ctx, batch, false); err != nil {
				t.Fatalf("ingesting %s: %v", h, err)
			}
		}
		if checkpoints[h.Add(17*time.Minute)] {
			v.clock.Set(h.Add(17 * time.Minute))
			for _, tn := range tenants {
				tn.checkRunningMonth(month)
			}
		}
	}
	// Just before it ends, and once it has ended and closed.
	v.clock.Set(month.End().Add(-time.Microsecond))
	for _, tn := range tenants {
		tn.checkRunningMonth(month)
	}
	v.clock.Set(month.End().Add(invoice.DefaultGrace))
	res, err := v.app.Invoices.ClosePeriod(ctx, month, "")
	if err != nil {
		t.Fatal(err)
	}
	// The generator must have made the months this test is about: billed
	// tenants, plan changes within a month, add-ons and coupons.
	kinds := map[string]int{}
	for _, c := range res {
		if c.Outcome == invoice.ClosedFailed {
			t.Fatalf("closing %s: %v", c.Tenant, c.Err)
		}
		if c.Invoice == nil {
			continue
		}
		kinds["billed"]++
		d, err := v.app.Invoices.Detail(ctx, c.Tenant, c.Invoice.Number)
		if err != nil {
			t.Fatal(err)
		}
		plans := 0
		for _, l := range d.Lines {
			kinds[string(l.Kind)]++
			if l.Kind == invoice.LinePlan {
				plans++
			}
		}
		if plans > 1 {
			kinds["plan changes"]++
		}
		t.Logf("%s: %s, %d lines, total %s", c.Tenant, d.Number, len(d.Lines), money.Format(d.Total, d.Currency))
	}
	for _, k := range []string{"billed", "plan changes", string(invoice.LineAddon), string(invoice.LineUsage), string(invoice.LineDiscount)} {
		if kinds[k] == 0 {
			t.Fatalf("no %s among the generated tenants' invoices (%v): the generator is too tame", k, kinds)
		}
	}
	for _, tn := range tenants {
		tn.checkClosedMonth(month, res)
	}
	// Usage of the month that arrives after it closed is flagged late and
	// never billed: the closed month still reads as its invoice, in every
	// namespace.
	var late []usage.RecordInput
	for _, tn := range tenants {
		for _, r := range tn.hourOfUsage(r, month.End().Add(-time.Hour)) {
			r.ID += "-late"
			late = append(late, r)
		}
	}
	if got, err := v.app.Usage.Ingest(ctx, late, false); err != nil || got.Late != len(late) {
		t.Fatalf("late records: %+v %v", got, err)
	}
	for _, tn := range tenants {
		tn.checkClosedMonth(month, res)
	}
}

// reconciled is a generated tenant: its token, what happens to it during
// the month, and the series it meters.
type reconciled struct {
	v       *env
	name    string
	tok     string
	p       tenancy.Principal
	created time.Time
	events  []reconcileEvent
	series  []usage.Series
}

type reconcileEvent struct {
	at time.Time
	do func()
}

// reconcileNamespaces are where the generated tenants' usage happens. (A
// record may name system too; its share is then part of what system shows,
// the whole tenant, and has no view of its own to add up here.)
var reconcileNamespaces = []string{"shop", "blog", "api"}

var reconcileContact = &payment.Contact{Address1: "1 Main St", City: "Seattle", ZipCode: "98101", Country: "US"}

// reconciledTenant creates a tenant at created, with a PRIMARY card, on
// FREE.
func (v *env) reconciledTenant(r *rand.Rand, name string, created time.Time) *reconciled {
	v.t.Helper()
	tok := v.tenantSince(created, name, reconcileNamespaces...)
	t, err := v.tenancy.Tenant(context.Background(), name)
	if err != nil {
		v.t.Fatal(err)
	}
	tn := &reconciled{v: v, name: name, tok: tok, created: created,
		p: tenancy.Principal{TenantID: t.ID, TenantName: name, TokenName: "gen", Role: tenancy.RoleAdmin}}
	now := v.clock.Now()
	v.clock.Set(created)
	if _, err := v.app.Payments.Create(context.Background(), tn.p, payment.CreateInput{Token: "tok_visa_4242", Contact: reconcileContact}); err != nil {
		v.t.Fatal(err)
	}
	v.clock.Set(now)
	// Each type metered by one to three objects, each in a namespace of
	// its own or not.
	for _, typ := range []string{"lb_http_requests", "lb_data_transfer", "waap_requests", "cdn_data_transfer"} {
		if r.IntN(4) == 0 {
			continue
		}
		for i := range 1 + r.IntN(3) {
			ns := reconcileNamespaces[r.IntN(len(reconcileNamespaces))]
			tn.series = append(tn.series, usage.Series{Namespace: ns, UsageType: typ, ObjectName: fmt.Sprint("edge-", i)})
		}
	}
	return tn
}

// plan schedules the tenant's month: one to three plan changes and a few
// add-on subscriptions and cancellations, at random minutes after it was
// created.
func (tn *reconciled) plan(r *rand.Rand, month period.Month) {
	from := month.Start().Add(time.Hour)
	if tn.created.After(month.Start()) {
		from = tn.created.Add(time.Hour)
	}
	at := func() time.Time {
		span := month.End().Add(-time.Hour).Sub(from)
		return from.Add(time.Duration(r.Int64N(int64(span))).Truncate(time.Minute))
	}
	for range 1 + r.IntN(3) {
		to := []string{"INDIVIDUAL", "TEAM", "TEAM", "ORGANIZATION", "FREE"}[r.IntN(5)]
		tn.events = append(tn.events, reconcileEvent{at: at(), do: func() { tn.changePlan(to) }})
	}
	for range r.IntN(4) {
		addon := []string{"f5xc_waap_standard", "f5xc_content_delivery_network_standard", "f5xc_synthetic_monitoring_standard",
			"f5xc_appstack_standard", "f5xc_securemesh_standard"}[r.IntN(5)]
		tn.events = append(tn.events, reconcileEvent{at: at(), do: func() { tn.subscribe(addon) }})
		if r.IntN(2) == 0 {
			tn.events = append(tn.events, reconcileEvent{at: at(), do: func() { tn.unsubscribe(addon) }})
		}
	}
}

// changePlan moves the tenant through a plan transition, approving one
// that waits for an operator.
func (tn *reconciled) changePlan(to string) {
	ctx := context.Background()
	tr, err := tn.v.app.Transitions.Initiate(ctx, tn.p, to, transition.Payload{BillingAddress: reconcileContact, Domain: tn.name + ".example"})
	if errors.Is(err, fault.ErrConflict) {
		return // already on it
	}
	if err != nil {
		tn.v.t.Fatalf("%s to %s: %v", tn.name, to, err)
	}
	if tr.State == transition.WaitingForApproval {
		if _, err := tn.v.app.Transitions.Approve(ctx, tr.ID); err != nil {
			tn.v.t.Fatalf("approving %s to %s: %v", tn.name, to, err)
		}
	}
}

// subscribe takes the add-on if the plan allows it and has room.
func (tn *reconciled) subscribe(addon string) {
	_, err := tn.v.app.Subscriptions.Subscribe(context.Background(), tn.p, addon)
	if err != nil && !errors.Is(err, fault.ErrForbidden) && !errors.Is(err, fault.ErrConflict) {
		tn.v.t.Fatalf("%s subscribing to %s: %v", tn.name, addon, err)
	}
}

func (tn *reconciled) unsubscribe(addon string) {
	err := tn.v.app.Subscriptions.Unsubscribe(context.Background(), tn.p, addon)
	if err != nil && !errors.Is(err, fault.ErrNotFound) && !errors.Is(err, fault.ErrConflict) {
		tn.v.t.Fatalf("%s cancelling %s: %v", tn.name, addon, err)
	}
}

// hourOfUsage is one record per series in hour h, once the tenant exists:
// mostly small, now and then a burst well past any allowance.
func (tn *reconciled) hourOfUsage(r *rand.Rand, h time.Time) []usage.RecordInput {
	if h.Before(tn.created) {
		return nil
	}
	units := map[string]string{"lb_http_requests": "requests", "waap_requests": "requests", "lb_data_transfer": "GB", "cdn_data_transfer": "GB"}
	var out []usage.RecordInput
	for _, s := range tn.series {
		q := r.Float64() * 40_000
		if units[s.UsageType] == "GB" {
			q = r.Float64() * 0.8
		}
		if r.IntN(50) == 0 {
			q *= 2_000
		}
		out = append(out, usage.RecordInput{
			ID: fmt.Sprintf("%s-%s-%s-%d", s.Namespace, s.UsageType, s.ObjectName, h.Unix()), Tenant: tn.name, Namespace: s.Namespace,
			UsageType: s.UsageType, ObjectName: s.ObjectName, Unit: units[s.UsageType], Quantity: q,
			Timestamp: h.Add(time.Duration(r.IntN(3600)) * time.Second),
		})
	}
	return out
}

// currentUsage asks current_usage with body in system and checks its own
// arithmetic: the items' amounts less the discount are the total.
func (tn *reconciled) currentUsage(body string) int64 {
	tn.v.t.Helper()
	total, _ := tn.currentUsageIn("system", body)
	return total
}

// currentUsageIn asks current_usage with body in namespace; it returns the
// total and the usage items' amounts by usage type.
func (tn *reconciled) currentUsageIn(namespace, body string) (int64, map[string]int64) {
	tn.v.t.Helper()
	res := tn.v.call(http.MethodPost, "/api/web/namespaces/"+namespace+"/current_usage", tn.tok, body)
	if res.Status != http.StatusOK {
		tn.v.t.Fatalf("%s current_usage %s: %d %s", tn.name, body, res.Status, res.Body)
	}
	var cur api.UsageListCurrentUsageResp
	res.decode(tn.v.t, &cur)
	var items int64
	byType := map[string]int64{}
	for _, it := range *cur.UsageItems {
		a := mustInt(tn.v.t, *it.Amount)
		items += a
		if !*it.Fixed {
			byType[*it.UsageType] += a
		}
	}
	total, discount := mustInt(tn.v.t, *cur.TotalCost), mustInt(tn.v.t, *cur.Discount)
	if items-discount != total {
		tn.v.t.Fatalf("%s current_usage in %s: items %d − discount %d ≠ total %d: %s", tn.name, namespace, items, discount, total, res.Body)
	}
	return total, byType
}

// checkNamespaceShares: over a window, every namespace's usage amounts for
// a usage type add up to the tenant's, to the cent.
func (tn *reconciled) checkNamespaceShares(body string) {
	t := tn.v.t
	t.Helper()
	_, whole := tn.currentUsageIn("system", body)
	sum := map[string]int64{}
	for _, ns := range reconcileNamespaces {
		_, part := tn.currentUsageIn(ns, body)
		for typ, a := range part {
			sum[typ] += a
		}
	}
	for typ, a := range whole {
		if sum[typ] != a {
			t.Fatalf("%s at %s, %s: the namespaces' %s amounts sum to %d, the tenant's is %d", tn.name, tn.v.clock.Now(), body, typ, sum[typ], a)
		}
	}
}

// monthlyIn is monthly_usage's total for month, asked in namespace.
func (tn *reconciled) monthlyIn(namespace string, month period.Month) int64 {
	t := tn.v.t
	t.Helper()
	res := tn.v.call(http.MethodPost, "/api/web/namespaces/"+namespace+"/monthly_usage", tn.tok, `{"namespace":"`+namespace+`"}`)
	var months api.UsageListMonthlyUsageResp
	res.decode(t, &months)
	for _, m := range *months.MonthlyUsageItems {
		if m.StartTimestamp.Equal(month.Start()) {
			return mustInt(t, *m.Amount)
		}
	}
	t.Fatalf("%s: monthly_usage in %s lacks %s: %s", tn.name, namespace, month, res.Body)
	return 0
}

// pendingAmount is the amount the list shows for month (0 when it has no
// pending entry: nothing billed).
func (tn *reconciled) pendingAmount(month period.Month) (int64, bool) {
	for _, l := range tn.v.listInvoices(tn.tok, "") {
		if *l.Name == invoice.PendingName(month) {
			return mustInt(tn.v.t, *l.Amount), true
		}
	}
	return 0, false
}

// checkRunningMonth: current_usage of the month so far is the pending
// invoice, and the draft PDF shows that total.
func (tn *reconciled) checkRunningMonth(month period.Month) {
	t := tn.v.t
	t.Helper()
	if tn.v.clock.Now().Before(tn.created) {
		return
	}
	cur := tn.currentUsage(`{}`)
	tn.checkNamespaceShares(`{}`)
	if since := tn.currentUsage(`{"from":"` + month.Start().Format(time.RFC3339) + `"}`); since != cur {
		t.Fatalf("%s at %s: current_usage from the month's start %d, by default %d", tn.name, tn.v.clock.Now(), since, cur)
	}
	pending, listed := tn.pendingAmount(month)
	if !listed {
		if cur != 0 {
			t.Fatalf("%s at %s: current_usage totals %d but no pending invoice is listed", tn.name, tn.v.clock.Now(), cur)
		}
		return
	}
	if pending != cur {
		t.Fatalf("%s at %s: current_usage totals %d, the pending invoice %d", tn.name, tn.v.clock.Now(), cur, pending)
	}
	res := tn.v.call(http.MethodGet, "/api/web/namespaces/system/usage/invoice_pdf?name="+invoice.PendingName(month), tn.tok, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("%s draft PDF: %d %s", tn.name, res.Status, res.Body)
	}
	var doc api.InvoiceDownloadInvoicePdfRsp
	res.decode(t, &doc)
	text := pdfText(t, *doc.Pdf)
	if want := money.Format(money.Amount(cur), "USD"); !strings.Contains(text, "DRAFT") || !strings.Contains(text, want) {
		t.Fatalf("%s draft PDF lacks DRAFT or the total %s:\n%s", tn.name, want, text)
	}
}

// checkClosedMonth: the invoice (if any), monthly_usage and current_usage
// over the whole month are one amount.
func (tn *reconciled) checkClosedMonth(month period.Month, closed []invoice.TenantClose) {
	t := tn.v.t
	t.Helper()
	var billed int64
	for _, c := range closed {
		if c.Tenant == tn.name && c.Invoice != nil {
			billed = int64(c.Invoice.Total)
		}
	}
	window := `{"from":"` + month.Start().Format(time.RFC3339) + `","to":"` + month.End().Format(time.RFC3339) + `"}`
	whole := tn.currentUsage(window)
	tn.checkNamespaceShares(window)
	// monthly_usage in each namespace is its share of the invoice's usage
	// lines: together, all of them.
	var invoiced, shares int64
	for _, c := range closed {
		if c.Tenant == tn.name && c.Invoice != nil {
			d, err := tn.v.app.Invoices.Detail(context.Background(), tn.name, c.Invoice.Number)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range d.Lines {
				if l.Kind == invoice.LineUsage {
					invoiced += int64(l.Amount)
				}
			}
		}
	}
	for _, ns := range reconcileNamespaces {
		shares += tn.monthlyIn(ns, month)
	}
	if shares != invoiced {
		t.Fatalf("%s: monthly_usage in the namespaces sums to %d, the invoice's usage lines to %d", tn.name, shares, invoiced)
	}
	if whole != billed {
		t.Fatalf("%s: current_usage over the closed month %d, its invoice %d", tn.name, whole, billed)
	}
	res := tn.v.call(http.MethodPost, "/api/web/namespaces/system/monthly_usage", tn.tok, `{}`)
	var months api.UsageListMonthlyUsageResp
	res.decode(t, &months)
	for _, m := range *months.MonthlyUsageItems {
		if m.StartTimestamp.Equal(month.Start()) {
			if got := mustInt(t, *m.Amount); got != billed {
				t.Fatalf("%s: monthly_usage %d, the invoice %d", tn.name, got, billed)
			}
			return
		}
	}
	t.Fatalf("%s: monthly_usage lacks %s: %s", tn.name, month, res.Body)
}
