package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"encoding/base64"

	"billing-api/gen/admin"
	"billing-api/gen/api"
	"billing-api/server/fault"
	"billing-api/server/money"
	"billing-api/server/period"
	"billing-api/server/tenancy"
	"billing-api/server/usage"
	"billing-api/store"
)

// rec is a usage record as the operator API takes it.
type rec struct {
	ID         string  `json:"id"`
	Tenant     string  `json:"tenant"`
	Namespace  string  `json:"namespace"`
	UsageType  string  `json:"usage_type"`
	ObjectName string  `json:"object_name"`
	Unit       string  `json:"unit"`
	Quantity   float64 `json:"quantity"`
	Timestamp  string  `json:"timestamp"`
}

func reqs(tenant, ns, object string, at time.Time, quantities ...float64) []rec {
	out := make([]rec, len(quantities))
	for i, q := range quantities {
		out[i] = rec{
			ID: fmt.Sprintf("%s-%s-%d-%d", ns, object, at.Unix(), i), Tenant: tenant, Namespace: ns, UsageType: "lb_http_requests",
			ObjectName: object, Unit: "requests", Quantity: q, Timestamp: at.Add(time.Duration(i) * time.Minute).Format(time.RFC3339Nano),
		}
	}
	return out
}

// ingest posts a batch; dry adds dry_run=true.
func (v *env) ingest(records []rec, dry bool) response {
	v.t.Helper()
	path := "/admin/v1/usage_records"
	if dry {
		path += "?dry_run=true"
	}
	return v.admin(http.MethodPost, path, map[string]any{"records": records})
}

func (v *env) ingestOK(records []rec) admin.UsageIngestResult {
	v.t.Helper()
	res := v.ingest(records, false)
	if res.Status != http.StatusOK {
		v.t.Fatalf("ingest: %d %s", res.Status, res.Body)
	}
	var out admin.UsageIngestResult
	res.decode(v.t, &out)
	return out
}

func (v *env) details(tok, ns, body string) []api.UsageUsageItem {
	v.t.Helper()
	v.clock.Advance(time.Second) // past the FREE plan's rate limit on usage_details
	res := v.call(http.MethodPost, "/api/web/namespaces/"+ns+"/usage_details", tok, body)
	if res.Status != http.StatusOK {
		v.t.Fatalf("usage_details: %d %s", res.Status, res.Body)
	}
	var out api.UsageListUsageDetailsResp
	res.decode(v.t, &out)
	return *out.UsageItems
}

func (v *env) setPlan(tenantName, plan string) {
	v.t.Helper()
	t, err := v.tenancy.Tenant(context.Background(), tenantName)
	if err != nil {
		v.t.Fatal(err)
	}
	if err := v.plans.AssignPlan(context.Background(), t.ID, plan); err != nil {
		v.t.Fatal(err)
	}
}

func TestUsageIngestionIsIdempotent(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	at := testStart.Add(-3 * time.Hour).Truncate(time.Hour)
	batch := reqs("acme", "shop", "web", at, 100, 200.5, 0.000001)
	if got := v.ingestOK(batch); got != (admin.UsageIngestResult{Accepted: 3}) {
		t.Fatalf("first batch: %+v", got)
	}
	// Replaying changes nothing; a record repeated inside a batch counts once.
	if got := v.ingestOK(batch); got != (admin.UsageIngestResult{Duplicates: 3}) {
		t.Fatalf("replay: %+v", got)
	}
	more := append(reqs("acme", "shop", "web", at.Add(time.Hour), 50, 50), batch[0])
	more = append(more, more[0])
	if got := v.ingestOK(more); got != (admin.UsageIngestResult{Accepted: 2, Duplicates: 2}) {
		t.Fatalf("overlapping batch: %+v", got)
	}
	lines := v.details(tok, "system", `{}`)
	if len(lines) != 1 || *lines[0].Quantity != 400.500001 || *lines[0].UnitName != "requests" ||
		lines[0].MetricLabel != "shop/lb_http_requests/web" || *lines[0].ObjectName != "web" {
		t.Fatalf("lines %s", jsonOf(lines))
	}
	// A dry run counts exactly and keeps nothing.
	fresh := reqs("acme", "shop", "api", at, 7)
	res := v.ingest(append(fresh, batch[0]), true)
	var dry admin.UsageIngestResult
	res.decode(t, &dry)
	if res.Status != http.StatusOK || dry != (admin.UsageIngestResult{Accepted: 1, Duplicates: 1}) {
		t.Fatalf("dry run: %d %+v", res.Status, dry)
	}
	if got := v.ingestOK(fresh); got.Accepted != 1 {
		t.Fatalf("the dry run kept its record: %+v", got)
	}
}

