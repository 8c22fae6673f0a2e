package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	lpdf "github.com/ledongthuc/pdf"

	"billing-api/gen/api"
	"billing-api/pdf"
	"billing-api/server/fault"
	"billing-api/server/invoice"
	"billing-api/server/money"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/tenancy"
)

const invoicesPath = "/api/web/namespaces/system/usage/invoices/custom_list"

// ledger is a payment provider for tests that keeps its books: tokens
// beginning tok_decline are declined; any other is charged once per
// idempotency key (a repeated key returns the first charge and moves
// nothing, as a real provider does). loseAnswers makes the next successful
// charges move the money and then fail, as when the process stops (or the
// connection drops) before the answer is recorded.
type ledger struct {
	mu          sync.Mutex
	charges     map[string]payment.Charge
	order       []string
	calls       int
	loseAnswers int
	refunds     map[string]string
}

func newLedger() *ledger {
	return &ledger{charges: map[string]payment.Charge{}, refunds: map[string]string{}}
}

func (l *ledger) Check(token string) error { return payment.TestProvider{}.Check(token) }

func (l *ledger) Charge(_ context.Context, token string, amount money.Amount, _, key string) (payment.Charge, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if strings.HasPrefix(token, "tok_decline") {
		return payment.Charge{}, payment.ErrDeclined
	}
	ch, ok := l.charges[key]
	if !ok {
		ch = payment.Charge{Reference: fmt.Sprintf("ch_%d", len(l.charges)+1), Amount: amount}
		l.charges[key] = ch
		l.order = append(l.order, key)
	}
	if l.loseAnswers > 0 {
		l.loseAnswers--
		return payment.Charge{}, errors.New("connection reset before the answer")
	}
	return ch, nil
}

func (l *ledger) Refund(_ context.Context, ref string, _ money.Amount, key string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.refunds[key]; ok {
		return r, nil
	}
	l.refunds[key] = "re_" + ref
	return l.refunds[key], nil
}

// moved is how many charges moved money, and how much.
func (l *ledger) moved() (n int, total money.Amount) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range l.charges {
		n++
		total += ch.Amount
	}
	return n, total
}

var (
	november = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	december = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
)

// at moves the test clock forward to t.
func (v *env) at(t time.Time) {
	v.t.Helper()
	d := t.Sub(v.clock.Now())
	if d < 0 {
		v.t.Fatalf("the clock is past %s", t)
	}
	v.clock.Advance(d)
}

