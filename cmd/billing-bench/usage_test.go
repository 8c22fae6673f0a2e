package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"billing-api/openapi"
)

// usageFixture is a fixture with the seeded series, as seedUsage makes it.
func usageFixture(t *testing.T, hours int) *Fixture {
	t.Helper()
	var namespaces []string
	for i := range largeNamespaces {
		namespaces = append(namespaces, fmt.Sprintf("ns-%02d", i))
	}
	series, err := newUsageSeries(namespaces, map[string]string{
		"lb_http_requests": "requests", "lb_data_transfer": "GB", "waap_requests": "requests",
		"dns_queries": "queries", "cdn_data_transfer": "GB",
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Fixture{Tenant: largeTenant, UsageSeries: series, UsageHours: hours,
		UsageLast: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)}
}

// TestIngestBody checks ingestUsage's batches: the operator API's schema,
// a thousand records over every series and the seeded hours, and ids that
// never repeat, whatever the phase and sequence number.
func TestIngestBody(t *testing.T) {
	t.Parallel()
	if _, err := newUsageSeries([]string{"a"}, map[string]string{}); err == nil {
		t.Fatal("series of a usage type the catalogue lacks")
	}
	f := usageFixture(t, 90*24)
	if len(f.UsageSeries) != usageSeriesCount {
		t.Fatalf("%d series, want %d", len(f.UsageSeries), usageSeriesCount)
	}
	spec, err := openapi3.NewLoader().LoadFromData(openapi.AdminYAML)
	if err != nil {
		t.Fatal(err)
	}
	schema := spec.Components.Schemas["UsageRecordBatch"].Value
	first, last := f.usageHour(0), f.UsageLast
	ids := map[string]bool{}
	for _, phase := range []string{"check", "r1", "r2"} {
		f.Phase = phase
		for _, n := range []uint64{0, 1, 431, 432, 100_000} {
			raw := f.ingestBody(n)
			var doc any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("%s/%d: %v", phase, n, err)
			}
			if err := schema.VisitJSON(doc); err != nil {
				t.Fatalf("%s/%d: not a UsageRecordBatch: %v", phase, n, err)
			}
			var batch struct {
				Records []baselineUsageRecord `json:"records"`
			}
			if err := json.Unmarshal(raw, &batch); err != nil {
				t.Fatal(err)
			}
			if len(batch.Records) != ingestBatchRecords {
				t.Fatalf("%s/%d: %d records", phase, n, len(batch.Records))
			}
			series := map[usageSeries]bool{}
			for _, r := range batch.Records {
				if ids[r.ID] {
					t.Fatalf("%s/%d: id %s repeats", phase, n, r.ID)
				}
				ids[r.ID] = true
				if r.Tenant != largeTenant || r.Timestamp.Before(first) || r.Timestamp.After(last) || !r.Timestamp.Equal(r.Timestamp.Truncate(time.Hour)) {
					t.Fatalf("%s/%d: record %+v", phase, n, r)
				}
				series[usageSeries{Namespace: r.Namespace, UsageType: r.UsageType, ObjectName: r.ObjectName, Unit: r.Unit}] = true
			}
			if len(series) != usageSeriesCount {
				t.Fatalf("%s/%d: %d series in a batch, want all %d", phase, n, len(series), usageSeriesCount)
			}
		}
	}
}

// TestUsageQueryBodies checks the usage queries' windows: 30 days and 24
// hours, ending with the seeded hour.
func TestUsageQueryBodies(t *testing.T) {
	t.Parallel()
	f := usageFixture(t, 24)
	var details struct{ Namespace, From, To string }
	if err := json.Unmarshal(f.usageDetailsBody(), &details); err != nil {
		t.Fatal(err)
	}
	if details != (struct{ Namespace, From, To string }{"system", "2026-10-27T03:00:00Z", "2026-11-26T03:00:00Z"}) {
		t.Errorf("usage_details body %+v", details)
	}
	var summary struct {
		Start string `json:"start_time"`
		End   string `json:"end_time"`
	}
	if err := json.Unmarshal(f.usageSummaryBody(), &summary); err != nil {
		t.Fatal(err)
	}
	if summary.Start != "2026-11-25T03:00:00Z" || summary.End != "2026-11-26T03:00:00Z" {
		t.Errorf("usage_summary body %+v", summary)
	}
}

// TestUsageChecks makes sure the checks refuse the answers that would make
// a measurement meaningless: too few lines, no usage, duplicates.
func TestUsageChecks(t *testing.T) {
	t.Parallel()
	f := usageFixture(t, 24)
	lines := func(n int, q float64) []byte {
		type line struct {
			Quantity float64 `json:"quantity"`
			Query    string  `json:"hourly_breakdown_query"`
		}
		var items []line
		for range n {
			items = append(items, line{q, "signed"})
		}
		out, _ := json.Marshal(map[string]any{"usage_items": items})
		return out
	}
	for _, c := range []struct {
		name  string
		check func(*Fixture, []byte) error
		body  []byte
		ok    bool
	}{
		{"200 lines", checkUsageDetails, lines(usageSeriesCount, 1.5), true},
		{"199 lines", checkUsageDetails, lines(usageSeriesCount-1, 1.5), false},
		{"lines without usage", checkUsageDetails, lines(usageSeriesCount, 0), false},
		{"priced usage", checkCurrentUsage, []byte(`{"usage_items":[{"usage_type":"plan_flat_price","quantity":1},` +
			`{"usage_type":"lb_http_requests","quantity":5},{"usage_type":"lb_data_transfer","quantity":0.5},{"usage_type":"waap_requests","quantity":5},` +
			`{"usage_type":"dns_queries","quantity":5},{"usage_type":"cdn_data_transfer","quantity":5}]}`), true},
		{"no usage of a type", checkCurrentUsage, []byte(`{"usage_items":[{"usage_type":"plan_flat_price","quantity":1},` +
			`{"usage_type":"lb_http_requests","quantity":5},{"usage_type":"dns_queries","quantity":0}]}`), false},
		{"summary", checkUsageSummary, []byte(`{"usage_summary_items":[` +
			`{"usage_metric_data":{"metric_value":{"value":"1"}}},{"usage_metric_data":{"metric_value":{"value":"2.5"}}},` +
			`{"usage_metric_data":{"metric_value":{"value":"1"}}},{"usage_metric_data":{"metric_value":{"value":"1"}}},` +
			`{"usage_metric_data":{"metric_value":{"value":"1"}}}]}`), true},
		{"empty summary", checkUsageSummary, []byte(`{"usage_summary_items":[]}`), false},
		{"new batch", checkIngested, []byte(`{"accepted":1000,"duplicates":0,"late":0}`), true},
		{"duplicates", checkIngested, []byte(`{"accepted":0,"duplicates":1000,"late":0}`), false},
		{"not JSON", checkIngested, []byte(`accepted`), false},
	} {
		if err := c.check(f, c.body); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
