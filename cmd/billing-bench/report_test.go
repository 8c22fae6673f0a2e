package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func fixedReport() *Report {
	return &Report{
		Summary: Summary,
		Config:  RunConfig{Concurrency: 16, Warmup: "2s", Duration: "5s", Rounds: 3},
		Machine: Machine{GOMAXPROCS: 2, CPUs: 2, GoVersion: "go1.26.8", ServerGoVersion: "go1.26.8", Postgres: "15.20"},
		DataSet: DataSet{Tenants: 1000, LargeTenant: largeTenant, ListObjects: listObjects, SeedSeconds: 30.2,
			UsageSeries: 200, UsageDays: 90, UsageRecords: 432000, UsageSeedSeconds: 24},
		Operations: []OpResult{
			newOpResult("healthz",
				SideResult{Request: "GET /healthz", RPS: 18000, RoundRPS: []float64{17000, 18000, 19000}, P50Ms: 0.66, P99Ms: 4.5, CPUUs: 61, Requests: 270000},
				SideResult{Request: "GET /ping", RPS: 20000, RoundRPS: []float64{20000, 20000, 20000}, P50Ms: 0.55, P99Ms: 4.7, Requests: 300000}),
			newOpResult("replaceQuota",
				SideResult{Request: "PUT /api/web/namespaces/ns-00/quotas/q-00", RPS: 500, RoundRPS: []float64{500, 400, 600}, P50Ms: 30, P99Ms: 105,
					Requests: 7500, Errors: 2, ErrorSample: "PUT /api/web/namespaces/ns-00/quotas/q-00: 503 unavailable"},
				SideResult{Request: "PUT /items/:id", RPS: 2500, RoundRPS: []float64{2500, 2400, 2600}, P50Ms: 3.7, P99Ms: 44.7, Requests: 37500}),
			newOpResult("ingestUsage",
				SideResult{Request: "POST /admin/v1/usage_records", RPS: 21.5, RoundRPS: []float64{21, 21.5, 22}, P50Ms: 700, P99Ms: 1500, CPUUs: 26000, Requests: 320},
				SideResult{Request: "POST /usage_records (COPY)", RPS: 86, RoundRPS: []float64{85, 86, 90}, P50Ms: 180, P99Ms: 400, CPUUs: 7000, Requests: 1300}).
				withRecords(1000),
		},
		PeakRSS: PeakRSS{Server: 40 << 20, Baseline: 30 << 20},
		Started: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
	}
}

func TestReportText(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := fixedReport().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"3 round(s) of 2s warm-up + 5s measured per operation and side, concurrency 16",
		"1000 tenants + bench-large (50 quota objects listed), seeded in 30.2s",
		"usage: 200 series × 90 days of hourly records = 432000 records, ingested through the service in 24.0s (18000 records/s)",
		"req/s: successful requests per second, median of the rounds; p50/p99: latency of the successful requests, pooled over all rounds",
		"  GET /ping                  healthz\n  PUT /items/:id             replaceQuota\n  POST /usage_records (COPY) ingestUsage\n",
		"records/s (operations storing a batch per request: req/s × records per request):\n" +
			"  ingestUsage  1000 per request: server 21500 records/s, baseline 86000 records/s, ratio 0.250\n",
		"errors: replaceQuota server: 2 of 7500 requests failed; first: PUT /api/web/namespaces/ns-00/quotas/q-00: 503 unavailable",
		"peak RSS (VmHWM): server 40.0 MiB, baseline 30.0 MiB",
		"machine: GOMAXPROCS 2, 2 CPUs, go1.26.8 (harness), go1.26.8 (server), PostgreSQL 15.20",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	lines := strings.Split(out, "\n")
	row := func(name string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				return f
			}
		}
		t.Fatalf("no row for %s in\n%s", name, out)
		return nil
	}
	if got, want := row("healthz"), []string{"healthz", "18000", "0.66ms", "4.50ms", "61us", "20000", "0.55ms", "4.70ms", "-", "0.900", "0/0"}; !slices.Equal(got, want) {
		t.Errorf("healthz row %q, want %q", got, want)
	}
	if got, want := row("replaceQuota"), []string{"replaceQuota", "500", "30.0ms", "105ms", "-", "2500", "3.70ms", "44.7ms", "-", "0.200", "2/0"}; !slices.Equal(got, want) {
		t.Errorf("replaceQuota row %q, want %q", got, want)
	}
	// A batch operation's row has the same columns as the others.
	if got, want := row("ingestUsage"), []string{"ingestUsage", "22", "700ms", "1500ms", "26000us", "86", "180ms", "400ms", "7000us", "0.250", "0/0"}; !slices.Equal(got, want) {
		t.Errorf("ingestUsage row %q, want %q", got, want)
	}
	// The rows line up under the header.
	header := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "operation") })
	if header < 0 || len(lines[header]) != len(lines[header+1]) || len(lines[header+1]) != len(lines[header+2]) ||
		len(lines[header+2]) != len(lines[header+3]) {
		t.Errorf("table is ragged:\n%s", out)
	}
}

