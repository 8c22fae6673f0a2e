package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// Benchmarks of the request path, in process. Compare each with
// BenchmarkHealthz (the same global middleware, no auth, no database) run
// in the same invocation:
//
//	go test -run '^$' -bench . ./server/
//	BILLING_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test -run '^$' -bench . ./server/

type benchEnv struct {
	*env
	tok string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	v := newEnvTB(b)
	tok := v.tenant("acme", "shop")
	// The operator lifts the plan's limits so the benchmark measures work,
	// not 429s.
	body := `{"object_limits":{"quota":{"maximum":-1}},"api_limits":{` +
		`"getQuotaLimits":{"rate":1000000000,"burst":1000000000},"listQuotas":{"rate":1000000000,"burst":1000000000},` +
		`"replaceQuota":{"rate":1000000000,"burst":1000000000},"createQuota":{"rate":1000000000,"burst":1000000000}}}`
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", body); res.Status != http.StatusOK {
		b.Fatalf("setup: %d %s", res.Status, res.Body)
	}
	for i := range 50 {
		team := []string{"web", "data"}[i%2]
		body := fmt.Sprintf(`{"metadata":{"name":"q%02d","labels":{"team":%q}},"spec":{"object_limits":{"origin_pool":{"maximum":%d}}}}`, i, team, i)
		if res := v.call(http.MethodPost, "/api/web/namespaces/shop/quotas", tok, body); res.Status != http.StatusOK {
			b.Fatalf("setup: %d %s", res.Status, res.Body)
		}
	}
	return &benchEnv{env: v, tok: tok}
}

// serve sends one request as the bench tenant to h, fails b unless it
// answers want, and returns how long h took.
func (v *benchEnv) serve(b *testing.B, h http.Handler, method, path, body string, want int) time.Duration {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "APIToken "+v.tok)
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(start)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	return took
}

func (v *benchEnv) run(b *testing.B, method, path, body string, want int) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		v.serve(b, v.e, method, path, body, want)
	}
}

func BenchmarkHealthz(b *testing.B) {
	v := newBenchEnv(b)
	v.run(b, http.MethodGet, "/healthz", "", http.StatusOK)
}

func BenchmarkGetQuotaLimits(b *testing.B) {
	v := newBenchEnv(b)
	v.run(b, http.MethodGet, "/api/web/namespaces/shop/quota/limits", "", http.StatusOK)
}

func BenchmarkListQuotasWithLabelFilter(b *testing.B) {
	v := newBenchEnv(b)
	v.run(b, http.MethodGet, "/api/web/namespaces/shop/quotas?label_filter=team%3Dweb", "", http.StatusOK)
}

func BenchmarkReplaceQuota(b *testing.B) {
	v := newBenchEnv(b)
	v.run(b, http.MethodPut, "/api/web/namespaces/shop/quotas/q07",
		`{"metadata":{"name":"q07","labels":{"team":"web"}},"spec":{"object_limits":{"origin_pool":{"maximum":9}}}}`, http.StatusOK)
}

func BenchmarkGetQuota(b *testing.B) {
	v := newBenchEnv(b)
	v.run(b, http.MethodGet, "/api/web/namespaces/shop/quotas/q07", "", http.StatusOK)
}

func BenchmarkGetCurrentPlan(b *testing.B) {
	v := newBenchEnv(b)
	v.run(b, http.MethodGet, "/api/web/namespaces/system/usage_plans/current", "", http.StatusOK)
}

// BenchmarkValidation is what request validation costs: the same requests
// through the handler with and without it, interleaved in one loop so both
// see the same machine. It reports each side's time per request and their
// ratio (target: at most 1.15); ns/op counts both requests.
func BenchmarkValidation(b *testing.B) {
	for _, tc := range []struct{ name, method, path, body string }{
		{"getQuota", http.MethodGet, "/api/web/namespaces/shop/quotas/q07", ""},
		{"replaceQuota", http.MethodPut, "/api/web/namespaces/shop/quotas/q07",
			`{"metadata":{"name":"q07","labels":{"team":"web","env":"prod"},"annotations":{"owner":"ops@example.com"},"description":"Limits for the web team."},` +
				`"spec":{"object_limits":{"origin_pool":{"maximum":9},"http_loadbalancer":{"maximum":4}},"resource_limits":{"storage_gib":{"maximum":12.5}},` +
				`"api_limits":{"listQuotas":{"rate":5,"unit":"SECOND","burst":10}}}}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v := newBenchEnv(b)
			bare, err := v.app.httpHandler(false)
			if err != nil {
				b.Fatal(err)
			}
			serve := func(e http.Handler) time.Duration { return v.serve(b, e, tc.method, tc.path, tc.body, http.StatusOK) }
			var with, without []time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				// Alternate which goes first, so neither always pays for the
				// other's garbage.
				if i++; i%2 == 0 {
					with = append(with, serve(v.e))
					without = append(without, serve(bare))
				} else {
					without = append(without, serve(bare))
					with = append(with, serve(v.e))
				}
			}
			// Medians: the store's and the machine's hiccups land on either
			// side at random and would swamp a difference of a few percent.
			mw, mo := median(with), median(without)
			b.ReportMetric(float64(mw.Nanoseconds()), "validated-ns/op")
			b.ReportMetric(float64(mo.Nanoseconds()), "unvalidated-ns/op")
			b.ReportMetric(float64(mw)/float64(mo), "ratio")
		})
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

func BenchmarkListQuotas(b *testing.B) {
	v := newBenchEnv(b)
	v.run(b, http.MethodGet, "/api/web/namespaces/shop/quotas", "", http.StatusOK)
}
