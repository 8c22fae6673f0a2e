package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkIngestUsage posts batches of 1,000 fresh records over 200 series
// through the operator API (validation, the domain's checks, one
// transaction); records/s is the figure to compare with a raw COPY.
func BenchmarkIngestUsage(b *testing.B) {
	v := newEnvTB(b)
	v.tenant("acme", "shop")
	h := v.e
	at := testStart.Add(-30 * 24 * time.Hour)
	n := 0
	batch := func() string {
		recs := make([]rec, 1000)
		for i := range recs {
			recs[i] = rec{
				ID: fmt.Sprint("r", n), Tenant: "acme", Namespace: "shop", UsageType: "lb_http_requests",
				ObjectName: fmt.Sprint("obj-", n%200), Unit: "requests", Quantity: float64(n % 977),
				Timestamp: at.Add(time.Duration(n%(30*24)) * time.Hour).Format(time.RFC3339),
			}
			n++
		}
		body, _ := json.Marshal(map[string]any{"records": recs})
		return string(body)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		body := batch()
		req := httptest.NewRequest(http.MethodPost, "/admin/v1/usage_records", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		rec := httptest.NewRecorder()
		b.StartTimer()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}