// upgradedTenant makes a tenant that moves onto INDIVIDUAL at 26 Nov 00:00
// (it was created on FREE on 25 Nov) with the given payment methods, the
// first PRIMARY and the second SECONDARY. It returns its admin token.
func (v *env) upgradedTenant(name string, tokens ...string) string {
	v.t.Helper()
	if v.clock.Now().Before(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		v.at(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	}
	tok := v.tenant(name)
	v.setPlan(name, "INDIVIDUAL")
	for i, pt := range tokens {
		role := []string{"PRIMARY", "SECONDARY", ""}[min(i, 2)]
		v.addMethod(tok, pt, role)
	}
	return tok
}

// closeNovember closes November for tenant (all when "") at 1 Dec 01:00.
func (v *env) closeNovember(tenant string) []invoice.TenantClose {
	v.t.Helper()
	if v.clock.Now().Before(december.Add(time.Hour)) {
		v.at(december.Add(time.Hour))
	}
	res, err := v.app.Invoices.ClosePeriod(context.Background(), period.Of(november), tenant)
	if err != nil {
		v.t.Fatal(err)
	}
	return res
}

func (v *env) invoiceDetail(tenant, number string) invoice.Detail {
	v.t.Helper()
	d, err := v.app.Invoices.Detail(context.Background(), tenant, number)
	if err != nil {
		v.t.Fatal(err)
	}
	return d
}

func (v *env) listInvoices(tok, query string) []api.InvoiceInvoiceType {
	v.t.Helper()
	res := v.call(http.MethodGet, invoicesPath+query, tok, nil)
	if res.Status != http.StatusOK {
		v.t.Fatalf("list invoices: %d %s", res.Status, res.Body)
	}
	var out api.InvoiceListInvoicesRsp
	res.decode(v.t, &out)
	return *out.Invoices
}

func usageRec(tenant, typ, unit string, at time.Time, q float64) rec {
	return rec{
		ID: fmt.Sprintf("%s-%s-%d", tenant, typ, at.Unix()), Tenant: tenant, Namespace: tenancy.SystemNamespace, UsageType: typ,
		ObjectName: "edge", Unit: unit, Quantity: q, Timestamp: at.Format(time.RFC3339Nano),
	}
}

// A month with a plan change, usage on both plans and an add-on taken
// mid-month: the flat price, the included quantities and the add-on are
// pro-rated to the microsecond, usage on the unbilled plan is not billed,
// and every amount is rounded once, half to even.
func TestInvoiceProratesPlanUsageAndAddons(t *testing.T) {
	t.Parallel()
	led := newLedger()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = led })
	// FREE from 25 Nov 12:00, INDIVIDUAL from 26 Nov 00:00: 5 of 30 days.
	tok := v.tenant("acme")
	v.at(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	v.setPlan("acme", "INDIVIDUAL")
	v.addMethod(tok, "tok_visa_4242", "PRIMARY")
	// WAAP Standard (2900 a month) from 28 Nov: 3 of 30 days.
	v.at(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	if res := v.call(http.MethodPost, subscribePath, tok, `{"f5xc_waap_standard":{}}`); res.Status != http.StatusOK {
		t.Fatalf("subscribe: %d %s", res.Status, res.Body)
	}
	v.at(december.Add(time.Hour))
	v.ingestOK([]rec{
		// On FREE (billing disabled): reported, not billed.
		usageRec("acme", "lb_http_requests", "requests", time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC), 50_000_000),
		// On INDIVIDUAL: 10M requests included a month → 1,666,666.666667
		// for 5 days; 5M used → 3 billable 1M units at 60.
		usageRec("acme", "lb_http_requests", "requests", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), 5_000_000),
		// 100 GB included → 16.666667; 30 used → 13 billable GB at 8.
		usageRec("acme", "lb_data_transfer", "GB", time.Date(2026, 11, 28, 10, 30, 0, 0, time.UTC), 30),
	})
	res := v.closeNovember("acme")
	if len(res) != 1 || res[0].Outcome != invoice.ClosedIssued || res[0].Err != nil {
		t.Fatalf("close: %+v", res)
	}
	inv := v.invoiceDetail("acme", res[0].Invoice.Number)
	want := []struct {
		kind      invoice.LineKind
		quantity  string
		unitPrice money.Amount
		amount    money.Amount
	}{
		{invoice.LinePlan, "0.166667 month", 1900, 317}, // 316.67
		{invoice.LineUsage, "13 × GB", 8, 104},
		{invoice.LineUsage, "3 × 1M requests", 60, 180},
		{invoice.LineAddon, "0.1 month", 2900, 290},
	}
	if len(inv.Lines) != len(want) {
		t.Fatalf("lines: %+v", inv.Lines)
	}
	for i, w := range want {
		l := inv.Lines[i]
		if l.Kind != w.kind || l.Quantity != w.quantity || l.UnitPrice != w.unitPrice || l.Amount != w.amount {
			t.Errorf("line %d: %+v, want %+v", i, l, w)
		}
	}
	if !strings.Contains(inv.Lines[2].Description, "5,000,000 requests used, 1,666,667 included") {
		t.Errorf("usage line: %q", inv.Lines[2].Description)
	}
	if inv.Number != "INV-2026-11-000001" || inv.Subtotal != 891 || inv.Discount != 0 || inv.Total != 891 || inv.Currency != "USD" {
		t.Errorf("invoice: %s %d %d %d %s", inv.Number, inv.Subtotal, inv.Discount, inv.Total, inv.Currency)
	}
	if inv.Period != period.Of(november) || !inv.DueAt.Equal(inv.IssuedAt.AddDate(0, 0, 14)) {
		t.Errorf("dates: %s %s %s", inv.Period, inv.IssuedAt, inv.DueAt)
	}
	if inv.Status != invoice.StatusPaid || len(inv.Payments) != 1 || inv.Payments[0].Amount != 891 {
		t.Errorf("collection: %s %+v", inv.Status, inv.Payments)
	}
	// monthly_usage reports what November's invoice billed.
	mres := v.call(http.MethodPost, "/api/web/namespaces/system/monthly_usage", tok, `{}`)
	var months api.UsageListMonthlyUsageResp
	mres.decode(t, &months)
	if items := *months.MonthlyUsageItems; len(items) != 1 || *items[0].Amount != "891" || !items[0].StartTimestamp.Equal(november) {
		t.Errorf("monthly_usage: %s", mres.Body)
	}
	// The list: December running (INDIVIDUAL 1900 + WAAP 2900), then the
	// paid November invoice.
	list := v.listInvoices(tok, "")
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	if p := list[0]; *p.Name != "pending-2026-12" || !*p.Active || *p.Status != api.InvoiceInvoiceStatusSTATUSPENDING || *p.Amount != "4800" ||
		!p.PeriodStart.Equal(december) {
		t.Errorf("pending: %+v", p)
	}
	if p := list[1]; *p.Name != inv.Number || *p.Active || *p.Status != api.InvoiceInvoiceStatusSTATUSPAID || *p.Amount != "891" ||
		*p.Currency != "USD" || !p.PeriodEnd.Equal(december) {
		t.Errorf("issued: %+v", p)
	}
}

