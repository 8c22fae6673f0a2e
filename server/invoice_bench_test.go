package server

import (
	"context"
	"net/http"
	"testing"

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
