package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/tenancy"
)

// lastMonth is the month before the running one: ended, for any process
// started now.
func lastMonth() period.Month { return period.Of(time.Now()).Prev() }

// seedBilled creates n tenants three days into the month before last, on
// paid plans, the i-th with the payment methods of tokens(i) (PRIMARY, then
// SECONDARY); so closing last month bills each.
func (r *runner) seedBilled(ctx context.Context, dbURL, prefix string, n int, tokens func(i int) []string) ([]string, error) {
	past := clock.NewManual(lastMonth().Prev().Start().AddDate(0, 0, 3))
	a, err := r.app(ctx, dbURL, past.Now)
	if err != nil {
		return nil, err
	}
	var names []string
	for i := range n {
		name := fmt.Sprintf("%s-%03d", prefix, i)
		t, err := a.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: name})
		if err != nil {
			return nil, err
		}
		if err := a.Plans.AssignPlan(ctx, t.ID, []string{"INDIVIDUAL", "TEAM"}[i%2]); err != nil {
			return nil, err
		}
		for j, tok := range tokens(i) {
			if err := addMethod(ctx, a, t, tok, []payment.Role{payment.RolePrimary, payment.RoleSecondary}[j]); err != nil {
				return nil, err
			}
		}
		names = append(names, name)
	}
	return names, nil
}

func addMethod(ctx context.Context, a *server.App, t tenancy.Tenant, token string, role payment.Role) error {
	p := tenancy.Principal{TenantID: t.ID, TenantName: t.Name, TokenName: "seed", Role: tenancy.RoleAdmin}
	contact := &payment.Contact{Address1: "1 Main St", City: "Springfield", ZipCode: "12345", Country: "US"}
	_, err := a.Payments.Create(ctx, p, payment.CreateInput{Token: token, Role: role, Contact: contact})
	return err
}

// invoiceHealth is what the database holds about one month's invoices.
type invoiceHealth struct {
	Tenants, Invoices, Missing, Duplicates, HalfWritten, Unpaid, ChargedTwice, PaidUncharged, Pending int
}

func checkInvoices(ctx context.Context, db *sql.DB, m period.Month, tenants int) (invoiceHealth, error) {
	h := invoiceHealth{Tenants: tenants}
	start := m.Start()
	queries := []struct {
		dst *int
		q   string
	}{
		{&h.Invoices, `SELECT COUNT(*) FROM invoices WHERE period_start = $1`},
		{&h.Duplicates, `SELECT COUNT(*) FROM (SELECT tenant_id FROM invoices WHERE period_start = $1 GROUP BY tenant_id HAVING COUNT(*) > 1) d`},
		// Half-written: no lines, or lines that do not add up to the total.
		{&h.HalfWritten, `SELECT COUNT(*) FROM invoices i WHERE period_start = $1 AND
			(SELECT COALESCE(SUM(amount), -1) FROM invoice_lines l WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id) <> i.total`},
		{&h.Unpaid, `SELECT COUNT(*) FROM invoices WHERE period_start = $1 AND (status <> 'PAID' OR collecting)`},
		{&h.ChargedTwice, `SELECT COUNT(*) FROM (SELECT p.invoice_id FROM invoice_payments p JOIN invoices i ON i.tenant_id = p.tenant_id AND i.id = p.invoice_id
			WHERE i.period_start = $1 AND p.outcome = 'SUCCEEDED' AND p.kind IN ('CHARGE', 'EXTERNAL') GROUP BY p.tenant_id, p.invoice_id HAVING COUNT(*) > 1) d`},
		{&h.PaidUncharged, `SELECT COUNT(*) FROM invoices i WHERE period_start = $1 AND status = 'PAID' AND total > 0 AND NOT EXISTS
			(SELECT 1 FROM invoice_payments p WHERE p.tenant_id = i.tenant_id AND p.invoice_id = i.id AND p.outcome = 'SUCCEEDED')`},
		{&h.Pending, `SELECT COUNT(*) FROM invoice_payments p JOIN invoices i ON i.tenant_id = p.tenant_id AND i.id = p.invoice_id
			WHERE i.period_start = $1 AND p.outcome = 'PENDING'`},
	}
	for _, q := range queries {
		n, err := count(ctx, db, q.q, start)
		if err != nil {
			return h, err
		}
		*q.dst = n
	}
	h.Missing = max(tenants-(h.Invoices-h.Duplicates), 0)
	return h, nil
}

func (h invoiceHealth) figures() []figure {
	return []figure{
		mustBe("billed tenants without their invoice", h.Missing, 0, fmt.Sprintf("of %d", h.Tenants)),
		mustBe("tenants with more than one invoice for the month", h.Duplicates, 0, ""),
		mustBe("invoices half-written (no lines, or lines not adding up to the total)", h.HalfWritten, 0, fmt.Sprintf("of %d", h.Invoices)),
		mustBe("payments charged twice (invoices with two successful charges)", h.ChargedTwice, 0, ""),
		mustBe("invoices PAID without a successful charge", h.PaidUncharged, 0, ""),
		mustBe("invoices left unpaid or still collecting after the second pass", h.Unpaid, 0, ""),
		mustBe("charge attempts left pending", h.Pending, 0, ""),
	}
}