// Coupons come off as a discount line; subtotal − discount = total.
func TestInvoiceAppliesCoupons(t *testing.T) {
	t.Parallel()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = newLedger() })
	v.at(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	v.tenant("acme")
	v.setPlan("acme", "TEAM") // 4900 a month, 10% off every line
	res := v.closeNovember("acme")
	inv := v.invoiceDetail("acme", res[0].Invoice.Number)
	// 5 of 30 days of 4900 = 816.67 → 817; 10% of it = 81.7 → 82.
	if len(inv.Lines) != 2 || inv.Lines[0].Amount != 817 || inv.Lines[1].Kind != invoice.LineDiscount || inv.Lines[1].Amount != -82 {
		t.Fatalf("lines: %+v", inv.Lines)
	}
	if inv.Subtotal != 817 || inv.Discount != 82 || inv.Total != 735 {
		t.Errorf("totals: %d %d %d", inv.Subtotal, inv.Discount, inv.Total)
	}
	// No payment method: the invoice stays ISSUED, nothing was charged.
	if inv.Status != invoice.StatusIssued || inv.Collecting || len(inv.Payments) != 0 {
		t.Errorf("collection: %+v", inv.Invoice)
	}
}

// A declined PRIMARY falls back to the SECONDARY; each attempt is recorded.
func TestInvoiceCollectionFallsBackToSecondary(t *testing.T) {
	t.Parallel()
	led := newLedger()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = led })
	v.upgradedTenant("acme", "tok_decline_expired", "tok_visa_4242")
	res := v.closeNovember("acme")
	inv := v.invoiceDetail("acme", res[0].Invoice.Number)
	if inv.Status != invoice.StatusPaid || len(inv.Payments) != 2 {
		t.Fatalf("collection: %s %+v", inv.Status, inv.Payments)
	}
	p, s := inv.Payments[0], inv.Payments[1]
	if p.MethodRole != payment.RolePrimary || p.Outcome != invoice.OutcomeDeclined || p.Reference != "" || p.FinishedAt == nil {
		t.Errorf("primary attempt: %+v", p)
	}
	if s.MethodRole != payment.RoleSecondary || s.Outcome != invoice.OutcomeSucceeded || s.Reference != "ch_1" || s.Amount != inv.Total {
		t.Errorf("secondary attempt: %+v", s)
	}
	if p.IdempotencyKey == s.IdempotencyKey {
		t.Error("the attempts share an idempotency key")
	}
	if n, total := led.moved(); n != 1 || total != inv.Total {
		t.Errorf("moved %d charges, %d", n, total)
	}
	if !strings.Contains(inv.StatusReason, "SECONDARY") {
		t.Errorf("reason: %q", inv.StatusReason)
	}
}

// Both methods declined: the invoice stays ISSUED, turns OVERDUE past its
// due date, holds the PRIMARY method, and an operator's retry after the
// customer adds a working card collects it in a new round.
func TestUnpaidInvoiceTurnsOverdueAndIsRetried(t *testing.T) {
	t.Parallel()
	led := newLedger()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = led })
	tok := v.upgradedTenant("acme", "tok_decline_a", "tok_decline_b")
	res := v.closeNovember("acme")
	number := res[0].Invoice.Number
	inv := v.invoiceDetail("acme", number)
	if inv.Status != invoice.StatusIssued || inv.Collecting || inv.Round != 1 || len(inv.Payments) != 2 {
		t.Fatalf("after close: %+v %+v", inv.Invoice, inv.Payments)
	}
	status := func() api.InvoiceInvoiceStatus {
		for _, l := range v.listInvoices(tok, "") {
			if *l.Name == number {
				return *l.Status
			}
		}
		t.Fatal("not listed")
		return ""
	}
	if got := status(); got != api.InvoiceInvoiceStatusSTATUSISSUED {
		t.Errorf("listed as %s", got)
	}
	// The PRIMARY may not go while the invoice is unpaid.
	primary := ""
	for name, role := range v.roles("acme") {
		if role == payment.RolePrimary {
			primary = name
		}
	}
	if res := v.call(http.MethodDelete, pmPath+"/"+primary, tok, nil); res.Status != http.StatusConflict ||
		!strings.Contains(res.errorBody(t).Message, "unpaid invoice") {
		t.Errorf("delete primary: %d %s", res.Status, res.Body)
	}
	v.at(inv.DueAt)
	if got := status(); got != api.InvoiceInvoiceStatusOVERDUE {
		t.Errorf("past due listed as %s", got)
	}
	good := v.addMethod(tok, "tok_visa_1111", "")
	if res := v.call(http.MethodPost, "/api/web/namespaces/system/billing/payment_method/"+good+"/primary", tok, `{}`); res.Status != http.StatusOK {
		t.Fatalf("make primary: %d %s", res.Status, res.Body)
	}
	after, err := v.app.Invoices.Retry(context.Background(), "acme", number)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != invoice.StatusPaid || after.Round != 2 || after.Collecting {
		t.Errorf("after retry: %+v", after)
	}
	if got := status(); got != api.InvoiceInvoiceStatusSTATUSPAID {
		t.Errorf("paid listed as %s", got)
	}
	if n, _ := led.moved(); n != 1 {
		t.Errorf("moved %d charges", n)
	}
	if _, err := v.app.Invoices.Retry(context.Background(), "acme", number); !isConflict(err) {
		t.Errorf("retrying a paid invoice: %v", err)
	}
}

