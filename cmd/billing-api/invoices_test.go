package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/tenancy"
	"billing-api/store"
)

// billedTenant is a tenant to seed: its plan and payment tokens (the
// first PRIMARY, the second SECONDARY).
type billedTenant struct {
	name, plan string
	tokens     []string
}

// seedTenants creates the tenants with their plan history starting at
// since (a clock in the past: the processes under test run on the real
// one, so the months after since have ended for them).
func seedTenants(t *testing.T, cfg store.Config, since time.Time, tenants ...billedTenant) {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewManual(since)
	a, err := server.Open(ctx, server.Config{Store: cfg, Clock: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, bt := range tenants {
		tn, err := a.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: bt.name})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Plans.AssignPlan(ctx, tn.ID, bt.plan); err != nil {
			t.Fatal(err)
		}
		p := tenancy.Principal{TenantID: tn.ID, TenantName: bt.name, TokenName: "seed", Role: tenancy.RoleAdmin}
		for i, tok := range bt.tokens {
			role := payment.RolePrimary
			if i > 0 {
				role = payment.RoleSecondary
			}
			contact := &payment.Contact{Address1: "1 Main St", City: "Springfield", ZipCode: "12345", Country: "US"}
			if _, err := a.Payments.Create(ctx, p, payment.CreateInput{Token: tok, Role: role, Contact: contact}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// lastMonth is the month before the running one: ended, for any process
// started now.
func lastMonth() period.Month { return period.Of(time.Now()).Prev() }

// closeOutcomes reads `invoices close` output: tenant → outcome, and the
// invoice number of each tenant that has one.
func closeOutcomes(t *testing.T, out string) (outcomes, numbers map[string]string) {
	t.Helper()
	outcomes, numbers = map[string]string{}, map[string]string{}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "TENANT") {
		t.Fatalf("close printed:\n%s", out)
	}
	for _, l := range lines[1 : len(lines)-1] {
		f := strings.Fields(l)
		outcomes[f[0]] = f[1]
		if f[2] != "-" {
			numbers[f[0]] = f[2]
		}
	}
	return outcomes, numbers
}

// An operator closes last month from the command line, reads the invoices
// and moves them through their statuses.
func TestInvoiceCommands(t *testing.T) {
	t.Parallel()
	env, cfg := storeEnvAndConfig(t)
	month := lastMonth()
	p := month.String()
	seedTenants(t, cfg, month.Start().AddDate(0, -1, 3),
		billedTenant{"acme", "INDIVIDUAL", []string{"tok_visa_4242"}},
		billedTenant{"beta", "INDIVIDUAL", []string{"tok_decline_0002"}},
		billedTenant{"free", "FREE", nil},
	)

	out := mustRun(t, env, "invoices", "close", "--period", p)
	outcomes, numbers := closeOutcomes(t, out)
	if fmt.Sprint(outcomes) != "map[acme:ISSUED beta:ISSUED free:NOTHING_TO_BILL]" ||
		!strings.Contains(out, p+": 3 tenants, 2 issued, 0 already invoiced, 1 with nothing to bill, 0 failed") {
		t.Fatalf("close printed:\n%s", out)
	}
	// A whole month on INDIVIDUAL: its flat price.
	if !strings.Contains(out, numbers["acme"]+"  PAID    19.00 USD") || !strings.Contains(out, numbers["beta"]+"  ISSUED  19.00 USD") {
		t.Fatalf("close printed:\n%s", out)
	}
	out = mustRun(t, env, "invoices", "close", "--period", p, "--tenant", "acme")
	if o, _ := closeOutcomes(t, out); fmt.Sprint(o) != "map[acme:EXISTING]" || !strings.Contains(out, "1 tenants, 0 issued, 1 already invoiced") {
		t.Fatalf("second close printed:\n%s", out)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--period", period.Of(time.Now()).String()}, "has not ended"},
		{[]string{"--period", "2026-13"}, "--period"},
		{[]string{}, `"period" not set`},
		{[]string{"--period", p, "--tenant", "nobody"}, `tenant "nobody" not found`},
	} {
		if _, errOut, err := run(t, env, append([]string{"invoices", "close"}, bad.args...)...); err == nil || !strings.Contains(errOut, bad.want) {
			t.Errorf("close %v: %v %q, want an error naming %q", bad.args, err, errOut, bad.want)
		}
	}

	list := mustRun(t, env, "invoices", "list")
	if !strings.HasPrefix(list, "TENANT") || strings.Count(list, "\n") != 3 || !strings.Contains(list, numbers["acme"]) || !strings.Contains(list, numbers["beta"]) {
		t.Fatalf("list printed:\n%s", list)
	}
	for args, want := range map[string]string{
		"--status paid":               "acme",
		"--status ISSUED":             "beta",
		"--tenant beta --period " + p: "beta",
		"--status OVERDUE":            "",
		"--period 2001-01":            "",
	} {
		out := mustRun(t, env, append([]string{"invoices", "list"}, strings.Fields(args)...)...)
		var tenants []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			tenants = append(tenants, strings.Fields(l)[0])
		}
		if got := strings.Join(tenants, " "); got != want {
			t.Errorf("list %s: %q, want %q", args, got, want)
		}
	}
	for _, bad := range [][]string{{"--status", "PENDING"}, {"--limit", "-1"}, {"--period", "May"}, {"--tenant", "nobody"}} {
		if _, errOut, err := run(t, env, append([]string{"invoices", "list"}, bad...)...); err == nil || errOut == "" {
			t.Errorf("list %v: %v %q, want an error", bad, err, errOut)
		}
	}

	show := mustRun(t, env, "invoices", "show", "acme", numbers["acme"])
	for _, want := range []string{"Status:", "PAID since", "Total:", "19.00 USD", "PLAN", "Individual", "CHARGE", "SUCCEEDED", "PRIMARY", "Usage that arrived after"} {
		if !strings.Contains(show, want) {
			t.Errorf("show lacks %q:\n%s", want, show)
		}
	}
	if strings.Contains(show, "tok_visa") {
		t.Fatalf("show prints the payment token:\n%s", show)
	}
	if _, errOut, err := run(t, env, "invoices", "show", "acme", "INV-2001-01-000001"); err == nil || !strings.Contains(errOut, "has no invoice") {
		t.Fatalf("unknown invoice: %v %q", err, errOut)
	}

	// beta: retried (declined again), paid by transfer, refunded; then
	// nothing more may happen to it.
	if out := mustRun(t, env, "invoices", "retry", "beta", numbers["beta"]); !strings.Contains(out, "is ISSUED") || !strings.Contains(out, "round 2") {
		t.Fatalf("retry printed %q", out)
	}
	if out := mustRun(t, env, "invoices", "pay", "beta", numbers["beta"], "--reference", "SEPA-0042"); !strings.Contains(out, "is PAID (external payment SEPA-0042)") {
		t.Fatalf("pay printed %q", out)
	}
	if out := mustRun(t, env, "invoices", "refund", "beta", numbers["beta"], "--reason", "goodwill"); !strings.Contains(out, "is REFUNDED (goodwill)") {
		t.Fatalf("refund printed %q", out)
	}
	if _, errOut, err := run(t, env, "invoices", "cancel", "beta", numbers["beta"]); err == nil || !strings.Contains(errOut, "REFUNDED") {
		t.Fatalf("cancelling a refunded invoice: %v %q", err, errOut)
	}
	if _, errOut, err := run(t, env, "invoices", "pay", "beta", numbers["beta"]); err == nil || !strings.Contains(errOut, "reference") {
		t.Fatalf("pay without a reference: %v %q", err, errOut)
	}
	show = mustRun(t, env, "invoices", "show", "beta", numbers["beta"])
	for _, want := range []string{"REFUNDED since", "DECLINED", "EXTERNAL", "SEPA-0042", "REFUND"} {
		if !strings.Contains(show, want) {
			t.Errorf("beta's show lacks %q:\n%s", want, show)
		}
	}
	if _, errOut, err := run(t, env, "invoices", "cancel", "acme", numbers["acme"], "--reason", "x"); err == nil || !strings.Contains(errOut, "is PAID") {
		t.Fatalf("cancelling a paid invoice: %v %q", err, errOut)
	}

	// The PDF, to standard output and to a file: the same bytes.
	doc := mustRun(t, env, "invoices", "pdf", "acme", numbers["acme"])
	if !strings.HasPrefix(doc, "%PDF-") {
		t.Fatalf("pdf wrote %.40q", doc)
	}
	path := filepath.Join(t.TempDir(), "invoice.pdf")
	mustRun(t, env, "invoices", "pdf", "acme", numbers["acme"], "-o", path)
	if b, err := os.ReadFile(path); err != nil || string(b) != doc {
		t.Fatalf("pdf -o: %v, %d bytes, want %d", err, len(b), len(doc))
	}
	if _, errOut, err := run(t, env, "invoices", "pdf", "beta", numbers["acme"]+"9"); err == nil || !strings.Contains(errOut, "no invoice") {
		t.Fatalf("pdf of an unknown invoice: %v %q", err, errOut)
	}

	// Closing by hand records no background run.
	if out := mustRun(t, env, "invoices", "runs"); strings.TrimSpace(out) != "PERIOD  STARTED BY  STARTED  FINISHED  ISSUED  FAILED" {
		t.Fatalf("runs printed %q", out)
	}
}

// A tenant whose month cannot be closed (its plan left the catalogue) is
// reported FAILED, the others still close, and the command exits non-zero.
func TestInvoicesCloseFailsWhenATenantFails(t *testing.T) {
	t.Parallel()
	env, cfg := storeEnvAndConfig(t)
	month := lastMonth()
	seedTenants(t, cfg, month.Start().AddDate(0, -1, 3),
		billedTenant{"acme", "INDIVIDUAL", []string{"tok_visa_4242"}},
		billedTenant{"free", "FREE", nil},
	)
	catalogue := filepath.Join(t.TempDir(), "plans.yaml")
	onlyFree := `locale: en-US
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
`
	if err := os.WriteFile(catalogue, []byte(onlyFree), 0o644); err != nil {
		t.Fatal(err)
	}
	p := month.String()
	out, errOut, err := run(t, env, "invoices", "close", "--period", p, "--plan-catalogue", catalogue)
	if err == nil || !strings.Contains(errOut, "1 of 2 tenants failed") {
		t.Fatalf("close with a failing tenant: %v %q", err, errOut)
	}
	if o, _ := closeOutcomes(t, out); fmt.Sprint(o) != "map[acme:FAILED free:NOTHING_TO_BILL]" ||
		!strings.Contains(out, `plan "INDIVIDUAL"`) || !strings.Contains(out, "1 with nothing to bill, 1 failed") {
		t.Fatalf("close printed:\n%s", out)
	}
	// With the plan back, the same close issues acme's invoice.
	out = mustRun(t, env, "invoices", "close", "--period", p)
	if o, _ := closeOutcomes(t, out); fmt.Sprint(o) != "map[acme:ISSUED free:NOTHING_TO_BILL]" {
		t.Fatalf("close again printed:\n%s", out)
	}
}
