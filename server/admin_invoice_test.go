package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"billing-api/gen/admin"
	"billing-api/server/clock"
	"billing-api/server/invoice"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/plan"
	"billing-api/server/tenancy"
	"billing-api/store"
)

// billedTenant creates a tenant on plan with one payment method per token
// (the first is PRIMARY, the second SECONDARY), as of the env's clock.
func (v *env) billedTenant(name, plan string, tokens ...string) tenancy.Tenant {
	v.t.Helper()
	ctx := context.Background()
	tn, err := v.tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: name})
	if err != nil {
		v.t.Fatal(err)
	}
	if err := v.plans.AssignPlan(ctx, tn.ID, plan); err != nil {
		v.t.Fatal(err)
	}
	p := tenancy.Principal{TenantID: tn.ID, TenantName: name, TokenName: "test", Role: tenancy.RoleAdmin}
	for i, tok := range tokens {
		role := payment.RolePrimary
		if i > 0 {
			role = payment.RoleSecondary
		}
		contact := &payment.Contact{Address1: "1 Main St", City: "Springfield", ZipCode: "12345", Country: "US"}
		if _, err := v.app.Payments.Create(ctx, p, payment.CreateInput{Token: tok, Role: role, Contact: contact}); err != nil {
			v.t.Fatal(err)
		}
	}
	return tn
}

func (v *env) closeMonth(body string) admin.InvoicePeriodClosed {
	v.t.Helper()
	res := v.admin(http.MethodPost, "/admin/v1/invoices/close", body)
	if res.Status != http.StatusOK {
		v.t.Fatalf("close %s: %d %s", body, res.Status, res.Body)
	}
	var out admin.InvoicePeriodClosed
	res.decode(v.t, &out)
	return out
}

func (v *env) findInvoices(query string) []admin.InvoiceSummary {
	v.t.Helper()
	res := v.admin(http.MethodGet, "/admin/v1/invoices"+query, nil)
	if res.Status != http.StatusOK {
		v.t.Fatalf("list %s: %d %s", query, res.Status, res.Body)
	}
	var out admin.InvoiceList
	res.decode(v.t, &out)
	return out.Invoices
}

// invoiceAction posts to an invoice path and decodes the detail it answers.
func (v *env) invoiceAction(path string, body any) admin.InvoiceDetail {
	v.t.Helper()
	method := http.MethodPost
	if body == nil {
		method = http.MethodGet
	}
	if body == "" {
		body = nil
	}
	res := v.admin(method, path, body)
	if res.Status != http.StatusOK {
		v.t.Fatalf("%s %s: %d %s", method, path, res.Status, res.Body)
	}
	var out admin.InvoiceDetail
	res.decode(v.t, &out)
	return out
}

func outcomes(c admin.InvoicePeriodClosed) string {
	var parts []string
	for _, r := range c.Results {
		parts = append(parts, r.Tenant+"="+string(r.Outcome))
	}
	return strings.Join(parts, " ")
}

