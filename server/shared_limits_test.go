package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"billing-api/gen/api"
	"billing-api/server/ratelimit/redistest"
)

// newSharedEnv is newEnv with the rate-limit buckets in the machine's
// Redis, under a key prefix of the test's own, and a timeout a loaded
// machine does not reach (these tests are about sharing; the fallback has
// its own in server/ratelimit and cmd/billing-api).
func newSharedEnv(t *testing.T, adjust func(*Config)) *env {
	t.Helper()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	return newEnvWith(t, func(c *Config) {
		c.RedisURL, c.RedisKeyPrefix, c.RedisTimeout = url, prefix, time.Second
		adjust(c)
	})
}

// Two replicas with the same Redis take from the same buckets: a request
// refused by a namespace's own bucket on one replica leaves the tenant's
// bucket as it was on both, and the quota usage report on either replica
// counts what both took.
func TestReplicasShareTheTenantsBuckets(t *testing.T) {
	t.Parallel()
	v := newSharedEnv(t, func(*Config) {})
	tok := v.tenant("acme", "shop", "lab")
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{"api_limits":{"listQuotas":{"rate":3,"unit":"MINUTE","burst":3}}}`); res.Status != http.StatusOK {
		t.Fatalf("overrides: %d %s", res.Status, res.Body)
	}
	v.createQuota(tok, "shop", `{"metadata":{"name":"strict"},"spec":{"api_limits":{"listQuotas":{"rate":1,"unit":"HOUR"}}}}`)
	b := v.replica()
	list := func(e *echo.Echo, ns string) int {
		return v.callOn(e, http.MethodGet, "/api/web/namespaces/"+ns+"/quotas", tok, nil).Status
	}
	steps := []struct {
		on   *echo.Echo
		ns   string
		want int
	}{
		{v.e, "shop", http.StatusOK},            // tenant 1, shop 1
		{b, "shop", http.StatusTooManyRequests}, // shop's own bucket, shared; the tenant's untouched
		{b, "shop", http.StatusTooManyRequests},
		{b, "lab", http.StatusOK},   // tenant 2
		{v.e, "lab", http.StatusOK}, // tenant 3
		{b, "system", http.StatusTooManyRequests},
		{v.e, "system", http.StatusTooManyRequests},
	}
	for i, s := range steps {
		if got := list(s.on, s.ns); got != s.want {
			t.Fatalf("step %d (%s): %d, want %d", i+1, s.ns, got, s.want)
		}
	}
	for _, e := range []*echo.Echo{v.e, b} {
		var u api.QuotaGetResponseType
		res := v.callOn(e, http.MethodGet, "/api/web/namespaces/lab/quota/usage", tok, nil)
		res.decode(t, &u)
		if got := (*u.Apis)["listQuotas"]; got.Usage.Current != 3 {
			t.Fatalf("usage of listQuotas in lab: %+v, want 3 (taken on both replicas)", got)
		}
	}
}

// The no-auth status operation's per-address bucket is shared too: one
// address gets one burst across the replicas, not one each.
func TestReplicasShareTheClientAddressBucket(t *testing.T) {
	t.Parallel()
	v := newSharedEnv(t, func(c *Config) { c.PublicRate = 1 }) // bursts of 4, one more a second
	b := v.replica()
	served := 0
	start := time.Now()
	for i := range 12 {
		e := []*echo.Echo{v.e, b}[i%2]
		res := v.sr.do(t, e, http.MethodGet, fmt.Sprintf("/no_auth/namespaces/system/billing/plan_transition?id=%s", uuid.NewString()), nil, http.Header{})
		switch res.Status {
		case http.StatusNotFound:
			served++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("request %d: %d %s", i+1, res.Status, res.Body)
		}
	}
	// Redis's clock refills one a second while the test runs.
	most := 4 + int(math.Floor(time.Since(start).Seconds()))
	if served < 4 || served > most {
		t.Fatalf("%d of 12 served across two replicas, want the one burst of 4 (at most %d)", served, most)
	}
}

// Without Redis each replica keeps its own buckets (the documented
// default): the same steps give each replica its own burst.
func TestReplicasWithoutRedisKeepTheirOwnBuckets(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{"api_limits":{"listQuotas":{"rate":1,"unit":"HOUR","burst":1}}}`); res.Status != http.StatusOK {
		t.Fatalf("overrides: %d %s", res.Status, res.Body)
	}
	b := v.replica()
	for _, e := range []*echo.Echo{v.e, b} {
		if got := v.callOn(e, http.MethodGet, "/api/web/namespaces/system/quotas", tok, nil).Status; got != http.StatusOK {
			t.Fatalf("each replica's first request: %d", got)
		}
	}
}

// BenchmarkRateLimitAllow is one api_limits check, the effective limits
// cached: in this process's buckets, and in Redis's (one round trip to the
// machine's Redis). Run both in one invocation to compare:
//
//	go test -run '^$' -bench RateLimitAllow ./server/
func BenchmarkRateLimitAllow(b *testing.B) {
	for _, tc := range []struct {
		name   string
		shared bool
	}{{"local", false}, {"redis", true}} {
		b.Run(tc.name, func(b *testing.B) {
			v := newEnvWith(b, func(c *Config) {
				if tc.shared {
					url := redistest.URL(b)
					c.RedisURL, c.RedisKeyPrefix, c.RedisTimeout = url, redistest.Prefix(b, url), time.Second
				}
			})
			v.tenant("acme", "shop")
			if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{"api_limits":{"getQuotaLimits":{"rate":1000000000,"burst":1000000000}}}`); res.Status != http.StatusOK {
				b.Fatalf("overrides: %d %s", res.Status, res.Body)
			}
			acme, err := v.tenancy.Tenant(context.Background(), "acme")
			if err != nil {
				b.Fatal(err)
			}
			lim, ctx := v.quotas.Limiter(), context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := lim.Allow(ctx, acme.ID, "shop", "getQuotaLimits"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