func isConflict(err error) bool { return fault.KindOf(err) == fault.KindConflict }

// A close replayed after the process lost the provider's answer resumes the
// same attempt with the same key: the money moves once, the SECONDARY is
// never tried, and replaying again changes nothing.
func TestReplayedCloseNeverChargesTwice(t *testing.T) {
	t.Parallel()
	led := newLedger()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = led })
	v.upgradedTenant("acme", "tok_visa_4242", "tok_mastercard_5555")
	led.loseAnswers = 1
	first := v.closeNovember("acme")
	if first[0].Outcome != invoice.ClosedIssued || first[0].Err == nil || first[0].Invoice.Status != invoice.StatusIssued || !first[0].Invoice.Collecting {
		t.Fatalf("first close: %+v", first[0])
	}
	pays := v.invoiceDetail("acme", first[0].Invoice.Number).Payments
	if len(pays) != 1 || pays[0].Outcome != invoice.OutcomePending {
		t.Fatalf("after the lost answer: %+v", pays)
	}
	for range 2 {
		again := v.closeNovember("acme")
		if again[0].Outcome != invoice.ClosedExisting || again[0].Err != nil || again[0].Invoice.Status != invoice.StatusPaid {
			t.Fatalf("replayed close: %+v", again[0])
		}
	}
	d := v.invoiceDetail("acme", first[0].Invoice.Number)
	if len(d.Payments) != 1 || d.Payments[0].Outcome != invoice.OutcomeSucceeded || d.Payments[0].MethodRole != payment.RolePrimary {
		t.Errorf("payments: %+v", d.Payments)
	}
	if n, total := led.moved(); n != 1 || total != d.Total {
		t.Errorf("moved %d charges, %d", n, total)
	}
	if list, _ := v.app.Invoices.Find(context.Background(), "acme", invoice.Filter{}); len(list) != 1 {
		t.Errorf("%d invoices", len(list))
	}
}

// Two replicas closing the same month at once issue one invoice per tenant
// and charge each once.
func TestTwoReplicasCloseAMonthOnce(t *testing.T) {
	t.Parallel()
	led := newLedger()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = led })
	tenants := []string{"t1", "t2", "t3", "t4"}
	for _, name := range tenants {
		v.upgradedTenant(name, "tok_visa_4242")
	}
	v.at(december.Add(time.Hour))
	other := v.replicaApp()
	var wg sync.WaitGroup
	outcomes := make(chan invoice.TenantClose, 8*len(tenants))
	for i := range 8 {
		svc := []*invoice.Service{v.app.Invoices, other.Invoices}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := svc.ClosePeriod(context.Background(), period.Of(november), "")
			if err != nil {
				t.Error(err)
			}
			for _, r := range res {
				outcomes <- r
			}
		}()
	}
	wg.Wait()
	close(outcomes)
	issued := map[string]int{}
	for r := range outcomes {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Tenant, r.Err)
		}
		if r.Outcome == invoice.ClosedIssued {
			issued[r.Tenant]++
		}
	}
	for _, name := range tenants {
		if issued[name] != 1 {
			t.Errorf("%s issued %d times", name, issued[name])
		}
		list, err := v.app.Invoices.Find(context.Background(), name, invoice.Filter{})
		if err != nil || len(list) != 1 || list[0].Status != invoice.StatusPaid {
			t.Errorf("%s: %+v %v", name, list, err)
		}
	}
	if n, _ := led.moved(); n != len(tenants) {
		t.Errorf("moved %d charges for %d invoices", n, len(tenants))
	}
}