func TestABadUsageBatchStoresNothing(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	v.tenant("other")
	at := testStart.Add(-time.Hour)
	good := reqs("acme", "shop", "web", at, 1)[0]
	bad := func(f func(r *rec)) rec {
		r := good
		r.ID = fmt.Sprintf("bad-%d", rand.Int())
		f(&r)
		return r
	}
	batch := []rec{
		good,
		bad(func(r *rec) { r.Tenant = "nobody" }),
		bad(func(r *rec) { r.Tenant = "other" }), // other has no namespace shop
		bad(func(r *rec) { r.UsageType = "teleports" }),
		bad(func(r *rec) { r.Unit = "GB" }),
		bad(func(r *rec) { r.Timestamp = testStart.Add(6 * time.Minute).Format(time.RFC3339) }),
		bad(func(r *rec) { r.Timestamp = testStart.AddDate(-3, 0, 0).Format(time.RFC3339) }),
		bad(func(r *rec) { r.ObjectName = "tab\there" }),
	}
	res := v.ingest(batch, false)
	if res.Status != http.StatusBadRequest {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	msg := res.errorBody(t).Message
	for _, want := range []string{
		"records[1].tenant", "records[2].namespace", "records[3].usage_type", "records[4].unit",
		"records[5].timestamp", "records[6].timestamp", "records[7].object_name",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not name %s: %s", want, msg)
		}
	}
	if strings.Contains(msg, "records[0]") {
		t.Errorf("the good record was blamed: %s", msg)
	}
	// What the schema itself rules out is refused before the domain looks.
	for _, f := range []func(r *rec){
		func(r *rec) { r.Quantity = -1 },
		func(r *rec) { r.Quantity = 2e9 },
		func(r *rec) { r.ID = "" },
		func(r *rec) { r.ID = strings.Repeat("x", 129) },
	} {
		if res := v.ingest([]rec{good, bad(f)}, false); res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, "records[1]") {
			t.Errorf("%d %s", res.Status, res.Body)
		}
	}
	if res := v.admin(http.MethodPost, "/admin/v1/usage_records", `{"records":[{"id":"x","tenant":"acme","namespace":"shop","usage_type":"lb_http_requests","object_name":"w","unit":"requests","quantity":1,"timestamp":"2026-11-25T10:00:00Z","extra":1}]}`); res.Status != http.StatusBadRequest {
		t.Errorf("an unknown field: %d", res.Status)
	}
	if lines := v.details(tok, "system", `{}`); len(lines) != 0 {
		t.Fatalf("a refused batch stored usage: %s", jsonOf(lines))
	}
	// Tenant tokens may not ingest.
	if res := v.sr.do(t, v.e, http.MethodPost, "/admin/v1/usage_records", map[string]any{"records": []rec{good}}, authHeader(tok)); res.Status != http.StatusUnauthorized {
		t.Fatalf("tenant token on ingestion: %d", res.Status)
	}
}

