package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/invoice"
	"billing-api/server/period"
)

// records returns the JSON log records with msg logged since the last
// reset, in order.
func (l *lockedWriter) records(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(l.b.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func (l *lockedWriter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// periods lists the "period" attribute of records.
func periods(recs []map[string]any) string {
	var out []string
	for _, r := range recs {
		out = append(out, r["period"].(string))
	}
	return strings.Join(out, " ")
}

// steppedScheduler runs s with its timer replaced: each sleep it asks for
// arrives on the returned channel, and sending on fire ends it.
func steppedScheduler(t *testing.T, s *invoiceScheduler) (sleeps <-chan time.Duration, fire chan<- time.Time, stop func()) {
	t.Helper()
	asked := make(chan time.Duration)
	wake := make(chan time.Time)
	s.after = func(d time.Duration) <-chan time.Time {
		asked <- d
		return wake
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx)
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return asked, wake, stop
}

// The scheduler catches up every month missed while no server ran, logs
// each with its counts, then sleeps until the next month is due (at most
// an hour at a time).
func TestInvoiceSchedulerCatchesUpThenSleepsUntilTheNextMonthIsDue(t *testing.T) {
	t.Parallel()
	_, cfg := storeEnvAndConfig(t)
	seedTenants(t, cfg, time.Date(2026, 6, 10, 9, 30, 0, 0, time.UTC),
		billedTenant{"acme", "INDIVIDUAL", []string{"tok_visa_4242"}},
		billedTenant{"free", "FREE", nil},
	)
	clk := clock.NewManual(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	logs := &lockedWriter{}
	a, err := server.Open(context.Background(), server.Config{
		Store: cfg, Clock: clk.Now, ReplicaName: "replica-a", Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sleeps, fire, stop := steppedScheduler(t, newInvoiceScheduler(a))

	if d := <-sleeps; d != schedulerMaxSleep {
		t.Fatalf("after catching up it sleeps %s", d)
	}
	closed := logs.records("invoice month closed")
	if got := periods(closed); got != "2026-06 2026-07 2026-08 2026-09 2026-10" {
		t.Fatalf("caught up %q", got)
	}
	for _, r := range closed {
		if r["issued"] != 1.0 || r["failed"] != 0.0 || r["owner"] != "replica-a" {
			t.Errorf("closed %v", r)
		}
	}
	logs.reset()

	// Woken early in the grace period of November: nothing is due; it
	// sleeps until November is.
	clk.Advance(time.Date(2026, 12, 2, 23, 30, 0, 0, time.UTC).Sub(clk.Now()))
	fire <- clk.Now()
	if d := <-sleeps; d != 30*time.Minute {
		t.Fatalf("within the grace period it sleeps %s", d)
	}
	if got := periods(logs.records("invoice month closed")); got != "" {
		t.Fatalf("closed %q within the grace period", got)
	}
	logs.reset()
	clk.Advance(30 * time.Minute)
	fire <- clk.Now()
	if d := <-sleeps; d != schedulerMaxSleep {
		t.Fatalf("after November it sleeps %s", d)
	}
	if got := periods(logs.records("invoice month closed")); got != "2026-11" {
		t.Fatalf("closed %q when November was due", got)
	}
	logs.reset()
	stop()
	if len(logs.records("invoice scheduler stopped")) != 1 {
		t.Fatal("no stop logged")
	}
	invs, err := a.Invoices.Find(context.Background(), "acme", invoice.Filter{})
	if err != nil || len(invs) != 6 {
		t.Fatalf("acme has %d invoices (%v), want June to November", len(invs), err)
	}
}

// flakyInvoicing fails its first run after closing one month.
type flakyInvoicing struct {
	runs int
	now  time.Time
}

func (f *flakyInvoicing) RunDue(context.Context) ([]period.Month, error) {
	f.runs++
	if f.runs == 1 {
		return []period.Month{period.New(2026, time.September)}, errors.New("closing 2026-10: tenant acme: database unavailable")
	}
	return nil, nil
}
func (f *flakyInvoicing) NextDue() time.Time { return f.now.Add(10 * time.Minute) }
func (f *flakyInvoicing) Now() time.Time     { return f.now }
func (f *flakyInvoicing) Runs(context.Context, int) ([]invoice.Run, error) {
	return []invoice.Run{{Period: period.New(2026, time.September), Owner: "replica-a", Issued: 3}}, nil
}

// A failing run is logged, with the months it did close, and retried a few
// minutes later; the scheduler stops when asked, also while it sleeps.
func TestInvoiceSchedulerRetriesAFailedRun(t *testing.T) {
	t.Parallel()
	logs := &lockedWriter{}
	f := &flakyInvoicing{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	sleeps, fire, stop := steppedScheduler(t, &invoiceScheduler{invoices: f, log: slog.New(slog.NewJSONHandler(logs, nil))})
	if d := <-sleeps; d != schedulerRetryDelay {
		t.Fatalf("after a failed run it sleeps %s", d)
	}
	if got := periods(logs.records("invoice month closed")); got != "2026-09" {
		t.Fatalf("logged closed %q", got)
	}
	failed := logs.records("invoice scheduler run failed")
	if len(failed) != 1 || !strings.Contains(failed[0]["error"].(string), "database unavailable") || failed[0]["retry_in"] != "5m0s" {
		t.Fatalf("logged the failure as %v", failed)
	}
	fire <- f.now
	if d := <-sleeps; d != 10*time.Minute {
		t.Fatalf("after the retry it sleeps %s, want until the next month is due", d)
	}
	stop()
	if f.runs != 2 {
		t.Fatalf("%d runs", f.runs)
	}
}

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
		if seen[r["period"].(string)] || r["issued"] != 2.0 || r["owner"] != "replica-a" {
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
	for _, step := range []string{"invoice scheduler stopped", "stopped"} {
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

// waitForRun blocks until the server's scheduler has finished its first
// run, and fails the test if that run failed.
func waitForRun(t *testing.T, p serverProcess) {
	t.Helper()
	lr := p.logs
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for {
		for ; lr.next < len(lr.lines); lr.next++ {
			var rec map[string]any
			if json.Unmarshal([]byte(lr.lines[lr.next]), &rec) != nil {
				continue
			}
			switch rec["msg"] {
			case "invoice scheduler run finished":
				lr.next++
				return
			case "invoice scheduler run failed":
				t.Fatalf("the scheduler's run failed: %s\n%s", rec["error"], strings.Join(lr.lines, "\n"))
			}
		}
		if lr.done {
			t.Fatalf("the server ended before its scheduler finished a run:\n%s", strings.Join(lr.lines, "\n"))
		}
		lr.cond.Wait()
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
	if strings.Contains(p.logs.all(), "invoice scheduler") {
		t.Fatalf("the scheduler ran although disabled:\n%s", p.logs.all())
	}
}