// The PDF: base64 in `pdf`, a real document whose text a PDF reader gets
// back; same bytes for the same invoice; the running month downloads as a
// draft; unknown months and invoices, and another tenant's, are not found.
func TestInvoicePDF(t *testing.T) {
	t.Parallel()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = newLedger() })
	tok := v.upgradedTenant("acme", "tok_visa_4242")
	other := v.tenant("globex")
	number := v.closeNovember("acme")[0].Invoice.Number
	get := func(tok, name string) response {
		return v.call(http.MethodGet, "/api/web/namespaces/system/usage/invoice_pdf?name="+name, tok, nil)
	}
	res := get(tok, number)
	if res.Status != http.StatusOK {
		t.Fatalf("pdf: %d %s", res.Status, res.Body)
	}
	var doc api.InvoiceDownloadInvoicePdfRsp
	res.decode(t, &doc)
	if !bytes.HasPrefix(*doc.Pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", (*doc.Pdf)[:min(20, len(*doc.Pdf))])
	}
	if !strings.Contains(string(res.Body), base64.StdEncoding.EncodeToString((*doc.Pdf)[:30])) {
		t.Error("the body is not standard base64")
	}
	text := pdfText(t, *doc.Pdf)
	for _, want := range []string{number, "Example Cloud Services Inc.", "Account: acme", "1 Main St", "3.17 USD", "PAID",
		"2026-11-01", "2026-11-30", "Individual plan (INDIVIDUAL)", "Page 1 of 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF lacks %q:\n%s", want, text)
		}
	}
	if again := get(tok, number); !bytes.Equal(again.Body, res.Body) {
		t.Error("the same invoice rendered to different bytes")
	}
	// The running month: a draft with the lines its invoice will have so
	// far, the list's amount, and no number, due date or status.
	draft := get(tok, "pending-2026-12")
	if draft.Status != http.StatusOK {
		t.Fatalf("the running month's draft: %d %s", draft.Status, draft.Body)
	}
	draft.decode(t, &doc)
	text = pdfText(t, *doc.Pdf)
	pending := v.listInvoices(tok, "")[0]
	for _, want := range []string{"DRAFT", pdf.DraftNotice, "Example Cloud Services Inc.", "Account: acme", "Individual plan (INDIVIDUAL)",
		"2026-12-01", "2026-12-31", money.Format(money.Amount(mustInt(t, *pending.Amount)), "USD")} {
		if !strings.Contains(text, want) {
			t.Errorf("the draft lacks %q:\n%s", want, text)
		}
	}
	for _, never := range []string{"INV-", "Due date", "Status", "PAID"} {
		if strings.Contains(text, never) {
			t.Errorf("the draft shows %q:\n%s", never, text)
		}
	}
	for _, tc := range []struct {
		tok, name string
		status    int
	}{
		{other, number, http.StatusNotFound},
		{other, "pending-2026-12", http.StatusNotFound}, // globex is on FREE: nothing pending
		{tok, "pending-2026-11", http.StatusNotFound},   // closed: it is an invoice now
		{tok, "pending-2026-10", http.StatusNotFound},
		{tok, "pending-2027-01", http.StatusNotFound},
		{tok, "pending-2026-1", http.StatusNotFound},
		{tok, "INV-2026-10-000001", http.StatusNotFound},
		{tok, "bad%20name", http.StatusBadRequest},
		{tok, "", http.StatusBadRequest},
	} {
		if res := get(tc.tok, tc.name); res.Status != tc.status {
			t.Errorf("%s: %d %s", tc.name, res.Status, res.Body)
		}
	}
}

