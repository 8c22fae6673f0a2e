package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"billing-api/server/period"
)

// serve closes the months missed while no server ran as it starts, and
// stops its scheduler on SIGTERM; a second server finds nothing left.
func TestServeCatchesUpMissedMonthsAtStart(t *testing.T) {
	t.Parallel()
	env, cfg := storeEnvAndConfig(t)
	env = append(env, "BILLING_ADMIN_TOKEN=ops")
	first := lastMonth().Add(-2)
	seedTenants(t, cfg, first.Start().AddDate(0, 0, 3),
		billedTenant{"acme", "INDIVIDUAL", []string{"tok_visa_4242"}},
		billedTenant{"beta", "TEAM", []string{"tok_decline_0001", "tok_visa_1881"}},
	)
	p := launchServer(t, env, "--replica-name", "replica-a")
	base := p.waitServing(t)
	waitForRun(t, p)
	closed := logRecords(p.logs, "invoice month closed")
	seen := map[string]bool{}
	for _, r := range closed {
		if seen[r["period"].(string)] || r["issued"] != 2.0 || r["started_by"] != "replica-a" {
			t.Errorf("closed %v (seen before: %v)", r, seen[r["period"].(string)])
		}
		seen[r["period"].(string)] = true
	}
	// The first two months ended long ago, whatever today is; the month
	// just ended may still be in its grace period.
	for _, m := range []period.Month{first, first.Next()} {
		if !seen[m.String()] {
			t.Errorf("%s was not closed: %v", m, closed)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/v1/invoices?tenant=beta", nil)
	req.Header.Set("Authorization", "Bearer ops")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Invoices []struct{ Period, Status string }
	}
	err = json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if err != nil || len(list.Invoices) != len(closed) {
		t.Fatalf("beta's invoices: %+v (%v), want one per closed month (%d)", list, err, len(closed))
	}
	for _, inv := range list.Invoices {
		if !seen[inv.Period] || inv.Status != "PAID" {
			t.Errorf("beta's invoice %+v", inv)
		}
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"job engine stopped", "stopped"} {
		if !p.logs.waitFor(step) {
			t.Fatalf("no %q after SIGTERM:\n%s", step, p.logs.all())
		}
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v", err)
	}

	// Another replica started later finds every month closed.
	q := launchServer(t, env, "--replica-name", "replica-b")
	q.waitServing(t)
	waitForRun(t, q)
	if again := logRecords(q.logs, "invoice month closed"); len(again) != 0 {
		t.Fatalf("the second server closed %v", again)
	}
}

// waitForRun blocks until one of the servers' leader has queued the due
// months and every one of them is logged closed (by any of the servers).
func waitForRun(t *testing.T, ps ...serverProcess) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var queued []any
		closed := map[string]bool{}
		for _, p := range ps {
			for _, r := range logRecords(p.logs, "invoice months queued") {
				if queued == nil {
					queued, _ = r["months"].([]any)
					if queued == nil {
						queued = []any{}
					}
				}
			}
			for _, r := range logRecords(p.logs, "invoice month closed") {
				closed[r["period"].(string)] = true
			}
		}
		if queued != nil && !slices.ContainsFunc(queued, func(m any) bool { return !closed[m.(string)] }) {
			return
		}
		if time.Now().After(deadline) {
			var logs []string
			for _, p := range ps {
				logs = append(logs, p.logs.all())
			}
			t.Fatalf("after 2 minutes: queued %v, closed %v\n%s", queued, closed, strings.Join(logs, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logRecords is every JSON record with msg the process has logged so far.
func logRecords(lr *lineReader, msg string) []map[string]any {
	var out []map[string]any
	for line := range strings.SplitSeq(lr.all(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// --invoice-scheduler=false leaves months to others; a grace period must
// be positive.
func TestServeInvoiceSchedulerFlags(t *testing.T) {
	t.Parallel()
	env := storeEnv(t)
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--invoice-grace", "0"}, "--invoice-grace must be more than 0"},
		{[]string{"BILLING_INVOICE_GRACE=-1h"}, nil, "--invoice-grace must be more than 0"},
		{[]string{"BILLING_INVOICE_GRACE=two days"}, nil, "BILLING_INVOICE_GRACE"},
		{[]string{"BILLING_INVOICE_SCHEDULER=maybe"}, nil, "BILLING_INVOICE_SCHEDULER"},
	} {
		args := append([]string{"serve", "--listen", "127.0.0.1:0"}, c.args...)
		if _, errOut, err := run(t, append(append([]string{}, env...), c.env...), args...); err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%v %v: %v %q, want an error naming %q", c.env, c.args, err, errOut, c.want)
		}
	}
	p := launchServer(t, append(env, "BILLING_INVOICE_SCHEDULER=false", "BILLING_REPLICA_NAME=replica-x"))
	p.waitServing(t)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !p.logs.waitFor("stopped") {
		t.Fatalf("no stop:\n%s", p.logs.all())
	}
	_ = p.cmd.Wait()
	serving := logRecords(p.logs, "serving")
	if len(serving) != 1 || serving[0]["invoice_scheduler"] != false || serving[0]["replica"] != "replica-x" {
		t.Fatalf("serving logged %v", serving)
	}
	if strings.Contains(p.logs.all(), "invoice months queued") {
		t.Fatalf("the scheduler ran although disabled:\n%s", p.logs.all())
	}
}