func TestUsageBoundariesAreUTCHoursAndMonths(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenantSince(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), "acme", "shop")
	lastOct := time.Date(2026, 10, 31, 23, 59, 59, 999999000, time.UTC)
	v.ingestOK(append(reqs("acme", "shop", "web", lastOct, 1), reqs("acme", "shop", "web", lastOct.Add(time.Microsecond), 2)...))
	sum := func(body string) float64 {
		var total float64
		for _, l := range v.details(tok, "system", body) {
			total += *l.Quantity
		}
		return total
	}
	for body, want := range map[string]float64{
		`{"from":"2026-11-01T00:00:00Z"}`:                                  2,
		`{"from":"2026-10-01T00:00:00Z","to":"2026-11-01T00:00:00Z"}`:      1,
		`{"from":"2026-10-31T23:00:00Z","to":"2026-11-01T01:00:00Z"}`:      3,
		`{"from":"2026-11-01T00:30:00+01:00","to":"2026-11-01T00:59:00Z"}`: 3, // 2026-10-31T23:30Z, aligned out to whole hours
		`{"from":"2026-09-01T00:00:00Z","to":"2026-10-31T23:00:00Z"}`:      0,
	} {
		if got := sum(body); got != want {
			t.Errorf("%s: %v, want %v", body, got, want)
		}
	}
	// The hourly breakdown puts each record in its UTC hour.
	line := v.details(tok, "system", `{"from":"2026-10-31T00:00:00Z","to":"2026-11-02T00:00:00Z"}`)[0]
	res := v.call(http.MethodPost, "/api/web/namespaces/system/hourly_usage_details", tok, map[string]string{"query": line.HourlyBreakdownQuery})
	var hours api.UsageListHourlyUsageDetailsResp
	res.decode(t, &hours)
	items := *hours.HourlyUsageItems
	if len(items) != 2 || !items[0].StartTimestamp.Equal(lastOct.Truncate(time.Hour)) || *items[0].Quantity != 1 ||
		!items[1].StartTimestamp.Equal(lastOct.Add(time.Microsecond)) || *items[1].Quantity != 2 || items[1].Deployment != "web" {
		t.Fatalf("hours %s", res.Body)
	}
	// Monthly totals split at the month boundary (priced at zero on FREE).
	res = v.call(http.MethodPost, "/api/web/namespaces/system/monthly_usage", tok, `{}`)
	var months api.UsageListMonthlyUsageResp
	res.decode(t, &months)
	if items := *months.MonthlyUsageItems; len(items) != 1 || !items[0].StartTimestamp.Equal(time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("monthly %s", res.Body)
	}
}

