package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"billing-api/gen/api"
)

// usage_summary without start_time or end_time (the vendor requires
// neither) summarises the window usage_details defaults to: the running
// month so far. An empty value counts as left out (proto JSON writes unset
// strings so); a given end is kept.
func TestUsageSummaryDefaultsToTheMonthSoFar(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	v.ingestOK(append(reqs("acme", "shop", "web", time.Date(2026, 10, 20, 8, 0, 0, 0, time.UTC), 10),
		reqs("acme", "shop", "web", time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), 4, 3)...))
	summary := func(body string) (quantity string, end time.Time) {
		t.Helper()
		res := v.call(http.MethodPost, "/api/data/namespaces/system/billing/usage_summary", tok, body)
		if res.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", body, res.Status, res.Body)
		}
		var out api.BillingBillingUsageSummaryResponse
		res.decode(t, &out)
		switch items := *out.UsageSummaryItems; len(items) {
		case 0:
			return "", time.Time{}
		case 1:
			m := items[0].UsageMetricData.MetricValue
			return *m.Value, time.Unix(int64(*m.Timestamp), 0).UTC()
		default:
			t.Fatalf("%s: %d items", body, len(items))
		}
		return "", time.Time{}
	}
	// usage_details without from and to: the month so far.
	lines := v.details(tok, "system", `{}`)
	if len(lines) != 1 || *lines[0].Quantity != 7 {
		t.Fatalf("usage_details' default window: %s", jsonOf(lines))
	}
	detailsEnd := *lines[0].EndTimestamp
	for _, body := range []string{`{}`, `{"start_time":"","end_time":""}`, `{"start_time":"2026-11-01T00:00:00Z"}`, `{"end_time":""}`} {
		q, end := summary(body)
		if q != "7" || !end.Equal(detailsEnd) {
			t.Errorf("%s: %s up to %s, want usage_details' 7 up to %s", body, q, end, detailsEnd)
		}
	}
	if q, _ := summary(`{"start_time":"2026-10-01T00:00:00Z"}`); q != "17" {
		t.Errorf("from October to now: %s, want 17", q)
	}
	if q, _ := summary(fmt.Sprintf(`{"end_time":"%d"}`, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC).Unix())); q != "" {
		t.Errorf("from the month's start to 20 November: %s, want no usage", q)
	}
	// A window the defaults make empty is refused under this request's names.
	res := v.call(http.MethodPost, "/api/data/namespaces/system/billing/usage_summary", tok, `{"start_time":"2026-12-01T00:00:00Z"}`)
	if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, "end_time: must be after start_time") {
		t.Fatalf("a start after now: %d %s", res.Status, res.Body)
	}
}

// At the first instant of a month, the month so far is not an empty window:
// the default answers (its first hour) instead of a 400 for a request that
// asked nothing wrong.
func TestTheMonthSoFarAtItsFirstInstant(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.clock.Set(december)
	for _, c := range []struct{ path, body string }{
		{"/api/web/namespaces/system/usage_details", `{}`},
		{"/api/web/namespaces/system/current_usage", `{}`},
		{"/api/data/namespaces/system/billing/usage_summary", `{}`},
	} {
		if res := v.call(http.MethodPost, c.path, tok, c.body); res.Status != http.StatusOK {
			t.Errorf("%s at %s: %d %s", c.path, december, res.Status, res.Body)
		}
	}
}