func mustInt(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pdfText(t testing.TB, data []byte) string {
	t.Helper()
	r, err := lpdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := 1; i <= r.NumPage(); i++ {
		p := r.Page(i)
		rows, err := p.GetTextByRow()
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			for _, w := range row.Content {
				b.WriteString(w.S)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// The operator's moves are allowed only from the states where they make
// sense, and each is recorded.
func TestInvoiceOperatorStateMachine(t *testing.T) {
	t.Parallel()
	led := newLedger()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = led })
	for _, name := range []string{"paid", "unpaid", "void"} {
		tokens := []string{"tok_visa_4242"}
		if name != "paid" {
			tokens = []string{"tok_decline_x"}
		}
		v.upgradedTenant(name, tokens...)
	}
	v.closeNovember("")
	ctx := context.Background()
	number := invoice.NumberFor(period.Of(november), 1)
	svc := v.app.Invoices
	// PAID: cannot be cancelled, paid again or retried; refunds once.
	if _, err := svc.Cancel(ctx, "paid", number, ""); !isConflict(err) {
		t.Errorf("cancel paid: %v", err)
	}
	if _, err := svc.RecordPayment(ctx, "paid", number, "wire-1"); !isConflict(err) {
		t.Errorf("pay paid: %v", err)
	}
	inv, err := svc.Refund(ctx, "paid", number, "goodwill")
	if err != nil || inv.Status != invoice.StatusRefunded || inv.StatusReason != "goodwill" {
		t.Fatalf("refund: %+v %v", inv, err)
	}
	if len(led.refunds) != 1 {
		t.Errorf("%d refunds", len(led.refunds))
	}
	if _, err := svc.Refund(ctx, "paid", number, ""); !isConflict(err) {
		t.Errorf("refund twice: %v", err)
	}
	// ISSUED: cannot be refunded; an external payment pays it.
	if _, err := svc.Refund(ctx, "unpaid", number, ""); !isConflict(err) {
		t.Errorf("refund unpaid: %v", err)
	}
	if _, err := svc.RecordPayment(ctx, "unpaid", number, ""); fault.KindOf(err) != fault.KindInvalid {
		t.Errorf("pay without reference: %v", err)
	}
	inv, err = svc.RecordPayment(ctx, "unpaid", number, "wire-2026-12-01")
	if err != nil || inv.Status != invoice.StatusPaid {
		t.Fatalf("record payment: %+v %v", inv, err)
	}
	d := v.invoiceDetail("unpaid", number)
	if last := d.Payments[len(d.Payments)-1]; last.Kind != invoice.PaymentExternal || last.Reference != "wire-2026-12-01" {
		t.Errorf("external payment: %+v", last)
	}
	// Cancelled is final.
	if inv, err = svc.Cancel(ctx, "void", number, "duplicate account"); err != nil || inv.Status != invoice.StatusCancelled {
		t.Fatalf("cancel: %+v %v", inv, err)
	}
	for name, op := range map[string]func() error{
		"retry":  func() error { _, err := svc.Retry(ctx, "void", number); return err },
		"pay":    func() error { _, err := svc.RecordPayment(ctx, "void", number, "x"); return err },
		"refund": func() error { _, err := svc.Refund(ctx, "void", number, ""); return err },
		"cancel": func() error { _, err := svc.Cancel(ctx, "void", number, ""); return err },
	} {
		if err := op(); !isConflict(err) {
			t.Errorf("%s a cancelled invoice: %v", name, err)
		}
	}
	if _, err := svc.Cancel(ctx, "void", "INV-1999-01-000001", ""); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("unknown invoice: %v", err)
	}
}

// An issued invoice never changes: the database refuses, and usage that
// arrives for its month later is flagged late and reported, not billed.
func TestIssuedInvoiceNeverChanges(t *testing.T) {
	t.Parallel()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = newLedger() })
	tok := v.upgradedTenant("acme", "tok_visa_4242")
	number := v.closeNovember("acme")[0].Invoice.Number
	before := v.invoiceDetail("acme", number)
	for _, stmt := range []string{
		"UPDATE invoices SET total = total + 1, subtotal = subtotal + 1",
		"UPDATE invoices SET bill_to = seller",
		"UPDATE invoice_lines SET amount = amount + 1",
	} {
		if _, err := v.db.SQL().ExecContext(context.Background(), stmt); err == nil || !strings.Contains(err.Error(), "never changes") {
			t.Errorf("%s: %v", stmt, err)
		}
	}
	got := v.ingestOK([]rec{usageRec("acme", "lb_http_requests", "requests", time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC), 90_000_000)})
	if got.Late != 1 {
		t.Errorf("late: %+v", got)
	}
	after := v.invoiceDetail("acme", number)
	if after.Total != before.Total || len(after.Lines) != len(before.Lines) {
		t.Errorf("the invoice changed: %d → %d", before.Total, after.Total)
	}
	if q := after.Late["lb_http_requests"]; q.String() != "90000000" {
		t.Errorf("late usage reported: %v", after.Late)
	}
	// Closing again changes nothing.
	if again := v.closeNovember("acme"); again[0].Outcome != invoice.ClosedExisting || again[0].Invoice.Total != before.Total {
		t.Errorf("re-close: %+v", again[0])
	}
	if list := v.listInvoices(tok, ""); len(list) != 2 || *list[1].Amount != fmt.Sprint(before.Total) {
		t.Errorf("list: %+v", list)
	}
}