// closeResults reads the outcomes of POST /admin/v1/invoices/close.
func closeResults(body []byte) (map[string]int, error) {
	var closed struct {
		Results []struct{ Tenant, Outcome string }
	}
	if err := json.Unmarshal(body, &closed); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, c := range closed.Results {
		out[c.Outcome]++
	}
	return out, nil
}

// killDuringClose closes last month for many tenants through the operator
// API, kills the server (SIGKILL) once a part of the invoices exist, then
// closes the month again through another server: every tenant ends with
// one complete invoice, paid by one charge.
func killDuringClose(ctx context.Context, r *runner) ([]figure, error) {
	dbURL, err := r.database(ctx)
	if err != nil {
		return nil, err
	}
	n := r.cfg.scale(60, 300)
	// Every third tenant's PRIMARY is declined, so its collection goes on to
	// the SECONDARY: two charge attempts to be cut in the middle of.
	names, err := r.seedBilled(ctx, dbURL, "rel-close", n, func(i int) []string {
		if i%3 == 2 {
			return []string{"tok_decline_0001", "tok_visa_1881"}
		}
		return []string{"tok_visa_4242"}
	})
	if err != nil {
		return nil, err
	}
	a, err := r.app(ctx, dbURL, nil)
	if err != nil {
		return nil, err
	}
	db := a.DB.SQL()
	m := lastMonth()
	srv, err := r.server("closer-a", dbURL)
	if err != nil {
		return nil, err
	}
	body := fmt.Sprintf(`{"period":%q}`, m)
	done := make(chan answer, 1)
	go func() { done <- call(ctx, http.MethodPost, srv.URL+"/admin/v1/invoices/close", opsAuth, body) }()
	var atKill int
	_, reached := until(ctx, 30*time.Second, 2*time.Millisecond, func() bool {
		atKill, _ = count(ctx, db, `SELECT COUNT(*) FROM invoices WHERE period_start = $1`, m.Start())
		return atKill >= n/4
	})
	srv.Kill()
	first := <-done
	if !reached {
		return nil, fmt.Errorf("no quarter of the invoices within 30s (%d of %d)", atKill, n)
	}
	if first.Status != 0 {
		return nil, fmt.Errorf("the close finished (%d) before the kill landed; raise the tenant count", first.Status)
	}
	pendingAtKill, _ := count(ctx, db, `SELECT COUNT(*) FROM invoice_payments WHERE outcome = 'PENDING'`)
	collectingAtKill, _ := count(ctx, db, `SELECT COUNT(*) FROM invoices WHERE collecting`)
	srvB, err := r.server("closer-b", dbURL)
	if err != nil {
		return nil, err
	}
	second := call(ctx, http.MethodPost, srvB.URL+"/admin/v1/invoices/close", opsAuth, body)
	if second.Status != http.StatusOK {
		return nil, fmt.Errorf("closing again: %d %s %v", second.Status, second.Body, second.Err)
	}
	outcomes, err := closeResults(second.Body)
	if err != nil {
		return nil, err
	}
	h, err := checkInvoices(ctx, db, m, len(names))
	if err != nil {
		return nil, err
	}
	figs := []figure{
		measured("tenants billed for the month", fmt.Sprint(n)),
		measured("at the SIGKILL", fmt.Sprintf("%d invoices issued, %d being collected, %d charge attempts pending", atKill, collectingAtKill, pendingAtKill)),
		measured("the second close's outcomes", fmt.Sprintf("%d ISSUED, %d EXISTING", outcomes["ISSUED"], outcomes["EXISTING"])),
		mustBe("tenants the second close FAILED", outcomes["FAILED"], 0, ""),
	}
	return append(figs, h.figures()...), nil
}

// invoiceStatus reads the status of an operator API InvoiceDetail.
func invoiceStatus(body []byte) string {
	var d struct{ Invoice struct{ Status string } }
	_ = json.Unmarshal(body, &d)
	return d.Invoice.Status
}