func TestCurrentUsageIsPricedFromThePlansRateCard(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	// On TEAM all month: its whole flat price and allowances.
	tok := v.tenantSince(november, "acme", "shop")
	v.clock.Set(november)
	v.setPlan("acme", "TEAM")
	v.clock.Set(testStart)
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	// TEAM: 50M requests included, then 50 c per started 1M (then whole
	// millions); 10% coupon, rounded half to even per line.
	v.ingestOK(reqs("acme", "shop", "web", at, 30_000_000, 25_500_000)) // 55.5M → 5 billable → 250 c
	gb := reqs("acme", "shop", "web", at, 503.25)                       // 500 GB included → 1 billable at 7 c
	gb[0].UsageType, gb[0].Unit, gb[0].ID = "lb_data_transfer", "GB", "gb-1"
	v.ingestOK(gb)
	res := v.call(http.MethodPost, "/api/web/namespaces/system/current_usage", tok, `{}`)
	if res.Status != http.StatusOK {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	var cur api.UsageListCurrentUsageResp
	res.decode(t, &cur)
	byType := map[string]api.UsageCalculatedUsageItem{}
	var sum int64
	for _, it := range *cur.UsageItems {
		byType[*it.UsageType] = it
		var n int64
		fmt.Sscan(*it.Amount, &n)
		sum += n
	}
	flat, req, data := byType["plan_flat_price"], byType["lb_http_requests"], byType["lb_data_transfer"]
	if *flat.Amount != "4900" || !*flat.Fixed || *req.Amount != "250" || *req.QuantityBillable != "5" || *req.Quantity != 55_500_000 ||
		*req.UnitNameBillable != "1M requests" || *req.Status != api.SchemausageStatusTypeSTATUSACTIVE ||
		*data.Amount != "21" || *data.QuantityBillable != "3" || *byType["dns_queries"].Status != api.SchemausageStatusTypeSTATUSNODATA {
		t.Fatalf("lines %s", res.Body)
	}
	// 10% of 4900 = 490, of 250 = 25, of 21 = 2.1 → 2: 517 off.
	if sum != 4900+250+21 || *cur.Discount != "517" || *cur.TotalCost != fmt.Sprint(sum-517) {
		t.Fatalf("totals %s", res.Body)
	}
	if len(*cur.Coupons) != 1 || (*cur.Coupons)[0].DiscountAmount != 1000 || *(*cur.Coupons)[0].DiscountType != api.DISCOUNTTYPEPERCENTAGE {
		t.Fatalf("coupons %s", res.Body)
	}
	// Summary: per service and type, raw and billable quantities.
	res = v.call(http.MethodPost, "/api/data/namespaces/system/billing/usage_summary", tok,
		`{"start_time":"2026-11-03T00:00:00Z","end_time":"`+fmt.Sprint(at.Add(24*time.Hour).Unix())+`"}`)
	var sum2 api.BillingBillingUsageSummaryResponse
	res.decode(t, &sum2)
	items := *sum2.UsageSummaryItems
	if res.Status != http.StatusOK || len(items) != 2 || *items[0].Service != "f5xc-load-balancer" ||
		*items[1].UsageMetricData.MetricValue.Value != "55500000" || *items[1].BillingMetricData.Value != "55.5" ||
		*items[1].BillingMetricData.Unit != "1M requests" || *items[0].UsageMetricData.MetricValue.Value != "503.25" {
		t.Fatalf("summary %s", res.Body)
	}
}

func TestLateRecordsAreKeptFlaggedAndShown(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	acme, _ := v.tenancy.Tenant(context.Background(), "acme")
	oct := time.Date(2026, 10, 20, 8, 0, 0, 0, time.UTC)
	v.ingestOK(reqs("acme", "shop", "web", oct, 10))
	if err := v.app.Closings.Close(context.Background(), acme.ID, period.Of(oct), v.clock.Now()); err != nil {
		t.Fatal(err)
	}
	late := reqs("acme", "shop", "web", oct.Add(time.Hour), 5)
	if got := v.ingestOK(append(late, reqs("acme", "shop", "web", testStart.Add(-time.Hour), 1)...)); got != (admin.UsageIngestResult{Accepted: 2, Late: 1}) {
		t.Fatalf("%+v", got)
	}
	if got := *v.details(tok, "system", `{"from":"2026-10-01T00:00:00Z","to":"2026-11-01T00:00:00Z"}`)[0].Quantity; got != 15 {
		t.Fatalf("October shows %v, want 15 (late usage is shown)", got)
	}
	raw, err := store.NewUsage(v.db).RawSums(context.Background(), acme.ID, oct, oct.AddDate(0, 0, 1))
	if err != nil || len(raw) != 1 {
		t.Fatal(raw, err)
	}
}

func TestBreakdownQueriesCannotBeForgedOrShared(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	other := v.tenant("other", "shop")
	v.ingestOK(reqs("acme", "shop", "web", testStart.Add(-2*time.Hour), 4))
	q := v.details(tok, "system", `{}`)[0].HourlyBreakdownQuery
	hourly := func(tok, ns, query string) response {
		return v.call(http.MethodPost, "/api/web/namespaces/"+ns+"/hourly_usage_details", tok, map[string]string{"query": query})
	}
	if res := hourly(tok, "system", q); res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"quantity":4`) {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if res := hourly(tok, "shop", q); res.Status != http.StatusOK {
		t.Fatalf("in the line's own namespace: %d", res.Status)
	}
	payload, sig, _ := strings.Cut(q, ".")
	var claims map[string]any
	raw, _ := jsonDecodeB64(payload)
	_ = json.Unmarshal(raw, &claims)
	claims["f"] = claims["f"].(float64) - 3600
	forged, _ := json.Marshal(claims)
	for name, bad := range map[string]string{
		"altered window":    jsonEncodeB64(forged) + "." + sig,
		"flipped signature": payload + "." + flipFirst(sig),
		"other payload":     jsonEncodeB64([]byte(`{"v":1}`)) + "." + sig,
		"garbage":           "not-a-query",
		"empty":             "",
	} {
		if res := hourly(tok, "system", bad); res.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, res.Status, res.Body)
		}
	}
	// Another tenant's token gets the same answer as for a forgery.
	if res := hourly(other, "system", q); res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, "query") {
		t.Fatalf("another tenant: %d %s", res.Status, res.Body)
	}
	// Rotating keeps old queries working; retiring them stops them at once.
	if res := v.admin(http.MethodPost, "/admin/v1/usage_query_keys", `{}`); res.Status != http.StatusOK {
		t.Fatalf("rotate: %d %s", res.Status, res.Body)
	}
	if res := hourly(tok, "system", q); res.Status != http.StatusOK {
		t.Fatalf("after a rotation: %d", res.Status)
	}
	fresh := v.details(tok, "system", `{}`)[0].HourlyBreakdownQuery
	if res := v.admin(http.MethodPost, "/admin/v1/usage_query_keys", `{"retire_old":true}`); res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"retired":2`) {
		t.Fatalf("retire: %d %s", res.Status, res.Body)
	}
	for _, old := range []string{q, fresh} {
		if res := hourly(tok, "system", old); res.Status != http.StatusBadRequest {
			t.Fatalf("a retired key's query: %d", res.Status)
		}
	}
	if res := hourly(tok, "system", v.details(tok, "system", `{}`)[0].HourlyBreakdownQuery); res.Status != http.StatusOK {
		t.Fatalf("a new query after retiring: %d", res.Status)
	}
}

