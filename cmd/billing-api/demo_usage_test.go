package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/invoice"
	"billing-api/server/money"
	"billing-api/server/payment"
	"billing-api/server/tenancy"
	"billing-api/server/transition"
	"billing-api/server/usage"
	"billing-api/store/storetest"
)

// openTestApp opens the App on a fresh store private to t, on a clock that
// reads now, and returns with it how to open another App on the same store
// (the demo seed's, on a clock of its own).
func openTestApp(t *testing.T, now time.Time) (*server.App, openAppAt) {
	t.Helper()
	cfg := storetest.Config(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := server.Open(context.Background(), server.Config{Store: cfg, Clock: clock.NewManual(now).Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	// Registered after Config's cleanup, so the pool closes first.
	t.Cleanup(func() { _ = a.Close() })
	return a, func(ctx context.Context, c clock.Clock) (*server.App, error) {
		return server.Open(ctx, server.Config{Store: cfg, Clock: c, Logger: log})
	}
}

// The demo tenant is on a billed plan with 90 days of hourly usage of every
// demo meter: usage_details shows every object, current_usage bills the
// month so far, and seeding again stores nothing new.
func TestDemoSeedMetersUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 18, 14, 35, 0, 0, time.UTC)
	a, openAt := openTestApp(t, now)
	start := time.Now()
	if _, err := seedDemo(ctx, a, openAt); err != nil {
		t.Fatal(err)
	}
	t.Logf("the demo seed took %s on %s", time.Since(start), storetest.Dialect())

	tn, err := a.Tenancy.Tenant(ctx, demoTenant)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.Plans.CurrentPlan(ctx, tn.ID); err != nil || p.Name != demoPlan {
		t.Fatalf("demo tenant on %q (%v), want %s", p.Name, err, demoPlan)
	}
	p := tenancy.Principal{TenantID: tn.ID, TenantName: tn.Name, Role: tenancy.RoleAdmin, Operator: true}

	// A PRIMARY and a SECONDARY payment method (the declined card is gone).
	methods, err := a.Payments.Methods(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[payment.Role]string{}
	for _, m := range methods {
		roles[m.Role] = m.Token
	}
	if len(methods) != 2 || roles[payment.RolePrimary] != demoPrimaryToken || roles[payment.RoleSecondary] != demoSecondaryToken {
		t.Fatalf("demo payment methods %+v", methods)
	}

	// A finished plan transition in its history.
	ts, err := a.Transitions.List(ctx, &tn.ID, transition.Finished)
	if err != nil || len(ts) != 1 || ts[0].ToPlan != demoPlan {
		t.Fatalf("demo transitions %+v (%v)", ts, err)
	}

	// One active add-on.
	subs, err := a.Subscriptions.List(ctx, p, true)
	if err != nil || len(subs) != 1 || subs[0].Addon != demoAddon {
		t.Fatalf("demo subscriptions %+v (%v)", subs, err)
	}

	// Every meter has usage over the 90 days, in each of its hours.
	from := now.Truncate(time.Hour).Add(-(demoUsageDays*24 - 1) * time.Hour)
	lines, err := a.Usage.Details(ctx, p, tenancy.SystemNamespace, &from, &now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]usage.Quantity{}
	for _, l := range lines {
		got[l.UsageType+"/"+l.ObjectName] = l.Quantity
	}
	for _, m := range demoMeters() {
		if q := got[m.usageType+"/"+m.object]; q <= 0 {
			t.Errorf("%s of %s: %s over 90 days, want usage", m.usageType, m.object, q)
		}
	}
	if len(lines) != len(demoMeters()) {
		t.Errorf("%d usage lines, want one per demo meter (%d)", len(lines), len(demoMeters()))
	}

	// The month so far is billed beyond the flat price.
	d, _, err := a.Invoices.Current(ctx, p, tenancy.SystemNamespace, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	billed := 0
	var fees money.Amount
	for _, c := range d.Charges {
		if c.Kind != invoice.LineUsage {
			fees += c.Amount
			continue
		}
		l := c.Usage
		t.Logf("%s: %s %s, %d billable, %s", l.Type.Name, l.Quantity, l.Type.Unit, l.Billable, money.Format(l.Amount, d.Currency))
		if l.Priced && l.Amount > 0 {
			billed++
		}
	}
	if billed == 0 || d.Total <= fees {
		t.Fatalf("current usage bills %d usage lines, total %d (fees %d): want billable usage", billed, d.Total, fees)
	}

	// Seeding again (a restart that found the tenant half-seeded, say)
	// adds nothing: the ids are the same.
	recs, err := demoUsageRecords(a.Usage.Types(), now)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ingestDemoUsage(ctx, a, recs)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(demoMeters()) * demoUsageDays * 24; res.Accepted != 0 || res.Duplicates != want {
		t.Fatalf("seeding again: %+v, want %d duplicates and nothing accepted", res, want)
	}
}

// An hour's demo quantity depends on the meter and the hour only, so the
// records of overlapping windows agree.
func TestDemoUsageIsDeterministic(t *testing.T) {
	t.Parallel()
	types := map[string]usage.Type{}
	for _, m := range demoMeters() {
		types[m.usageType] = usage.Type{Name: m.usageType, Unit: "u"}
	}
	now := time.Date(2026, 3, 18, 14, 35, 0, 0, time.UTC)
	a, err := demoUsageRecords(types, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := demoUsageRecords(types, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]float64{}
	for _, r := range a {
		byID[r.ID] = r.Quantity
	}
	shared := 0
	for _, r := range b {
		if q, ok := byID[r.ID]; ok {
			shared++
			if q != r.Quantity {
				t.Fatalf("%s: %v, then %v", r.ID, q, r.Quantity)
			}
		}
	}
	if want := len(demoMeters()) * (demoUsageDays*24 - 1); shared != want {
		t.Fatalf("%d records shared by windows an hour apart, want %d", shared, want)
	}
}
