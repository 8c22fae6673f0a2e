package server

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"billing-api/server/invoice"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/tenancy"
	"billing-api/server/transition"
)

// BenchmarkListInvoices lists a year of invoices and the running month's
// (cached) pending one, as the bench's listInvoices does: the tenant was
// created twelve months back on the test clock, moved to TEAM, and each
// month was closed two days after it ended.
func BenchmarkListInvoices(b *testing.B) {
	v := newBenchEnv(b)
	ctx := context.Background()
	now := v.clock.Now()
	running := period.Of(now)
	first := running.Add(-12)
	v.clock.Set(first.Start())
	if _, err := v.tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: "yearly"}); err != nil {
		b.Fatal(err)
	}
	tn, err := v.tenancy.Tenant(ctx, "yearly")
	if err != nil {
		b.Fatal(err)
	}
	p := tenancy.Principal{TenantID: tn.ID, TenantName: tn.Name, Role: tenancy.RoleAdmin, Operator: true}
	contact := &payment.Contact{Address1: "1 Main St", City: "Seattle", ZipCode: "98101", Country: "US"}
	if _, err := v.app.Payments.Create(ctx, p, payment.CreateInput{Token: "tok_visa_4242", Contact: contact}); err != nil {
		b.Fatal(err)
	}
	if _, err := v.app.Transitions.Initiate(ctx, p, "TEAM", transition.Payload{BillingAddress: contact}); err != nil {
		b.Fatal(err)
	}
	for m := first; m.Before(running); m = m.Next() {
		v.clock.Set(m.End().Add(invoice.DefaultGrace))
		if res, err := v.app.Invoices.ClosePeriod(ctx, m, "yearly"); err != nil || len(res) != 1 || res[0].Outcome != invoice.ClosedIssued {
			b.Fatalf("closing %s: %+v %v", m, res, err)
		}
	}
	v.clock.Set(now)
	v.tok = v.token("yearly", tenancy.RoleAdmin)
	v.run(b, http.MethodGet, "/api/web/namespaces/system/usage/invoices/custom_list", "", http.StatusOK)
}

// BenchmarkListCurrentUsage answers current_usage for a tenant on TEAM since
// the month began, with three add-ons and usage of four types: the month's
// draft is cached, so this is the cache hit and the answer's mapping.
func BenchmarkListCurrentUsage(b *testing.B) {
	v := newBenchEnv(b)
	ctx := context.Background()
	now := v.clock.Now()
	v.clock.Set(period.Of(now).Start())
	v.setPlan("acme", "TEAM")
	tn, err := v.tenancy.Tenant(ctx, "acme")
	if err != nil {
		b.Fatal(err)
	}
	p := tenancy.Principal{TenantID: tn.ID, TenantName: tn.Name, Role: tenancy.RoleAdmin, Operator: true}
	for _, a := range []string{"f5xc_waap_advanced", "f5xc_appstack_standard", "f5xc_synthetic_monitoring_standard"} {
		if _, err := v.app.Subscriptions.Subscribe(ctx, p, a); err != nil {
			b.Fatal(err)
		}
	}
	v.clock.Set(now)
	for i, typ := range []string{"lb_http_requests", "waap_requests", "dns_queries", "synthetic_checks"} {
		recs := reqs("acme", "shop", fmt.Sprint("o", i), now.Add(-24*time.Hour), 70_000_000)
		recs[0].UsageType, recs[0].ID = typ, typ
		recs[0].Unit = map[string]string{"dns_queries": "queries", "synthetic_checks": "checks"}[typ]
		if recs[0].Unit == "" {
			recs[0].Unit = "requests"
		}
		v.ingestOK(recs)
	}
	v.run(b, http.MethodPost, "/api/web/namespaces/system/current_usage", `{}`, http.StatusOK)
}