func TestHourlyBreakdownIsPaged(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	var batch []rec
	for h := range 1000 {
		r := reqs("acme", "shop", "web", start.Add(time.Duration(h)*time.Hour), 1)[0]
		batch = append(batch, r)
	}
	v.ingestOK(batch)
	line := v.details(tok, "system", `{"from":"2026-09-01T00:00:00Z","to":"2026-11-01T00:00:00Z"}`)[0]
	if *line.Quantity != 1000 {
		t.Fatalf("line %v", *line.Quantity)
	}
	var got []api.UsageHourlyItem
	q, pages := line.HourlyBreakdownQuery, 0
	for q != "" {
		res := v.call(http.MethodPost, "/api/web/namespaces/system/hourly_usage_details", tok, map[string]string{"query": q})
		var page api.UsageListHourlyUsageDetailsResp
		res.decode(t, &page)
		got = append(got, *page.HourlyUsageItems...)
		q = res.Header.Get("X-Next-Query")
		pages++
	}
	if pages != 2 || len(got) != 1000 || !got[999].StartTimestamp.Equal(start.Add(999*time.Hour)) {
		t.Fatalf("%d pages, %d items", pages, len(got))
	}
	for i := 1; i < len(got); i++ {
		if !got[i].StartTimestamp.After(*got[i-1].StartTimestamp) {
			t.Fatalf("item %d out of order", i)
		}
	}
}

func TestUsageWindowsAndScopesAreChecked(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop", "blog")
	v.ingestOK(append(reqs("acme", "shop", "web", testStart.Add(-time.Hour), 1), reqs("acme", "blog", "web", testStart.Add(-time.Hour), 2)...))
	for _, c := range []struct{ path, body, field string }{
		{"/api/web/namespaces/system/usage_details", `{"from":"2026-11-02T00:00:00Z","to":"2026-11-01T00:00:00Z"}`, "to"},
		{"/api/web/namespaces/system/usage_details", `{"from":"2025-01-01T00:00:00Z","to":"2026-11-01T00:00:00Z"}`, "to"},
		{"/api/web/namespaces/system/current_usage", `{"from":"2026-10-31T00:00:00Z","to":"2026-11-02T00:00:00Z"}`, "to"},
		{"/api/web/namespaces/shop/current_usage", `{"namespace":"blog"}`, `namespace: is "blog" but the path's namespace is "shop"`},
		{"/api/web/namespaces/shop/monthly_usage", `{"namespace":"system"}`, `namespace: is "system" but the path's namespace is "shop"`},
		{"/api/web/namespaces/shop/usage_details", `{"namespace":"system"}`, `namespace: is "system" but the path's namespace is "shop"`},
		{"/api/web/namespaces/system/hourly_usage_details", `{"namespace":"shop","query":"x"}`, `namespace: is "shop" but the path's namespace is "system"`},
		{"/api/data/namespaces/system/billing/usage_summary", `{"start_time":"yesterday","end_time":"2026-11-01T00:00:00Z"}`, "start_time"},
		{"/api/data/namespaces/system/billing/usage_summary", `{"start_time":"2026-11-02T00:00:00Z","end_time":"2026-11-01T00:00:00Z"}`, "end_time"},
	} {
		res := v.call(http.MethodPost, c.path, tok, c.body)
		if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, c.field) {
			t.Errorf("%s %s: %d %s", c.path, c.body, res.Status, res.Body)
		}
	}
	// The path's namespace in the body is what clients of the vendor's API
	// send: it is accepted in every namespace.
	for _, path := range []string{"usage_details", "current_usage", "monthly_usage"} {
		if res := v.call(http.MethodPost, "/api/web/namespaces/shop/"+path, tok, `{"namespace":"shop"}`); res.Status != http.StatusOK {
			t.Errorf("%s in shop with the body's namespace shop: %d %s", path, res.Status, res.Body)
		}
	}
	// A namespace's lines only; a token limited to shop sees shop and not system.
	if lines := v.details(tok, "shop", `{}`); len(lines) != 1 || *lines[0].Namespace != "shop" {
		t.Fatalf("shop lines %s", jsonOf(lines))
	}
	if lines := v.details(tok, "system", `{}`); len(lines) != 2 {
		t.Fatalf("tenant lines %s", jsonOf(lines))
	}
	shopOnly := v.token("acme", tenancy.RoleViewer, "shop")
	if lines := v.details(shopOnly, "shop", `{}`); len(lines) != 1 {
		t.Fatal("a shop token cannot read shop's usage")
	}
	if res := v.call(http.MethodPost, "/api/web/namespaces/system/usage_details", shopOnly, `{}`); res.Status != http.StatusForbidden {
		t.Fatalf("a shop token read tenant-wide usage: %d", res.Status)
	}
	blogLine := v.details(tok, "blog", `{}`)[0].HourlyBreakdownQuery
	if res := v.call(http.MethodPost, "/api/web/namespaces/shop/hourly_usage_details", shopOnly, map[string]string{"query": blogLine}); res.Status != http.StatusNotFound {
		t.Fatalf("a shop token read a blog line: %d %s", res.Status, res.Body)
	}
	// Another tenant sees none of it.
	if lines := v.details(v.tenant("other"), "system", `{}`); len(lines) != 0 {
		t.Fatalf("another tenant sees %s", jsonOf(lines))
	}
}

