package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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

func (v *benchEnv) run(b *testing.B, method, path, body string, want int) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "APIToken "+v.tok)
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
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