func TestReportJSON(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := fixedReport().WriteJSONFile(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if want := fixedReport(); got.Summary != want.Summary || got.Operations[1].Ratio != 0.2 ||
		got.Operations[1].Server.ErrorSample != want.Operations[1].Server.ErrorSample || got.PeakRSS != want.PeakRSS ||
		got.Machine != want.Machine || got.Config != want.Config || !got.Started.Equal(want.Started) {
		t.Fatalf("JSON round trip changed the report:\n%s", raw)
	}
	// The field names a reader of bin/bench.json relies on.
	var generic map[string]any
	_ = json.Unmarshal(raw, &generic)
	op := generic["operations"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "server", "baseline", "ratio"} {
		if _, ok := op[k]; !ok {
			t.Errorf("operation has no %q: %v", k, op)
		}
	}
	for _, k := range []string{"request", "rps", "round_rps", "p50_ms", "p99_ms", "requests", "errors"} {
		if _, ok := op["server"].(map[string]any)[k]; !ok {
			t.Errorf("side has no %q: %v", k, op["server"])
		}
	}
	// Records per second only where an operation stores batches.
	if _, ok := op["records_per_request"]; ok {
		t.Errorf("healthz has records_per_request: %v", op)
	}
	batch := got.Operations[2]
	if batch.RecordsPerRequest != 1000 || batch.Server.RecordsPerSecond != 21500 || batch.Baseline.RecordsPerSecond != 86000 {
		t.Errorf("ingestUsage: %+v", batch)
	}
	ds := generic["data_set"].(map[string]any)
	for _, k := range []string{"usage_series", "usage_days", "usage_records", "usage_seed_seconds"} {
		if _, ok := ds[k]; !ok {
			t.Errorf("data set has no %q: %v", k, ds)
		}
	}
}

// TestSummarize checks how rounds become one result: the median of the
// rounds' rates, percentiles over every request of all rounds.
func TestSummarize(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	lat := func(n int, d time.Duration) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = d
		}
		return out
	}
	rounds := []phase{
		{Latencies: lat(100, 1*ms), Elapsed: time.Second},                                                             // 100/s
		{Latencies: append(lat(290, 2*ms), lat(10, 50*ms)...), Elapsed: time.Second, Errors: 3, ErrorSample: "first"}, // 300/s
		{Latencies: lat(400, 3*ms), Elapsed: 2 * time.Second, ErrorSample: "second"},                                  // 200/s
	}
	s := summarize("GET /x", rounds)
	if s.RPS != 200 || !slices.Equal(s.RoundRPS, []float64{100, 300, 200}) {
		t.Errorf("rps %v rounds %v", s.RPS, s.RoundRPS)
	}
	// 800 successes in order: 100 at 1ms, 290 at 2ms, 400 at 3ms, 10 at
	// 50ms; the 400th is 3ms and the 792nd 50ms. The 3 failures count
	// only as errors.
	if s.P50Ms != 3 || s.P99Ms != 50 || s.Requests != 803 || s.Errors != 3 || s.ErrorSample != "first" {
		t.Errorf("summary %+v", s)
	}
	if s.Failed() {
		t.Error("a side with successes reported as failed")
	}
	if !(SideResult{Requests: 5, Errors: 5}).Failed() || !(SideResult{}).Failed() {
		t.Error("a side without one success should count as failed")
	}
	if got := percentile([]time.Duration{1, 2, 3, 4}, 0.5); got != 2 {
		t.Errorf("p50 of 1..4 = %v", got)
	}
	if got := median([]float64{3, 1, 2, 10}); got != 2.5 {
		t.Errorf("median = %v", got)
	}
}