// Property: over random batches with duplicates, replays and records around
// hour, day and month boundaries, every rollup query equals the sum of the
// raw records, and the raw table equals the records accepted.
func TestRollupsEqualRawSums(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme", "shop", "blog")
	acme, _ := v.tenancy.Tenant(context.Background(), "acme")
	p := tenancy.Principal{TenantID: acme.ID, TenantName: "acme", Role: tenancy.RoleAdmin}
	r := rand.New(rand.NewPCG(11, 12))
	start := time.Date(2026, 8, 30, 0, 0, 0, 0, time.UTC)
	span := testStart.Sub(start)
	model := map[usage.Series]map[int64]usage.Quantity{} // series → hour → total
	seen := map[string]bool{}
	var all []usage.RecordInput
	for batch := range 12 {
		var in []usage.RecordInput
		for i := range 1 + r.IntN(400) {
			if len(all) > 0 && r.IntN(10) == 0 {
				in = append(in, all[r.IntN(len(all))]) // a replayed record
				continue
			}
			at := start.Add(time.Duration(r.Int64N(int64(span))))
			if r.IntN(4) == 0 { // on or next to a boundary
				at = usage.LevelDay.Bucket(at).Add(time.Duration(r.IntN(3)-1) * time.Microsecond)
			}
			q := float64(r.IntN(1_000_000_000)) / 1e6
			s := usage.Series{Namespace: []string{"shop", "blog"}[r.IntN(2)], UsageType: "lb_http_requests", ObjectName: fmt.Sprint("o", r.IntN(4))}
			in = append(in, usage.RecordInput{
				ID: fmt.Sprintf("%d-%d", batch, i), Tenant: "acme", Namespace: s.Namespace, UsageType: s.UsageType,
				ObjectName: s.ObjectName, Unit: "requests", Quantity: q, Timestamp: at,
			})
		}
		res, err := v.app.Usage.Ingest(context.Background(), in, false)
		if err != nil {
			t.Fatal(err)
		}
		accepted := 0
		for _, rec := range in {
			if seen[rec.ID] {
				continue
			}
			seen[rec.ID] = true
			accepted++
			all = append(all, rec)
			s := usage.Series{Namespace: rec.Namespace, UsageType: rec.UsageType, ObjectName: rec.ObjectName}
			if model[s] == nil {
				model[s] = map[int64]usage.Quantity{}
			}
			q, _ := usage.QuantityOf(rec.Quantity)
			model[s][rec.Timestamp.Truncate(time.Hour).Unix()] += q
		}
		if res.Accepted != accepted || res.Duplicates != len(in)-accepted {
			t.Fatalf("batch %d: %+v, want %d accepted", batch, res, accepted)
		}
	}
	repo := store.NewUsage(v.db)
	for range 60 {
		from := start.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Hour)
		to := from.Add(time.Duration(1+r.IntN(24*60)) * time.Hour)
		if r.IntN(3) == 0 {
			from, to = start, testStart.Add(time.Hour).Truncate(time.Hour)
		}
		w := usage.Window{From: from, To: to}
		got, err := repo.SumSeries(context.Background(), acme.ID, "", w.Segments(), usage.AllUsage)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := repo.RawSums(context.Background(), acme.ID, from, to)
		if err != nil {
			t.Fatal(err)
		}
		want := map[usage.Series]usage.Quantity{}
		for s, hours := range model {
			for h, q := range hours {
				if h >= from.Unix() && h < to.Unix() {
					want[s] += q
				}
			}
		}
		for s, q := range want {
			if q == 0 {
				delete(want, s)
			}
		}
		for s := range raw {
			if raw[s] == 0 {
				delete(raw, s)
			}
		}
		for s := range got {
			if got[s] == 0 {
				delete(got, s)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(raw) != fmt.Sprint(want) {
			t.Fatalf("window %v..%v:\nrollups %v\nraw     %v\nmodel   %v", from, to, got, raw, want)
		}
	}
	// And through the API, the details of the whole history add up too.
	lines, err := v.app.Usage.Details(context.Background(), p, "system", ptr(start.Add(-time.Hour)), ptr(testStart))
	if err != nil {
		t.Fatal(err)
	}
	var total, want usage.Quantity
	for _, l := range lines {
		total += l.Quantity
	}
	for _, hours := range model {
		for _, q := range hours {
			want += q
		}
	}
	if total != want {
		t.Fatalf("details total %v, want %v", total, want)
	}
	// A window reaching past the present is summed from coarser rollups
	// (nothing can lie beyond the clock): the same totals.
	for _, days := range []int{0, 1, 20, 40} {
		from := testStart.AddDate(0, 0, -days).Truncate(time.Hour)
		lines, err := v.app.Usage.Details(context.Background(), p, "system", &from, ptr(testStart.AddDate(0, 0, 30)))
		if err != nil {
			t.Fatal(err)
		}
		var got, want usage.Quantity
		for _, l := range lines {
			got += l.Quantity
		}
		for _, hours := range model {
			for h, q := range hours {
				if h >= from.Unix() {
					want += q
				}
			}
		}
		if got != want {
			t.Fatalf("from %v into the future: %v, want %v", from, got, want)
		}
	}
	if _, err := v.app.Usage.Ingest(context.Background(), nil, false); fault.KindOf(err) != fault.KindInvalid {
		t.Fatalf("an empty batch: %v", err)
	}
}

func jsonDecodeB64(s string) ([]byte, error) { return base64RawURL.DecodeString(s) }
func jsonEncodeB64(b []byte) string          { return base64RawURL.EncodeToString(b) }

var base64RawURL = base64.RawURLEncoding

// flipFirst changes the first character of a base64url string to another
// valid one.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// On PostgreSQL the raw records are partitioned by month: an old month can
// be detached (to archive it) and every usage query still answers from the
// rollups, while replays of its records stay duplicates.
func TestAnArchivedMonthLeavesQueriesAndDedupeIntact(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	if v.db.Dialect() != store.Postgres {
		t.Skip("monthly partitions of usage_records exist on PostgreSQL only (SQLite keeps one table)")
	}
	tok := v.tenant("acme", "shop")
	sep := reqs("acme", "shop", "web", time.Date(2026, 9, 15, 10, 0, 0, 0, time.UTC), 3, 4)
	v.ingestOK(append(sep, reqs("acme", "shop", "web", time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC), 5)...))
	ctx := context.Background()
	var parts []string
	rows, err := v.db.SQL().QueryContext(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'usage_records' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, name)
	}
	rows.Close()
	// (A test database is reused emptied, so earlier tests' months may be there too.)
	if !slices.Contains(parts, "usage_records_2026_09") || !slices.Contains(parts, "usage_records_2026_10") {
		t.Fatalf("partitions %v", parts)
	}
	if _, err := v.db.SQL().ExecContext(ctx, "ALTER TABLE usage_records DETACH PARTITION usage_records_2026_09"); err != nil {
		t.Fatal(err)
	}
	lines := v.details(tok, "system", `{"from":"2026-09-01T00:00:00Z","to":"2026-11-01T00:00:00Z"}`)
	if len(lines) != 1 || *lines[0].Quantity != 12 {
		t.Fatalf("after archiving September: %s", jsonOf(lines))
	}
	if got := v.ingestOK(sep); got.Duplicates != 2 {
		t.Fatalf("replaying archived records: %+v", got)
	}
}

