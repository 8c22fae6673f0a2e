package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"billing-api/server/invoice"
	"billing-api/server/payment"
	"billing-api/server/period"
)

// The demo tenant has three closed months of invoices, all paid: the
// oldest by the SECONDARY method after the PRIMARY was declined (as the
// invoice's payment records say), the next two by the PRIMARY; the running
// month is pending; and each invoice's PDF comes through the tenant API.
// Seeded at a time well past the grace period, and at one within it, when
// the demo usage also begins before the 2nd of the oldest month.
func TestDemoSeedHasThreeMonthsOfInvoices(t *testing.T) {
	t.Parallel()
	for _, now := range []time.Time{
		time.Date(2026, 3, 18, 14, 35, 0, 0, time.UTC),
		time.Date(2026, 5, 1, 0, 30, 0, 0, time.UTC),
	} {
		t.Run(now.Format("2006-01-02T15:04"), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a, openAt := openTestApp(t, now)
			secret, err := seedDemo(ctx, a, openAt)
			if err != nil {
				t.Fatal(err)
			}
			tn, err := a.Tenancy.Tenant(ctx, demoTenant)
			if err != nil {
				t.Fatal(err)
			}

			// The tenant's list: the running month, then three invoices,
			// newest first.
			list, err := a.Invoices.List(ctx, tn.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			running := period.Of(now)
			if len(list) != 1+demoClosedMonths {
				t.Fatalf("%d entries in the demo tenant's invoice list, want the running month and %d invoices: %+v", len(list), demoClosedMonths, list)
			}
			if l := list[0]; !l.Active || l.Status != invoice.StatusPending || l.Month != running || l.Amount <= 0 {
				t.Fatalf("first entry %+v, want the running month %s pending", l, running)
			}
			for i, l := range list[1:] {
				month := running.Add(-1 - i)
				if l.Active || l.Status != invoice.StatusPaid || l.Month != month || !strings.HasPrefix(l.Name, "INV-"+month.String()+"-") {
					t.Fatalf("entry %d: %+v, want the PAID invoice of %s", i+1, l, month)
				}
			}

			// How each was paid, from its payment records.
			for i, l := range list[1:] {
				d, err := a.Invoices.Detail(ctx, demoTenant, l.Name)
				if err != nil {
					t.Fatal(err)
				}
				type attempt struct {
					role    payment.Role
					outcome invoice.Outcome
				}
				var got []attempt
				for _, p := range d.Payments {
					if p.Kind != invoice.PaymentCharge || p.Amount != d.Total {
						t.Fatalf("%s: payment %+v, want charges of the total %d", l.Name, p, d.Total)
					}
					got = append(got, attempt{p.MethodRole, p.Outcome})
				}
				want := []attempt{{payment.RolePrimary, invoice.OutcomeSucceeded}}
				if i == demoClosedMonths-1 {
					want = []attempt{{payment.RolePrimary, invoice.OutcomeDeclined}, {payment.RoleSecondary, invoice.OutcomeSucceeded}}
				}
				if len(got) != len(want) || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
					t.Fatalf("%s: payment attempts %+v, want %+v", l.Name, got, want)
				}
				if i == demoClosedMonths-1 {
					assertFirstDemoInvoice(t, d.Invoice)
				}
				if d.IssuedAt.After(now) || d.IssuedAt.Before(d.Period.End()) || d.IssuedAt.After(d.Period.End().Add(invoice.DefaultGrace)) {
					t.Fatalf("%s issued at %s, want within the grace period after %s", l.Name, d.IssuedAt, d.Period.End())
				}
				if len(d.Late) != 0 {
					t.Fatalf("%s: usage arrived after it was issued: %v", l.Name, d.Late)
				}
			}

			// The same list through the tenant API with the printed token,
			// then each PDF.
			h, err := a.HTTPHandler()
			if err != nil {
				t.Fatal(err)
			}
			var wire struct {
				Invoices []struct{ Name, Status string }
			}
			if err := json.Unmarshal(demoGet(t, h, secret, "/api/web/namespaces/system/usage/invoices/custom_list"), &wire); err != nil {
				t.Fatal(err)
			}
			if len(wire.Invoices) != len(list) || wire.Invoices[0].Status != "STATUS_PENDING" || wire.Invoices[1].Name != list[1].Name || wire.Invoices[1].Status != "STATUS_PAID" {
				t.Fatalf("custom_list %+v, want %+v", wire.Invoices, list)
			}
			for _, l := range list[1:] {
				doc := demoInvoicePDF(t, h, secret, l.Name)
				if !bytes.HasPrefix(doc, []byte("%PDF-")) || !bytes.Contains(doc, []byte("%%EOF")) {
					t.Fatalf("%s: %d bytes that are not a PDF: %q...", l.Name, len(doc), doc[:min(len(doc), 16)])
				}
			}
		})
	}
}

// assertFirstDemoInvoice checks the oldest demo invoice bills the plan
// from the transition on (pro-rated), the add-on from mid-month and usage.
func assertFirstDemoInvoice(t *testing.T, inv invoice.Invoice) {
	t.Helper()
	kinds := map[invoice.LineKind]int{}
	for _, l := range inv.Lines {
		kinds[l.Kind]++
		if (l.Kind == invoice.LinePlan || l.Kind == invoice.LineAddon) && (l.Amount <= 0 || l.Amount >= l.UnitPrice || !strings.HasPrefix(l.Quantity, "0.")) {
			t.Errorf("%s: line %+v, want part of a month", inv.Number, l)
		}
	}
	if kinds[invoice.LinePlan] != 1 || kinds[invoice.LineAddon] != 1 || kinds[invoice.LineUsage] == 0 {
		t.Fatalf("%s: lines %+v, want a pro-rated plan, a pro-rated add-on and usage", inv.Number, inv.Lines)
	}
}

// demoInvoicePDF downloads an invoice's PDF as a client does.
func demoInvoicePDF(t *testing.T, h http.Handler, secret, name string) []byte {
	t.Helper()
	var body struct {
		PDF []byte `json:"pdf"`
	}
	if err := json.Unmarshal(demoGet(t, h, secret, "/api/web/namespaces/system/usage/invoice_pdf?name="+name), &body); err != nil {
		t.Fatalf("invoice_pdf %s: %v", name, err)
	}
	return body.PDF
}

// demoGet reads path through the tenant API with the demo token.
func demoGet(t *testing.T, h http.Handler, secret, path string) []byte {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "APIToken "+secret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}
