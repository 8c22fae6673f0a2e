package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"billing-api/gen/api"
	"billing-api/server/tenancy"
	"billing-api/store"
)

// replica is a second App (another server process, as far as caches go)
// on the same database and clock as v.
func (v *env) replica() *echo.Echo {
	v.t.Helper()
	e, err := v.replicaApp().HTTPHandler()
	if err != nil {
		v.t.Fatal(err)
	}
	return e
}

// replicaApp opens a second App on the env's store and clock: another
// replica of the same deployment.
func (v *env) replicaApp() *App {
	v.t.Helper()
	a, err := Open(context.Background(), v.app.cfg)
	if err != nil {
		v.t.Fatal(err)
	}
	v.t.Cleanup(func() { _ = a.Close() })
	return a
}

func (v *env) callOn(e *echo.Echo, method, path, token string, body any) response {
	v.t.Helper()
	h := http.Header{}
	h.Set("Authorization", "APIToken "+token)
	return v.sr.do(v.t, e, method, path, body, h)
}

// The request path serves tokens, namespaces, plans and limits from a
// cache. A change stops working at once on the replica that made it and,
// on every other replica, once the entry it cached runs out: within one
// second of when it was loaded, measured here on a hand-moved clock.
func TestCachedStateFollowsChangesWithinASecond(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme", "shop")
	tok, secret, err := v.tenancy.IssueToken(context.Background(), tenancy.IssueTokenInput{TenantName: "acme", Name: "short-lived", Role: tenancy.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	b := v.replica()
	limits := func(e *echo.Echo) response {
		return v.callOn(e, http.MethodGet, "/api/web/namespaces/shop/quota/limits", secret, nil)
	}
	lb := func(e *echo.Echo) int32 {
		var l api.QuotaGetQuotaLimitsResponse
		res := limits(e)
		res.decode(t, &l)
		return (*l.Objects)["http_loadbalancer"].Maximum
	}
	// Both replicas have the token, the namespace and the limits cached.
	if lb(v.e) != 5 || lb(b) != 5 {
		t.Fatal("plan limit of 5 expected on both replicas")
	}

	// A limit override on A: A at once, B within the second.
	v.clock.Advance(100 * time.Millisecond)
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{"object_limits":{"http_loadbalancer":{"maximum":50}}}`); res.Status != http.StatusOK {
		t.Fatalf("override: %d %s", res.Status, res.Body)
	}
	if lb(v.e) != 50 {
		t.Fatal("the replica that set the override still uses the old limit")
	}
	if lb(b) != 5 {
		t.Fatal("the other replica's cache ran out early (the test's clock has not moved a second)")
	}
	v.clock.Advance(900 * time.Millisecond) // one second after B loaded it
	if got := lb(b); got != 50 {
		t.Fatalf("one second on, the other replica still reports %d", got)
	}

	// A revocation on A: A at once, B within the second.
	if res := v.admin(http.MethodDelete, "/admin/v1/tenants/acme/tokens/"+tok.ID.String(), nil); res.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", res.Status, res.Body)
	}
	if res := limits(v.e); res.Status != http.StatusUnauthorized {
		t.Fatalf("the revoking replica still accepts the token: %d", res.Status)
	}
	if res := limits(b); res.Status != http.StatusOK {
		t.Fatalf("the other replica dropped its cached token early: %d", res.Status)
	}
	v.clock.Advance(time.Second)
	if res := limits(b); res.Status != http.StatusUnauthorized {
		t.Fatalf("one second on, the other replica still accepts the revoked token: %d", res.Status)
	}

	// A plan change made elsewhere (here: straight in the database) moves
	// the ceiling everywhere within the second.
	admin := v.token("acme", tenancy.RoleAdmin)
	current := func(e *echo.Echo) string {
		var p api.PlanLocalizedPlan
		v.callOn(e, http.MethodGet, "/api/web/namespaces/system/usage_plans/current", admin, nil).decode(t, &p)
		return *(*p.Plans)[0].Name
	}
	if current(b) != "FREE" {
		t.Fatal("not on FREE")
	}
	acme, err := v.tenancy.Tenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.NewPlans(v.db).SetTenantPlan(context.Background(), acme.ID, "TEAM", v.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if current(b) != "FREE" {
		t.Fatal("the cached plan ran out early")
	}
	v.clock.Advance(time.Second)
	if got := current(b); got != "TEAM" {
		t.Fatalf("one second on, the plan is %s", got)
	}
}