// Two replicas ingest the same records at once, in different orders (six
// batches, sized so that SQLite under the race detector stays within its
// busy timeout): every record counts exactly once, and the rollups hold the
// sum of the distinct records.
func TestConcurrentIngestionFromTwoReplicasCountsEachRecordOnce(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme", "shop")
	other := v.replicaApp()
	at := testStart.Add(-48 * time.Hour)
	var all []usage.RecordInput
	for i := range 300 {
		all = append(all, usage.RecordInput{
			ID: fmt.Sprint("r", i), Tenant: "acme", Namespace: "shop", UsageType: "lb_http_requests",
			ObjectName: fmt.Sprint("o", i%5), Unit: "requests", Quantity: float64(i), Timestamp: at.Add(time.Duration(i) * time.Minute),
		})
	}
	var want float64
	for i := range all {
		want += all[i].Quantity
	}
	results := make(chan usage.IngestResult, 6)
	errs := make(chan error, 6)
	for w := range 6 {
		app := []*App{v.app, other}[w%2]
		batch := slices.Clone(all)
		rand.New(rand.NewPCG(uint64(w), 9)).Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		go func() {
			res, err := app.Usage.Ingest(context.Background(), batch, false)
			results <- res
			errs <- err
		}()
	}
	accepted := 0
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		res := <-results
		accepted += res.Accepted
		if res.Accepted+res.Duplicates != len(all) {
			t.Fatalf("%+v", res)
		}
	}
	if accepted != len(all) {
		t.Fatalf("%d records accepted over all batches, want %d", accepted, len(all))
	}
	var total float64
	for _, l := range v.details(v.token("acme", tenancy.RoleViewer), "system", `{"from":"2026-11-20T00:00:00Z"}`) {
		total += *l.Quantity
	}
	if total != want {
		t.Fatalf("rollups hold %v, want %v", total, want)
	}
}