// The list is the tenant's own, newest first, limit honoured and bounded;
// a month with nothing to bill gets no invoice and no pending entry.
func TestInvoiceListLimitScopeAndFreeTenants(t *testing.T) {
	t.Parallel()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = newLedger() })
	tok := v.upgradedTenant("acme", "tok_visa_4242")
	free := v.tenant("freeloader")
	res := v.closeNovember("")
	outcomes := map[string]invoice.CloseOutcome{}
	for _, r := range res {
		outcomes[r.Tenant] = r.Outcome
	}
	if outcomes["acme"] != invoice.ClosedIssued || outcomes["freeloader"] != invoice.ClosedNothingToBill {
		t.Fatalf("outcomes: %v", outcomes)
	}
	if got := v.listInvoices(free, ""); len(got) != 0 {
		t.Errorf("free tenant: %+v", got)
	}
	if got := v.listInvoices(tok, "?limit=1"); len(got) != 1 || *got[0].Name != "pending-2026-12" {
		t.Errorf("limit 1: %+v", got)
	}
	if got := v.listInvoices(tok, "?limit=1000"); len(got) != 2 {
		t.Errorf("limit 1000: %+v", got)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=-1", "?limit=x"} {
		if res := v.call(http.MethodGet, invoicesPath+q, tok, nil); res.Status != http.StatusBadRequest ||
			!strings.Contains(res.errorBody(t).Message, "limit") {
			t.Errorf("%s: %d %s", q, res.Status, res.Body)
		}
	}
	if res := v.call(http.MethodGet, "/api/web/namespaces/shop/usage/invoices/custom_list", tok, nil); res.Status != http.StatusBadRequest {
		t.Errorf("outside system: %d %s", res.Status, res.Body)
	}
	// The running month cannot be closed.
	if _, err := v.app.Invoices.ClosePeriod(context.Background(), period.Of(december), ""); fault.KindOf(err) != fault.KindInvalid ||
		!strings.Contains(err.Error(), "has not ended") {
		t.Errorf("closing the running month: %v", err)
	}
	// Before November is closed, it is listed as pending (not active).
	v2 := newEnvWith(t, func(c *Config) { c.PaymentProvider = newLedger() })
	tok2 := v2.upgradedTenant("acme", "tok_visa_4242")
	v2.at(december.Add(time.Hour))
	got := v2.listInvoices(tok2, "")
	if len(got) != 2 || *got[0].Name != "pending-2026-12" || *got[1].Name != "pending-2026-11" || *got[1].Active ||
		*got[1].Status != api.InvoiceInvoiceStatusSTATUSPENDING {
		t.Errorf("unclosed november: %+v", got)
	}
}

// A subscription's past billing periods name the invoice that billed them,
// or the pending one while the month is open.
func TestSubscriptionPeriodsNameTheirInvoices(t *testing.T) {
	t.Parallel()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = newLedger() })
	tok := v.upgradedTenant("acme", "tok_visa_4242")
	if res := v.call(http.MethodPost, subscribePath, tok, `{"f5xc_waap_standard":{}}`); res.Status != http.StatusOK {
		t.Fatalf("subscribe: %d %s", res.Status, res.Body)
	}
	v.at(december.Add(time.Hour))
	periods := func() api.SubscriptionPeriod {
		subs := v.subscriptions(tok, "")
		if len(subs) != 1 || subs[0].PreviousBillingPeriods == nil || len(*subs[0].PreviousBillingPeriods) != 1 {
			t.Fatalf("subscriptions: %+v", subs)
		}
		return (*subs[0].PreviousBillingPeriods)[0]
	}
	if p := periods(); len(*p.PendingInvoice) != 1 || (*p.PendingInvoice)[0] != "pending-2026-11" || len(*p.ClosedInvoice) != 0 {
		t.Errorf("open month: %+v %+v", *p.PendingInvoice, *p.ClosedInvoice)
	}
	number := v.closeNovember("acme")[0].Invoice.Number
	if p := periods(); len(*p.ClosedInvoice) != 1 || (*p.ClosedInvoice)[0] != number || len(*p.PendingInvoice) != 0 ||
		(*p.Invoices)[0] != number {
		t.Errorf("closed month: %+v %+v", *p.PendingInvoice, *p.ClosedInvoice)
	}
}

// A scheduled close whose collection the provider could not finish still
// closes the month; the next run resumes the collection with the same key,
// and the money moves once.
func TestScheduledCloseResumesAnUnfinishedCollection(t *testing.T) {
	t.Parallel()
	led := newLedger()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = led })
	v.upgradedTenant("acme", "tok_visa_4242", "tok_mastercard_5555")
	v.at(time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)) // past the grace period
	// The answer is lost at the close and again when the same run resumes.
	led.loseAnswers = 2
	ctx := context.Background()
	done, err := v.app.Invoices.RunDue(ctx)
	if len(done) != 1 || done[0] != period.Of(november) || err == nil || !strings.Contains(err.Error(), "INV-2026-11-000001") {
		t.Fatalf("first run: %v %v", done, err)
	}
	inv := v.invoiceDetail("acme", "INV-2026-11-000001")
	if inv.Status != invoice.StatusIssued || !inv.Collecting {
		t.Fatalf("after the lost answer: %+v", inv.Invoice)
	}
	// An unfinished collection holds off the operator's other moves.
	if _, err := v.app.Invoices.Cancel(ctx, "acme", inv.Number, ""); !isConflict(err) || !strings.Contains(err.Error(), "being collected") {
		t.Errorf("cancel while collecting: %v", err)
	}
	done, err = v.app.Invoices.RunDue(ctx)
	if len(done) != 0 || err != nil {
		t.Fatalf("second run: %v %v", done, err)
	}
	inv = v.invoiceDetail("acme", inv.Number)
	if inv.Status != invoice.StatusPaid || inv.Collecting || len(inv.Payments) != 1 || inv.Payments[0].MethodRole != payment.RolePrimary {
		t.Fatalf("after the resume: %+v %+v", inv.Invoice, inv.Payments)
	}
	if n, total := led.moved(); n != 1 || total != inv.Total {
		t.Errorf("moved %d charges, %d", n, total)
	}
}