// An operator closes a month through the operator API, lists and reads
// the invoices, and moves them through every status it may.
func TestOperatorClosesAMonthAndManagesItsInvoices(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.billedTenant("acme", "INDIVIDUAL", "tok_visa_4242")
	v.billedTenant("beta", "INDIVIDUAL", "tok_decline_0002")
	v.billedTenant("gamma", "INDIVIDUAL", "tok_decline_0003")
	v.tenant("free", "shop")

	// November has not ended.
	res := v.admin(http.MethodPost, "/admin/v1/invoices/close", `{"period":"2026-11"}`)
	if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, "period") {
		t.Fatalf("closing the running month: %d %s", res.Status, res.Body)
	}
	v.clock.Advance(7 * 24 * time.Hour) // 2 December

	closed := v.closeMonth(`{"period":"2026-11"}`)
	if got := outcomes(closed); closed.Period != "2026-11" || got != "acme=ISSUED beta=ISSUED free=NOTHING_TO_BILL gamma=ISSUED" {
		t.Fatalf("first close: %s %s", closed.Period, got)
	}
	acme := closed.Results[0].Invoice
	if acme == nil || acme.Status != admin.InvoiceStatusPAID || acme.Tenant != "acme" || acme.Period != "2026-11" ||
		acme.Total == "0" || acme.Total != acme.Subtotal || acme.CollectionRound != 1 || acme.Collecting {
		t.Fatalf("acme's invoice: %+v", acme)
	}
	if beta := closed.Results[1].Invoice; beta == nil || beta.Status != admin.InvoiceStatusISSUED || beta.Collecting || closed.Results[1].Error != nil {
		t.Fatalf("beta's invoice (card declined): %+v", closed.Results[1])
	}
	if closed.Results[2].Invoice != nil {
		t.Fatalf("a FREE tenant got an invoice: %+v", closed.Results[2])
	}

	// Closing again issues nothing; one tenant can be closed alone.
	if got := outcomes(v.closeMonth(`{"period":"2026-11"}`)); got != "acme=EXISTING beta=EXISTING free=NOTHING_TO_BILL gamma=EXISTING" {
		t.Fatalf("second close: %s", got)
	}
	if got := outcomes(v.closeMonth(`{"period":"2026-11","tenant":"acme"}`)); got != "acme=EXISTING" {
		t.Fatalf("close of one tenant: %s", got)
	}

	// Listing, with names from the tenancy service and the status as read now
	// (newest month first; within a month in no particular order).
	for query, want := range map[string]string{
		"":                                      "acme beta gamma",
		"?status=PAID":                          "acme",
		"?status=ISSUED":                        "beta gamma",
		"?status=OVERDUE":                       "",
		"?tenant=beta":                          "beta",
		"?tenant=beta&period=2026-11":           "beta",
		"?period=2026-10":                       "",
		"?tenant=free":                          "",
		"?status=PAID&period=2026-11&limit=1":   "acme",
		"?tenant=gamma&status=ISSUED&limit=100": "gamma",
	} {
		var names []string
		for _, s := range v.findInvoices(query) {
			if s.Number != "INV-2026-11-000001" || s.Period != "2026-11" {
				t.Errorf("list%s: %+v", query, s)
			}
			names = append(names, s.Tenant)
		}
		slices.Sort(names)
		if got := strings.Join(names, " "); got != want {
			t.Errorf("list%s: %q, want %q", query, got, want)
		}
	}
	if got := v.findInvoices("?limit=2"); len(got) != 2 {
		t.Errorf("limit=2: %d invoices", len(got))
	}

	// Usage of November arriving after the close is reported, never billed.
	ingest := `{"records":[{"id":"late-1","tenant":"acme","namespace":"system","usage_type":"lb_http_requests","object_name":"web","unit":"requests","quantity":1250.5,"timestamp":"2026-11-28T10:00:00Z"}]}`
	if res := v.admin(http.MethodPost, "/admin/v1/usage_records", ingest); res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"late":1`) {
		t.Fatalf("late record: %d %s", res.Status, res.Body)
	}
	acmePath := "/admin/v1/tenants/acme/invoices/" + acme.Number
	res = v.admin(http.MethodGet, acmePath, nil)
	if strings.Contains(string(res.Body), "tok_visa") {
		t.Fatalf("the detail shows the payment token: %s", res.Body)
	}
	d := v.invoiceAction(acmePath, nil)
	if d.Invoice.Total != acme.Total || len(d.Lines) != 1 || d.Lines[0].Kind != admin.PLAN || d.Lines[0].UnitPrice != "1900" ||
		d.Lines[0].Amount != acme.Total || d.LateUsage["lb_http_requests"] != "1250.5" {
		t.Fatalf("acme's detail: %+v", d)
	}
	if len(d.Payments) != 1 || d.Payments[0].Kind != admin.CHARGE || d.Payments[0].Outcome != admin.SUCCEEDED ||
		d.Payments[0].MethodRole != admin.PRIMARY || d.Payments[0].Amount != acme.Total || d.Payments[0].FinishedAt == nil ||
		!strings.HasPrefix(d.Payments[0].Reference, "ch_") {
		t.Fatalf("acme's payments: %+v", d.Payments)
	}

	// acme: refunded through the provider.
	d = v.invoiceAction(acmePath+"/refund", `{"reason":"goodwill"}`)
	if d.Invoice.Status != admin.InvoiceStatusREFUNDED || d.Invoice.StatusReason != "goodwill" || len(d.Payments) != 2 ||
		d.Payments[1].Kind != admin.REFUND || !strings.HasPrefix(d.Payments[1].Reference, "re_") {
		t.Fatalf("after the refund: %+v", d)
	}

	// beta: past its due date it is OVERDUE; a retry is another declined
	// round; a bank transfer pays it; it is refunded.
	v.clock.Advance(15 * 24 * time.Hour)
	if got := v.findInvoices("?status=OVERDUE"); len(got) != 2 || got[0].Status != admin.InvoiceStatusOVERDUE {
		t.Fatalf("overdue: %+v", got)
	}
	if got := v.findInvoices("?status=ISSUED"); len(got) != 0 {
		t.Fatalf("issued and not overdue: %+v", got)
	}
	betaPath := "/admin/v1/tenants/beta/invoices/" + closed.Results[1].Invoice.Number
	d = v.invoiceAction(betaPath+"/retry", "")
	if d.Invoice.Status != admin.InvoiceStatusOVERDUE || d.Invoice.CollectionRound != 2 || len(d.Payments) != 2 ||
		d.Payments[1].Outcome != admin.DECLINED || d.Payments[1].Round != 2 {
		t.Fatalf("after the retry: %+v", d)
	}
	d = v.invoiceAction(betaPath+"/record_payment", `{"reference":"SEPA-2026-12-0042"}`)
	if d.Invoice.Status != admin.InvoiceStatusPAID || len(d.Payments) != 3 || d.Payments[2].Kind != admin.EXTERNAL ||
		d.Payments[2].Reference != "SEPA-2026-12-0042" {
		t.Fatalf("after recording a payment: %+v", d)
	}
	d = v.invoiceAction(betaPath+"/refund", `{}`)
	if d.Invoice.Status != admin.InvoiceStatusREFUNDED || d.Invoice.StatusReason != "refunded" {
		t.Fatalf("after refunding an external payment: %+v", d.Invoice)
	}

	// gamma: cancelled.
	gammaPath := "/admin/v1/tenants/gamma/invoices/" + closed.Results[3].Invoice.Number
	d = v.invoiceAction(gammaPath+"/cancel", `{"reason":"contract ended"}`)
	if d.Invoice.Status != admin.InvoiceStatusCANCELLED || d.Invoice.StatusReason != "contract ended" {
		t.Fatalf("after cancelling: %+v", d.Invoice)
	}
	if got := v.findInvoices("?status=CANCELLED"); len(got) != 1 || got[0].Tenant != "gamma" {
		t.Fatalf("cancelled: %+v", got)
	}
	// The month stays closed for a cancelled invoice.
	if got := outcomes(v.closeMonth(`{"period":"2026-11","tenant":"gamma"}`)); got != "gamma=EXISTING" {
		t.Fatalf("closing a month with a cancelled invoice: %s", got)
	}

	// What the statuses do not allow is a conflict.
	for _, c := range []struct{ path, body string }{
		{betaPath + "/retry", ""},
		{betaPath + "/record_payment", `{"reference":"again"}`},
		{betaPath + "/refund", `{}`},
		{betaPath + "/cancel", `{}`},
		{gammaPath + "/retry", ""},
		{gammaPath + "/refund", `{}`},
		{gammaPath + "/record_payment", `{"reference":"late transfer"}`},
		{acmePath + "/cancel", `{"reason":"too late"}`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		res := v.admin(http.MethodPost, c.path, body)
		if res.Status != http.StatusConflict || res.errorBody(t).Code != "EEXISTS" {
			t.Errorf("POST %s: %d %s, want 409", c.path, res.Status, res.Body)
		}
	}
}

// Every input the operator's invoice operations refuse, and every missing
// tenant or invoice, answers its 4xx (the spec validates each answer).
func TestOperatorInvoiceOperationsRefuseBadInput(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.billedTenant("acme", "INDIVIDUAL", "tok_decline_0001")
	v.clock.Advance(7 * 24 * time.Hour)
	inv := v.closeMonth(`{"period":"2026-11"}`).Results[0].Invoice
	path := "/admin/v1/tenants/acme/invoices/" + inv.Number
	cases := []struct {
		method, path string
		body         any
		status       int
		want         string
	}{
		{"POST", "/admin/v1/invoices/close", nil, 400, "body"},
		{"POST", "/admin/v1/invoices/close", `{}`, 400, "period"},
		{"POST", "/admin/v1/invoices/close", `{"period":"2026-13"}`, 400, "period"},
		{"POST", "/admin/v1/invoices/close", `{"period":"2026-1"}`, 400, "period"},
		{"POST", "/admin/v1/invoices/close", `{"period":"2026-12"}`, 400, "period: 2026-12 has not ended"},
		{"POST", "/admin/v1/invoices/close", `{"period":"2026-11","tenant":"Acme"}`, 400, "tenant"},
		{"POST", "/admin/v1/invoices/close", `{"period":"2026-11","tenants":["acme"]}`, 400, "tenants"},
		{"POST", "/admin/v1/invoices/close", `{"period":"2026-11","tenant":"nobody"}`, 404, "nobody"},
		{"GET", "/admin/v1/invoices?status=PENDING", nil, 400, "status"},
		{"GET", "/admin/v1/invoices?limit=0", nil, 400, "limit"},
		{"GET", "/admin/v1/invoices?limit=1001", nil, 400, "limit"},
		{"GET", "/admin/v1/invoices?period=2026-11-01", nil, 400, "period"},
		{"GET", "/admin/v1/invoices?tenant=nobody", nil, 404, "nobody"},
		{"GET", "/admin/v1/invoice_runs?limit=0", nil, 400, "limit"},
		{"GET", "/admin/v1/tenants/nobody/invoices/" + inv.Number, nil, 404, "nobody"},
		{"GET", "/admin/v1/tenants/acme/invoices/INV-2026-11-000099", nil, 404, "INV-2026-11-000099"},
		{"GET", "/admin/v1/tenants/acme/invoices/pending-2026-12", nil, 400, "number"},
		{"POST", "/admin/v1/tenants/nobody/invoices/" + inv.Number + "/retry", nil, 404, "nobody"},
		{"POST", "/admin/v1/tenants/acme/invoices/INV-2026-10-000001/retry", nil, 404, "INV-2026-10-000001"},
		{"POST", path + "/record_payment", nil, 400, "body"},
		{"POST", path + "/record_payment", `{}`, 400, "reference"},
		{"POST", path + "/record_payment", `{"reference":""}`, 400, "reference"},
		{"POST", path + "/record_payment", `{"reference":"` + strings.Repeat("x", 257) + `"}`, 400, "reference"},
		{"POST", path + "/record_payment", `{"reference":"x","amount":"5"}`, 400, "amount"},
		{"POST", "/admin/v1/tenants/acme/invoices/INV-2026-10-000001/record_payment", `{"reference":"x"}`, 404, "INV-2026-10-000001"},
		{"POST", path + "/refund", nil, 400, "body"},
		{"POST", path + "/refund", `{"reason":""}`, 400, "reason"},
		{"POST", path + "/refund", `{"why":"x"}`, 400, "why"},
		{"POST", path + "/cancel", `{"reason":"` + strings.Repeat("x", 513) + `"}`, 400, "reason"},
		{"POST", "/admin/v1/tenants/nobody/invoices/" + inv.Number + "/cancel", `{}`, 404, "nobody"},
		{"POST", path + "/refund", `{}`, 409, "ISSUED"},
	}
	for _, c := range cases {
		res := v.admin(c.method, c.path, c.body)
		if res.Status != c.status || !strings.Contains(res.errorBody(t).Message, c.want) {
			t.Errorf("%s %s %v: %d %s, want %d naming %q", c.method, c.path, c.body, res.Status, res.Body, c.status, c.want)
		}
	}
	// Without the operator token nothing is answered.
	for _, c := range []struct{ method, path string }{
		{"POST", "/admin/v1/invoices/close"}, {"GET", "/admin/v1/invoices"}, {"GET", "/admin/v1/invoice_runs"},
		{"GET", path}, {"POST", path + "/retry"}, {"POST", path + "/record_payment"}, {"POST", path + "/refund"}, {"POST", path + "/cancel"},
	} {
		if res := v.call(c.method, c.path, "", nil); res.Status != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d", c.method, c.path, res.Status)
		}
	}
	// Nothing the refusals touched changed the invoice.
	if d := v.invoiceAction(path, nil); d.Invoice.Status != admin.InvoiceStatusISSUED || len(d.Payments) != 1 {
		t.Fatalf("after the refusals: %+v", d)
	}
}

// Closing catches up after downtime: every month due since the oldest
// tenant's first is closed once, including one whose close another
// replica started and never finished (it stopped): the run keeps who
// started it and when.
func TestRunDueClosesEveryMissedMonthOnce(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 6, 10, 9, 30, 0, 0, time.UTC))
	v := newEnvWith(t, func(c *Config) { c.Clock = clk.Now; c.ReplicaName = "replica-a" })
	ctx := context.Background()
	v.billedTenant("acme", "INDIVIDUAL", "tok_visa_4242")
	v.tenant("free")
	clk.Advance(66 * 24 * time.Hour) // 15 August
	v.billedTenant("beta", "TEAM", "tok_decline_0001", "tok_visa_1881")
	clk.Advance(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).Sub(clk.Now()))

	// Another replica started closing September, then stopped.
	sep := period.New(2026, time.September)
	startedB := clk.Now().Add(-time.Hour)
	if err := store.NewInvoices(v.db).StartRun(ctx, sep, "replica-b", startedB); err != nil {
		t.Fatal(err)
	}
	months := func(ms []period.Month, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.String())
		}
		return strings.Join(out, " ")
	}
	if got := months(v.app.Invoices.RunDue(ctx)); got != "2026-06 2026-07 2026-08 2026-09 2026-10" {
		t.Fatalf("first run finished %q", got)
	}
	if got := months(v.app.Invoices.RunDue(ctx)); got != "" {
		t.Fatalf("second run finished %q", got)
	}
	count := func(tenant, period string) int {
		t.Helper()
		p, _ := invoice.PeriodOf("period", period)
		invs, err := v.app.Invoices.Find(ctx, tenant, invoice.Filter{Period: &p})
		if err != nil {
			t.Fatal(err)
		}
		return len(invs)
	}
	want := map[string][2]int{ // acme, beta invoices per month
		"2026-05": {0, 0}, "2026-06": {1, 0}, "2026-07": {1, 0}, "2026-08": {1, 1}, "2026-09": {1, 1}, "2026-10": {1, 1}, "2026-11": {0, 0},
	}
	for period, n := range want {
		if a, b := count("acme", period), count("beta", period); a != n[0] || b != n[1] {
			t.Errorf("%s: acme %d, beta %d invoices, want %v", period, a, b, n)
		}
	}
	if got := count("free", "2026-06"); got != 0 {
		t.Errorf("a FREE tenant got %d invoices", got)
	}

	runs, err := v.app.Invoices.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Period == sep && (r.Owner != "replica-b" || !r.StartedAt.Equal(startedB) || r.FinishedAt == nil || r.Issued != 2) {
			t.Errorf("September's run: %+v", r)
		}
	}

	// November is due once it has ended and the grace period has passed.
	clk.Advance(time.Date(2026, 12, 2, 23, 0, 0, 0, time.UTC).Sub(clk.Now()))
	if got := months(v.app.Invoices.RunDue(ctx)); got != "" {
		t.Fatalf("within the grace period: %q", got)
	}
	next := v.app.Invoices.NextDue()
	if !next.Equal(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("next due %s", next)
	}
	clk.Advance(next.Sub(clk.Now()))
	if got := months(v.app.Invoices.RunDue(ctx)); got != "2026-11" {
		t.Fatalf("at the end of the grace period: %q", got)
	}

	// Every collection: one success per invoice; beta's PRIMARY declined and
	// its SECONDARY paid.
	for _, s := range v.findInvoices("") {
		if s.Status != admin.InvoiceStatusPAID {
			t.Errorf("%s %s is %s", s.Tenant, s.Number, s.Status)
		}
		d := v.invoiceAction(fmt.Sprintf("/admin/v1/tenants/%s/invoices/%s", s.Tenant, s.Number), nil)
		ok := 0
		for _, p := range d.Payments {
			if p.Outcome == admin.SUCCEEDED {
				ok++
				if s.Tenant == "beta" && p.MethodRole != admin.SECONDARY {
					t.Errorf("beta paid by %s", p.MethodRole)
				}
			}
		}
		if ok != 1 {
			t.Errorf("%s %s has %d successful payments", s.Tenant, s.Number, ok)
		}
	}

	// The operator sees the runs.
	res := v.admin(http.MethodGet, "/admin/v1/invoice_runs", nil)
	var list admin.InvoiceRunList
	res.decode(t, &list)
	if res.Status != http.StatusOK || len(list.Runs) != 6 || list.Runs[0].Period != "2026-11" || list.Runs[0].FinishedAt == nil ||
		list.Runs[0].Owner != "replica-a" || list.Runs[0].Issued != 2 || !list.NextDue.Equal(time.Date(2027, 1, 3, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("runs: %d %s", res.Status, res.Body)
	}
	for _, r := range list.Runs {
		if r.FinishedAt == nil || (r.Owner != "replica-a") != (r.Period == "2026-09") {
			t.Errorf("run %+v", r)
		}
	}
	res = v.admin(http.MethodGet, "/admin/v1/invoice_runs?limit=2", nil)
	res.decode(t, &list)
	if len(list.Runs) != 2 || list.Runs[1].Period != "2026-10" {
		t.Fatalf("two runs: %s", res.Body)
	}
}

// A tenant whose month cannot be closed is answered FAILED with its error
// (an unexpected one only named, its detail logged); the others close.
func TestOperatorCloseReportsAFailedTenant(t *testing.T) {
	t.Parallel()
	var shared store.Config
	v := newEnvWith(t, func(c *Config) { shared = c.Store })
	v.billedTenant("acme", "INDIVIDUAL", "tok_visa_4242")
	v.tenant("free")
	// A replica serving a catalogue without acme's plan.
	onlyFree, err := plan.Load([]byte(`locale: en-US