// killDuringCollection issues last month's invoices to tenants whose only
// card is declined (they stay ISSUED), gives each a working SECONDARY, and
// retries every invoice through the operator API from several clients; the
// server is killed mid-round, and the retries are repeated on another:
// each invoice ends PAID by exactly one charge, and none answered PAID
// before the kill is unpaid after it.
func killDuringCollection(ctx context.Context, r *runner) ([]figure, error) {
	dbURL, err := r.database(ctx)
	if err != nil {
		return nil, err
	}
	n := r.cfg.scale(60, 300)
	names, err := r.seedBilled(ctx, dbURL, "rel-collect", n, func(int) []string { return []string{"tok_decline_0001"} })
	if err != nil {
		return nil, err
	}
	a, err := r.app(ctx, dbURL, nil)
	if err != nil {
		return nil, err
	}
	db := a.DB.SQL()
	m := lastMonth()
	srv, err := r.server("collector-a", dbURL)
	if err != nil {
		return nil, err
	}
	first := call(ctx, http.MethodPost, srv.URL+"/admin/v1/invoices/close", opsAuth, fmt.Sprintf(`{"period":%q}`, m))
	if first.Status != http.StatusOK {
		return nil, fmt.Errorf("closing: %d %s %v", first.Status, first.Body, first.Err)
	}
	numbers := map[string]string{}
	rows, err := db.QueryContext(ctx, `SELECT t.name, i.number FROM invoices i JOIN tenants t ON t.id = i.tenant_id WHERE i.period_start = $1 AND i.status = 'ISSUED'`, m.Start())
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var t, num string
		if err := rows.Scan(&t, &num); err != nil {
			rows.Close()
			return nil, err
		}
		numbers[t] = num
	}
	rows.Close()
	if len(numbers) != n {
		return nil, fmt.Errorf("%d ISSUED invoices after the declined round, want %d", len(numbers), n)
	}
	for _, name := range names {
		t, err := a.Tenancy.Tenant(ctx, name)
		if err != nil {
			return nil, err
		}
		if err := addMethod(ctx, a, t, "tok_visa_4242", payment.RoleSecondary); err != nil {
			return nil, err
		}
	}

	// Round two, from 8 clients, killed once a quarter is paid.
	var mu sync.Mutex
	paidBeforeKill := map[string]bool{}
	var next atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(names) {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				ans := call(ctx, http.MethodPost, srv.URL+"/admin/v1/tenants/"+names[i]+"/invoices/"+numbers[names[i]]+"/retry", opsAuth, `{}`)
				if ans.Status == http.StatusOK && invoiceStatus(ans.Body) == "PAID" {
					mu.Lock()
					paidBeforeKill[names[i]] = true
					mu.Unlock()
				}
			}
		}()
	}
	var paidAtKill int
	until(ctx, 30*time.Second, 2*time.Millisecond, func() bool {
		paidAtKill, _ = count(ctx, db, `SELECT COUNT(*) FROM invoices WHERE period_start = $1 AND status = 'PAID'`, m.Start())
		return paidAtKill >= n/4
	})
	srv.Kill()
	close(stop)
	wg.Wait()
	pendingAtKill, _ := count(ctx, db, `SELECT COUNT(*) FROM invoice_payments WHERE outcome = 'PENDING'`)
	collectingAtKill, _ := count(ctx, db, `SELECT COUNT(*) FROM invoices WHERE collecting`)
	if paidAtKill >= n {
		return nil, fmt.Errorf("every invoice was paid before the kill landed; raise the tenant count")
	}

	srvB, err := r.server("collector-b", dbURL)
	if err != nil {
		return nil, err
	}
	retried, conflicts := 0, 0
	for _, name := range names {
		ans := call(ctx, http.MethodGet, srvB.URL+"/admin/v1/tenants/"+name+"/invoices/"+numbers[name], opsAuth, "")
		status := invoiceStatus(ans.Body)
		if ans.Status != http.StatusOK || status == "" {
			return nil, fmt.Errorf("reading %s's invoice: %d %s %v", name, ans.Status, ans.Body, ans.Err)
		}
		if status == "PAID" {
			continue
		}
		retried++
		ans = call(ctx, http.MethodPost, srvB.URL+"/admin/v1/tenants/"+name+"/invoices/"+numbers[name]+"/retry", opsAuth, `{}`)
		if ans.Status == http.StatusConflict {
			conflicts++
		} else if ans.Status != http.StatusOK {
			return nil, fmt.Errorf("retrying %s's invoice: %d %s %v", name, ans.Status, ans.Body, ans.Err)
		}
	}
	h, err := checkInvoices(ctx, db, m, n)
	if err != nil {
		return nil, err
	}
	lost := 0
	for name := range paidBeforeKill {
		var status string
		if err := db.QueryRowContext(ctx, `SELECT i.status FROM invoices i JOIN tenants t ON t.id = i.tenant_id WHERE t.name = $1 AND i.period_start = $2`, name, m.Start()).Scan(&status); err != nil || status != "PAID" {
			lost++
		}
	}
	figs := []figure{
		measured("invoices retried (a second round: PRIMARY declined, then SECONDARY)", fmt.Sprint(n)),
		measured("at the SIGKILL", fmt.Sprintf("%d paid, %d being collected, %d charge attempts pending", paidAtKill, collectingAtKill, pendingAtKill)),
		measured("retried again on another server", fmt.Sprintf("%d (%d answered 409)", retried, conflicts)),
		mustBe("invoices answered PAID before the kill and not PAID after", lost, 0, fmt.Sprintf("of %d", len(paidBeforeKill))),
	}
	return append(figs, h.figures()...), nil
}