// A tenant that fails to close in one month leaves that month unfinished
// (recorded with its failure, its lease released for the next run) but
// does not hold back later months.
func TestAFailingMonthDoesNotHoldBackLaterOnes(t *testing.T) {
	t.Parallel()
	var shared Config
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = newLedger(); shared = *c })
	tok := v.tenant("acme")
	v.at(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	v.setPlan("acme", "TEAM")
	v.addMethod(tok, "tok_visa_4242", "PRIMARY")
	v.at(december)
	v.setPlan("acme", "INDIVIDUAL")
	v.at(time.Date(2027, 1, 3, 1, 0, 0, 0, time.UTC))
	// A replica whose catalogue lacks TEAM cannot price November.
	full := v.app.Plans.Catalogue()
	noTeam := *full
	noTeam.Plans = nil
	for _, p := range full.Plans {
		if p.Name != "TEAM" {
			noTeam.Plans = append(noTeam.Plans, p)
		}
	}
	w := newEnvWith(t, func(c *Config) {
		*c = shared
		c.Catalogue = &noTeam
		c.ReplicaName = "replica-w"
	})
	w.at(v.clock.Now())
	ctx := context.Background()
	done, err := w.app.Invoices.RunDue(ctx)
	if len(done) != 1 || done[0] != period.Of(december) || err == nil || !strings.Contains(err.Error(), "2026-11") {
		t.Fatalf("run without TEAM: %v %v", done, err)
	}
	runs, err := v.app.Invoices.Runs(ctx, 0)
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs: %+v %v", runs, err)
	}
	for _, r := range runs {
		switch {
		case r.Period == period.Of(december) && (r.FinishedAt == nil || r.Issued != 1 || r.Failed != 0):
			t.Errorf("december: %+v", r)
		case r.Period == period.Of(november) && (r.FinishedAt != nil || r.Failed != 1):
			t.Errorf("november: %+v", r)
		}
	}
	// The next run, on the full catalogue, closes November at once.
	done, err = v.app.Invoices.RunDue(ctx)
	if len(done) != 1 || done[0] != period.Of(november) || err != nil {
		t.Fatalf("run with TEAM: %v %v", done, err)
	}
	nov := v.invoiceDetail("acme", "INV-2026-11-000002")
	if nov.Total != 817-82 || nov.Period != period.Of(november) {
		t.Errorf("november's invoice: %+v", nov.Invoice)
	}
}

// Naming a tenant that did not exist in the month is a 400 naming it.
func TestClosingAMonthBeforeTheTenantExisted(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme")
	_, err := v.app.Invoices.ClosePeriod(context.Background(), period.New(2026, time.October), "acme")
	if fault.KindOf(err) != fault.KindInvalid || !strings.Contains(err.Error(), "after 2026-10 ended") {
		t.Fatalf("%v", err)
	}
}

// The issued invoices are cached like plans and limits: a change shows at
// once on the replica that made it and within a second on the others.
func TestInvoiceChangesReachOtherReplicasWithinASecond(t *testing.T) {
	t.Parallel()
	v := newEnvWith(t, func(c *Config) { c.PaymentProvider = newLedger() })
	tok := v.upgradedTenant("acme", "tok_decline_a")
	number := v.closeNovember("acme")[0].Invoice.Number
	b := v.replica()
	status := func(e *echo.Echo) api.InvoiceInvoiceStatus {
		res := v.callOn(e, http.MethodGet, invoicesPath, tok, nil)
		var out api.InvoiceListInvoicesRsp
		res.decode(t, &out)
		for _, l := range *out.Invoices {
			if *l.Name == number {
				return *l.Status
			}
		}
		t.Fatalf("not listed: %s", res.Body)
		return ""
	}
	if got := status(b); got != api.InvoiceInvoiceStatusSTATUSISSUED {
		t.Fatalf("replica b: %s", got)
	}
	if _, err := v.app.Invoices.RecordPayment(context.Background(), "acme", number, "wire-7"); err != nil {
		t.Fatal(err)
	}
	if got := status(v.e); got != api.InvoiceInvoiceStatusSTATUSPAID {
		t.Errorf("the writing replica: %s", got)
	}
	if got := status(b); got != api.InvoiceInvoiceStatusSTATUSISSUED {
		t.Errorf("replica b within the second: %s", got)
	}
	v.clock.Advance(time.Second)
	if got := status(b); got != api.InvoiceInvoiceStatusSTATUSPAID {
		t.Errorf("replica b after a second: %s", got)
	}
}
