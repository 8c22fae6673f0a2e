package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"billing-api/server"
	"billing-api/server/invoice"
	"billing-api/server/period"
	"billing-api/store"
	"billing-api/store/storetest"
)

// replicaTenants are billed tenants paying in each way collection knows
// (PRIMARY at once; PRIMARY declined, then SECONDARY), and one not billed.
func replicaTenants() []billedTenant {
	var out []billedTenant
	for i := range 6 {
		bt := billedTenant{name: fmt.Sprintf("tenant-%d", i), plan: []string{"INDIVIDUAL", "TEAM"}[i%2], tokens: []string{"tok_visa_4242"}}
		if i%3 == 2 {
			bt.tokens = []string{"tok_decline_0001", "tok_visa_1881"}
		}
		out = append(out, bt)
	}
	return append(out, billedTenant{name: "free", plan: "FREE"})
}

// checkIssuedOnce checks that, over every closer's answers, each billed
// tenant's invoice was reported issued once (and a FREE tenant's never).
func checkIssuedOnce(t *testing.T, issued map[string]int, tenants []billedTenant) {
	t.Helper()
	for _, bt := range tenants {
		if want := min(len(bt.tokens), 1); issued[bt.name] != want {
			t.Errorf("%s reported issued %d times, want %d", bt.name, issued[bt.name], want)
		}
	}
}

// checkOneInvoiceEach checks what the database holds for period after
// concurrent closes: one invoice per billed tenant, paid by exactly one
// successful charge, and each collection attempt recorded once.
func checkOneInvoiceEach(t *testing.T, cfg store.Config, month period.Month, tenants []billedTenant) {
	t.Helper()
	ctx := context.Background()
	a, err := server.Open(ctx, server.Config{Store: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	db := a.DB.SQL()
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	billed, attempts := 0, 0
	for _, bt := range tenants {
		if len(bt.tokens) > 0 {
			billed++
			attempts += len(bt.tokens)
		}
	}
	p := month.String()
	invs, err := a.Invoices.Find(ctx, "", invoice.Filter{Period: &month})
	if err != nil {
		t.Fatal(err)
	}
	perTenant := map[string]int{}
	for _, inv := range invs {
		perTenant[inv.TenantID.String()]++
		if inv.Status != "PAID" || inv.Collecting {
			t.Errorf("%s %s is %s (collecting %v)", p, inv.Number, inv.Status, inv.Collecting)
		}
	}
	if len(invs) != billed || len(perTenant) != billed {
		t.Fatalf("%s: %d invoices for %d tenants, want one for each of %d", p, len(invs), len(perTenant), billed)
	}
	// The database's own counts, across every period closed so far.
	if n := count("SELECT COUNT(*) FROM (SELECT tenant_id, period_start FROM invoices GROUP BY tenant_id, period_start HAVING COUNT(*) > 1) d"); n != 0 {
		t.Fatalf("%d tenant months have more than one invoice", n)
	}
	if n := count("SELECT COUNT(*) FROM (SELECT invoice_id FROM invoice_payments WHERE outcome = 'SUCCEEDED' AND kind = 'CHARGE' " +
		"GROUP BY tenant_id, invoice_id HAVING COUNT(*) > 1) d"); n != 0 {
		t.Fatalf("%d invoices were charged successfully more than once", n)
	}
	paid := count("SELECT COUNT(*) FROM invoice_payments WHERE outcome = 'SUCCEEDED' AND kind = 'CHARGE'")
	invoices := count("SELECT COUNT(*) FROM invoices")
	if paid != invoices {
		t.Fatalf("%d successful charges for %d invoices", paid, invoices)
	}
	if n := count("SELECT COUNT(*) FROM invoice_payments WHERE kind = 'CHARGE'"); n != attempts*invoices/billed {
		t.Fatalf("%d charge attempts for %d invoices, want %d", n, invoices, attempts*invoices/billed)
	}
}

// Two `invoices close` processes started at once on one database: every
// billed tenant gets one invoice (one process reports it ISSUED, the other
// EXISTING), charged once.
func TestTwoProcessesCloseAMonthOnce(t *testing.T) {
	t.Parallel()
	env, cfg := storeEnvAndConfig(t)
	month := lastMonth()
	tenants := replicaTenants()
	seedTenants(t, cfg, month.Start().AddDate(0, -1, 3), tenants...)

	var outs [2]bytes.Buffer
	var cmds [2]*exec.Cmd
	for i := range cmds {
		cmds[i] = exec.Command(binary, "invoices", "close", "--period", month.String())
		cmds[i].Env = env
		cmds[i].Stdout = &outs[i]
		var errOut bytes.Buffer
		cmds[i].Stderr = &errOut
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("process %d:\n%s%s", i, outs[i].String(), errOut.String())
			}
		})
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	issued := map[string]int{}
	for i := range outs {
		outcomes, _ := closeOutcomes(t, outs[i].String())
		for name, o := range outcomes {
			switch {
			case name == "free" && o == "NOTHING_TO_BILL":
			case name != "free" && (o == "ISSUED" || o == "EXISTING"):
				if o == "ISSUED" {
					issued[name]++
				}
			default:
				t.Errorf("process %d: %s %s", i, name, o)
			}
		}
	}
	checkIssuedOnce(t, issued, tenants)
	checkOneInvoiceEach(t, cfg, month, tenants)
}