// Query results are cached for a second: the replica that ingests (or
// changes the plan) shows the change at once, another replica within the
// second.
func TestUsageResultsFollowIngestionAndPlanChanges(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme", "shop")
	other := v.replicaApp()
	acme, _ := v.tenancy.Tenant(context.Background(), "acme")
	p := tenancy.Principal{TenantID: acme.ID, TenantName: "acme", Role: tenancy.RoleAdmin}
	total := func(a *App) float64 {
		lines, err := a.Usage.Details(context.Background(), p, "system", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, l := range lines {
			sum += l.Quantity.Units()
		}
		return sum
	}
	cost := func(a *App) money.Amount {
		d, _, err := a.Invoices.Current(context.Background(), p, "system", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d.Total
	}
	if total(v.app) != 0 || total(other) != 0 || cost(v.app) != 0 { // both cache "nothing yet"
		t.Fatal("usage before any was ingested")
	}
	v.ingestOK(reqs("acme", "shop", "web", testStart.Add(-time.Hour), 60_000_000))
	if got := total(v.app); got != 60_000_000 {
		t.Fatalf("the ingesting replica shows %v", got)
	}
	if got := total(other); got != 0 {
		t.Fatalf("the other replica's cached answer changed early: %v", got) // proves the cache is there
	}
	v.clock.Advance(time.Second)
	if got := total(other); got != 60_000_000 {
		t.Fatalf("the other replica shows %v a second later", got)
	}
	// A plan change reprices at once where it is made: TEAM charges 4900
	// a month, pro-rated from the change to the month's end, 10% off (the
	// usage, an hour before the change, stays on FREE).
	changed := v.clock.Now()
	if err := v.plans.AssignPlan(context.Background(), acme.ID, "TEAM"); err != nil {
		t.Fatal(err)
	}
	flat := money.Ratio(december.Sub(changed).Microseconds(), december.Sub(november).Microseconds()).Apply(4900)
	if got := cost(v.app); got != flat-money.Percent(1000).Apply(flat) {
		t.Fatalf("cost on TEAM: %d, want %d less 10%%", got, flat)
	}
}
