package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Results served from a cache are shared by every caller that hits the
// entry. These tests send the same read from several goroutines at once, so
// that under the race detector (make race) any caller that writes into a
// cached value fails, and check that every caller got the same answer.

// readers is how many goroutines read at once, and rounds how often each.
const readers, rounds = 8, 5

// concurrentReads sends the request from readers goroutines, rounds times
// each, and fails unless every answer is a 200 with the same body; it
// returns that body.
func (v *env) concurrentReads(t *testing.T, method, path, tok, body string) string {
	t.Helper()
	return v.concurrently(t, method+" "+path, func() response { return v.call(method, path, tok, body) })
}

// concurrently is concurrentReads for any request send makes. The first
// answer fills the caches; the clock then moves one cache lifetime on, so
// the readers' first round misses together and shares one load, and the
// later rounds share the entry that load stored.
func (v *env) concurrently(t *testing.T, what string, send func() response) string {
	t.Helper()
	return v.concurrentlyAlike(t, what, send, func(t *testing.T, body []byte) string { return string(body) })
}

// concurrentlyAlike is concurrently comparing answers as alike renders
// them (to leave out what legitimately moves from one request to the next).
func (v *env) concurrentlyAlike(t *testing.T, what string, send func() response, alike func(t *testing.T, body []byte) string) string {
	t.Helper()
	first := send()
	if first.Status != http.StatusOK {
		t.Fatalf("%s: %d %s", what, first.Status, first.Body)
	}
	want := alike(t, first.Body)
	v.clock.Advance(time.Second)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for range rounds {
				res := send()
				if res.Status != http.StatusOK || alike(t, res.Body) != want {
					t.Errorf("%s: %d %s, want the first answer %s", what, res.Status, res.Body, first.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	return string(first.Body)
}

// withoutAPIUsage renders a quota usage answer without the requests taken
// from each API limit's bucket: every request (these included) takes one.
func withoutAPIUsage(t *testing.T, body []byte) string {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Errorf("quota usage %s: %v", body, err)
		return string(body)
	}
	for _, field := range []string{"api_limits", "apis"} {
		apis, _ := doc[field].(map[string]any)
		for _, entry := range apis {
			if e, ok := entry.(map[string]any); ok {
				delete(e, "usage")
			}
		}
	}
	out, _ := json.Marshal(doc)
	return string(out)
}

// mustSay fails unless body contains every one of want (so a test reads a
// result with something in it, not an empty one).
func mustSay(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s answered %s, which does not contain %q", what, body, w)
		}
	}
}

func TestConcurrentMonthlyUsageReadsShareTheCachedMonths(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	v.setPlan("acme", "TEAM")
	for _, at := range []time.Time{
		time.Date(2026, 9, 10, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC),
	} {
		v.ingestOK(reqs("acme", "shop", "web", at, 60_000_000))
	}
	v.concurrentReads(t, http.MethodPost, "/api/web/namespaces/system/monthly_usage", tok, `{}`)
}

// usage_details, hourly_usage_details, current_usage, monthly_usage and
// usage_summary answer from the usage result caches (lines, bills, months,
// sums; monthly_usage also from the invoices' caches) and sign or open
// breakdown queries with the cached signing keys.
func TestConcurrentUsageReadsShareTheCachedResults(t *testing.T) {
	t.Parallel()
	s := newSeeded(t)
	november := `{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}`
	for _, c := range []struct {
		path, body string
		want       []string
	}{
		{"/api/web/namespaces/system/usage_details", november, []string{"acme-dns", "acme-edge", "hourly_breakdown_query"}},
		{"/api/web/namespaces/shop/usage_details", november, []string{"acme-edge"}},
		{"/api/web/namespaces/system/hourly_usage_details", `{"query":"` + s.breakdown + `"}`, []string{"2026-11-27T10:00:00Z"}},
		{"/api/web/namespaces/system/current_usage", `{"from":"2026-11-01T00:00:00Z","to":"2026-11-30T00:00:00Z"}`, []string{"lb_http_requests"}},
		{"/api/web/namespaces/system/current_usage", `{}`, []string{"plan_flat_price"}},
		// With an issued November and a running December: the months' cache
		// over the cached invoices and drafts.
		{"/api/web/namespaces/system/monthly_usage", `{}`, []string{"2026-11", "2026-12"}},
		{"/api/data/namespaces/system/billing/usage_summary", `{"start_time":"2026-11-01T00:00:00Z","end_time":"2026-12-01T00:00:00Z"}`, []string{"Load balancer HTTP requests"}},
	} {
		body := s.concurrentReads(t, http.MethodPost, c.path, s.admin, c.body)
		mustSay(t, c.path+" "+c.body, body, c.want...)
	}
}