// Two servers (schedulers off) receive the operator's close of one month
// at once: the same as two processes.
func TestTwoServersCloseAMonthOnce(t *testing.T) {
	t.Parallel()
	env, cfg := storeEnvAndConfig(t)
	env = append(env, "BILLING_ADMIN_TOKEN=ops")
	month := lastMonth()
	tenants := replicaTenants()
	seedTenants(t, cfg, month.Start().AddDate(0, -1, 3), tenants...)
	a, b := launchServer(t, env, "--invoice-scheduler=false"), launchServer(t, env, "--invoice-scheduler=false")
	bases := []string{a.waitServing(t), b.waitServing(t)}

	type result struct {
		status int
		body   []byte
		err    error
	}
	results := make([]result, len(bases))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, base := range bases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, base+"/admin/v1/invoices/close",
				strings.NewReader(`{"period":"`+month.String()+`"}`))
			req.Header.Set("Authorization", "Bearer ops")
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				results[i].err = err
				return
			}
			defer res.Body.Close()
			results[i].status = res.StatusCode
			results[i].body, results[i].err = io.ReadAll(res.Body)
		}()
	}
	close(start)
	wg.Wait()
	issued := map[string]int{}
	for i, r := range results {
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("server %d: %d %s %v", i, r.status, r.body, r.err)
		}
		var closed struct {
			Results []struct {
				Tenant, Outcome string
				Error           *string
			}
		}
		if err := json.Unmarshal(r.body, &closed); err != nil || len(closed.Results) != len(tenants) {
			t.Fatalf("server %d answered %s", i, r.body)
		}
		for _, c := range closed.Results {
			if c.Outcome == "ISSUED" {
				issued[c.Tenant]++
			}
			if c.Outcome == "FAILED" || c.Error != nil {
				t.Errorf("server %d: %+v", i, c)
			}
		}
	}
	checkIssuedOnce(t, issued, tenants)
	checkOneInvoiceEach(t, cfg, month, tenants)
}

// Two servers starting at once both catch up the missed months: each month
// is closed by one of them, each tenant invoiced once for it.
func TestTwoSchedulersCatchUpOnce(t *testing.T) {
	t.Parallel()
	env, cfg := storeEnvAndConfig(t)
	first := lastMonth().Add(-3)
	tenants := replicaTenants()
	seedTenants(t, cfg, first.Start().AddDate(0, 0, 3), tenants...)
	a := launchServer(t, env, "--replica-name", "replica-a")
	b := launchServer(t, env, "--replica-name", "replica-b")
	closedBy := map[string]string{}
	a.waitServing(t)
	b.waitServing(t)
	waitForRun(t, a, b)
	for name, p := range map[string]serverProcess{"replica-a": a, "replica-b": b} {
		for _, r := range logRecords(p.logs, "invoice month closed") {
			period := r["period"].(string)
			if other, ok := closedBy[period]; ok {
				t.Errorf("%s closed by %s and %s", period, other, name)
			}
			closedBy[period] = name
		}
	}
	for m := first; m.Before(lastMonth()); m = m.Next() {
		if closedBy[m.String()] == "" {
			t.Errorf("%s was closed by neither: %v", m, closedBy)
		}
		checkOneInvoiceEach(t, cfg, m, tenants)
	}
	t.Logf("months closed by: %v", closedBy)
}

// A replica killed (SIGKILL) in the middle of closing a month: another
// replica on the same PostgreSQL finishes the month within 2 minutes, with
// one invoice per billed tenant and one successful charge per invoice. The
// killed replica works one job at a time, so the kill lands between jobs or
// inside one (a job left running, which the survivor's leader rescues).
func TestAMonthAReplicaWasKilledClosingIsFinishedByAnother(t *testing.T) {
	if storetest.Dialect() != store.Postgres {
		t.Skip("two server processes on one PostgreSQL: the PostgreSQL pass runs it")
	}
	t.Parallel()
	env, cfg := storeEnvAndConfig(t)
	month := lastMonth()
	var tenants []billedTenant
	for i := range 40 {
		bt := billedTenant{name: fmt.Sprintf("kill-%02d", i), plan: []string{"INDIVIDUAL", "TEAM"}[i%2], tokens: []string{"tok_visa_4242"}}
		if i%4 == 3 {
			bt.tokens = []string{"tok_decline_0001", "tok_visa_1881"}
		}
		tenants = append(tenants, bt)
	}
	seedTenants(t, cfg, month.Start().AddDate(0, -1, 3), tenants...)
	ctx := context.Background()
	watch, err := server.Open(ctx, server.Config{Store: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	issued := func() int {
		t.Helper()
		invs, err := watch.Invoices.Find(ctx, "", invoice.Filter{Period: &month})
		if err != nil {
			t.Fatal(err)
		}
		return len(invs)
	}

	a := launchServer(t, env, "--replica-name", "replica-a", "--job-workers", "1")
	a.waitServing(t)
	deadline := time.Now().Add(time.Minute)
	for n := issued(); n == 0; n = issued() {
		if time.Now().After(deadline) {
			t.Fatalf("replica-a issued nothing in a minute:\n%s", a.logs.all())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = a.cmd.Wait()
	killed := time.Now()
	atKill := issued()
	if atKill == len(tenants) {
		t.Fatalf("replica-a closed every tenant before the kill: nothing was left to finish")
	}
	t.Logf("killed replica-a with %d of %d invoices issued", atKill, len(tenants))

	b := launchServer(t, env, "--replica-name", "replica-b")
	b.waitServing(t)
	for {
		runs, err := watch.Invoices.Runs(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		finished := slices.ContainsFunc(runs, func(r invoice.Run) bool { return r.Period == month && r.FinishedAt != nil })
		collecting, err := watch.Invoices.Collecting(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if finished && len(collecting) == 0 {
			break
		}
		if time.Since(killed) > 2*time.Minute {
			t.Fatalf("2 minutes after the kill: month finished %v, %d invoices still collecting, %d issued\n%s",
				finished, len(collecting), issued(), b.logs.all())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("replica-b finished the month %s after the kill", time.Since(killed).Round(time.Second))
	checkOneInvoiceEach(t, cfg, month, tenants)
}
