package quota_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
	"billing-api/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }

// Two replicas share one database; a quota change made on one reaches the
// other's rate limiting within a second.
func TestQuotaChangeReachesOtherReplicasWithinASecond(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := clock.NewManual(time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC))
	cfg := server.Config{Store: storetest.Config(t), Clock: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	replica := func() *server.App {
		a, err := server.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close() })
		return a
	}
	a, b := replica(), replica()
	acme, err := a.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	allow := func(s *server.App) error {
		return s.Quotas.Limiter().Allow(ctx, acme.ID, "system", "listQuotas")
	}
	if err := allow(b); err != nil { // b caches the plan's generous limit
		t.Fatal(err)
	}
	p := tenancy.Principal{TenantID: acme.ID, TenantName: "acme", TokenName: "t", Role: tenancy.RoleAdmin}
	if _, err := a.Quotas.Create(ctx, p, "system", quota.ObjectInput{
		Name: "strict", Spec: quota.Limits{APIs: map[string]quota.RateLimit{"listQuotas": {Rate: 1, Unit: quota.Hour}}},
	}); err != nil {
		t.Fatal(err)
	}
	// a sees the change at once (its own write dropped its cache) ...
	if err := allow(a); err != nil {
		t.Fatalf("first request on a: %v", err)
	}
	if err := allow(a); !errors.Is(err, fault.ErrRateLimited) {
		t.Fatalf("second request on a: %v, want rate limited", err)
	}
	// ... b still uses its cached limits for under a second, then sees it.
	if err := allow(b); err != nil {
		t.Fatalf("b within its cache lifetime: %v", err)
	}
	clk.Advance(time.Second)
	if err := allow(b); err != nil {
		t.Fatalf("b's first request under the new limit: %v", err)
	}
	if err := allow(b); !errors.Is(err, fault.ErrRateLimited) {
		t.Fatalf("b one second after the change: %v, want rate limited", err)
	}
}

func TestSelectorGrammar(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"team": "web", "env": "prod"}
	for expr, want := range map[string]bool{
		"": true, "team": true, "!team": false, "team=web": true, "team==web": true, "team!=web": false,
		"env in (prod,dev)": true, "env notin (prod)": false, "team=web,env=dev": false, "missing!=x": true,
	} {
		sel, err := quota.ParseSelector(expr)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		if got := sel.Matches(labels); got != want {
			t.Errorf("%q matched %v, want %v", expr, got, want)
		}
	}
	for _, bad := range []string{"env gt 3", "env<3", "(", "a in (b"} {
		if _, err := quota.ParseSelector(bad); !errors.Is(err, fault.ErrInvalid) {
			t.Errorf("%q: %v, want invalid", bad, err)
		}
	}
}