currency: USD
default_plan: FREE
addons: []
plans:
  - name: FREE
    title: Free
    type: FREE
    tenant_type: FREEMIUM
    flat_price: 0
    billing_disabled: true
    renewal_period: PERIOD_MONTH
    trial: {length: 0, unit: PERIOD_UNKNOWN}
    default_quota: {objects: {quota: 5}}
    transition: {method: TRANSITION_METHOD_WIZARD}
`))
	if err != nil {
		t.Fatal(err)
	}
	w := newEnvWith(t, func(c *Config) { c.Store = shared; c.Catalogue = onlyFree })
	w.clock.Advance(7 * 24 * time.Hour)
	closed := w.closeMonth(`{"period":"2026-11"}`)
	if got := outcomes(closed); got != "acme=FAILED free=NOTHING_TO_BILL" {
		t.Fatalf("close: %s", got)
	}
	if r := closed.Results[0]; r.Invoice != nil || r.Error == nil || *r.Error != "internal error; the server log has the detail" {
		t.Fatalf("acme: %+v", r)
	}
	if logs := w.logs.String(); !strings.Contains(logs, "closing a tenant's month failed") || !strings.Contains(logs, `plan \"INDIVIDUAL\"`) {
		t.Fatalf("the detail is not logged:\n%s", logs)
	}
	// With the plan back, the month closes for acme.
	v.clock.Advance(7 * 24 * time.Hour)
	if got := outcomes(v.closeMonth(`{"period":"2026-11"}`)); got != "acme=ISSUED free=NOTHING_TO_BILL" {
		t.Fatalf("close on the full catalogue: %s", got)
	}
}