// The plan list and the current plan read the tenant's cached plan and the
// catalogue's plans, which every caller shares, in each locale.
func TestConcurrentPlanReadsShareTheCachedPlan(t *testing.T) {
	t.Parallel()
	s := newSeeded(t)
	body := s.concurrentReads(t, http.MethodGet, "/api/web/namespaces/system/usage_plans/custom_list", s.admin, "")
	mustSay(t, "usage_plans", body, `"locale":"en-US"`, `"locale":"fr-FR"`, `"current":true`)
	for _, c := range []struct{ query, acceptLanguage, want string }{
		{"", "", `"name":"INDIVIDUAL"`},
		{"?locale=fr-FR", "", `"locale":"fr-FR"`},
		{"", "fr-CA,fr;q=0.9", `"locale":"fr-FR"`},
	} {
		path := "/api/web/namespaces/system/usage_plans/current" + c.query
		h := authHeader(s.admin)
		if c.acceptLanguage != "" {
			h.Set("Accept-Language", c.acceptLanguage)
		}
		body := s.concurrently(t, path+" "+c.acceptLanguage, func() response { return s.sr.do(t, s.e, http.MethodGet, path, nil, h) })
		mustSay(t, path, body, c.want)
	}
}

// The invoice list joins the cached issued invoices and the cached drafts
// of the running month (and of the month before while it is open).
func TestConcurrentInvoiceListReadsShareTheCachedInvoicesAndDrafts(t *testing.T) {
	t.Parallel()
	s := newSeeded(t)
	body := s.concurrentReads(t, http.MethodGet, invoicesPath, s.admin, "")
	mustSay(t, "invoices", body, s.invoice, "pending-2026-12")
	body = s.concurrentReads(t, http.MethodGet, invoicesPath+"?limit=1", s.admin, "")
	mustSay(t, "invoices?limit=1", body, "pending-2026-12")
	// A tenant whose month before has no invoice yet lists it pending too.
	body = s.concurrentReads(t, http.MethodGet, invoicesPath, s.globexAdmin, "")
	mustSay(t, "globex's invoices", body, "pending-2026-11", "pending-2026-12")
}

// The subscription list reads the cached plan (for the included add-ons)
// and the cached issued invoices (the invoices of past periods).
func TestConcurrentSubscriptionListReadsShareTheCachedPlanAndInvoices(t *testing.T) {
	t.Parallel()
	s := newSeeded(t)
	body := s.concurrentReads(t, http.MethodGet, subsPath, s.admin, "")
	mustSay(t, "subscriptions", body, "f5xc_waap_standard", s.invoice)
	body = s.concurrentReads(t, http.MethodGet, subsPath+"?current=true", s.admin, "")
	mustSay(t, "current subscriptions", body, "f5xc_waap_standard")
}

// Quota limits, usage and lists read the cached effective limits (the
// plan's default quota, the cached operator overrides and the quota
// objects, layered), tenant-wide and in a namespace with objects of its
// own; the operator's reads of overrides and room checks share them too.
func TestConcurrentQuotaReadsShareTheCachedLimits(t *testing.T) {
	t.Parallel()
	s := newSeeded(t)
	for _, ns := range []string{"system", "shop"} {
		path := "/api/web/namespaces/" + ns + "/quota/usage"
		body := s.concurrentlyAlike(t, path, func() response { return s.call(http.MethodGet, path, s.admin, nil) }, withoutAPIUsage)
		mustSay(t, path, body, "acme-widgets", `"payment_method":{"limit":{"maximum":5}`)
	}
	for _, c := range []struct{ path, want string }{
		{"/api/web/namespaces/system/quota/limits", "acme-widgets"},
		{"/api/web/namespaces/shop/quota/limits", `"listQuotas":{"burst":500`},
		{"/api/web/namespaces/system/quotas", "acme-limits"},
		{"/api/web/namespaces/system/quotas?label_filter=team%3Dacme-payments", "acme-limits"},
		{"/api/web/namespaces/shop/quotas", "acme-shop-limits"},
		{"/api/web/namespaces/system/quotas/acme-limits", "acme-widgets"},
	} {
		body := s.concurrentReads(t, http.MethodGet, c.path, s.admin, "")
		mustSay(t, c.path, body, c.want)
	}
	for _, c := range []struct{ path, want string }{
		{"/admin/v1/tenants/acme/limit_overrides", "api_limits"},
		{"/admin/v1/tenants/acme/namespaces/shop/quota_check?kind=acme-widgets", `"limit":7`},
	} {
		body := s.concurrently(t, c.path, func() response { return s.env.admin(http.MethodGet, c.path, nil) })
		mustSay(t, c.path, body, c.want)
	}
}
