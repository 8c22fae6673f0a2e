package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// The large tenant's metered usage: usageSeriesCount series (usage type ×
// namespace × object), each with one record per hour over the last
// --usage-days days, ending at the hour the seed ran in. The seed ingests
// them through the service, so the rollups the usage queries read are the
// real ones; ingestUsage sends more records of the same series.
const (
	// usageObjects is how many objects of each usage type a namespace has.
	usageObjects = 4
	// usageSeriesCount is how many series the large tenant meters:
	// every namespace besides system × every usage kind × usageObjects.
	usageSeriesCount = largeNamespaces * 5 * usageObjects
	// defaultUsageDays is how many days of hourly records each series holds.
	defaultUsageDays = 90
	// seedBatchRecords is the batch the seed ingests at a time (the
	// service's largest, usage.MaxBatchRecords).
	seedBatchRecords = 10_000
	// ingestBatchRecords is how many records one ingestUsage request
	// carries, on both sides.
	ingestBatchRecords = 1000
)

// usageKinds are the usage types the series spread over (units come from
// the service's catalogue when seeding), with the prefix of their objects'
// names and whether their quantities have decimals.
var usageKinds = []struct {
	Type, Object string
	Fractional   bool
}{
	{"lb_http_requests", "lb", false},
	{"lb_data_transfer", "lb", true},
	{"waap_requests", "waap", false},
	{"dns_queries", "zone", false},
	{"cdn_data_transfer", "cdn", true},
}

// usageSeries is one metered series of the large tenant.
type usageSeries struct {
	Namespace, UsageType, ObjectName, Unit string
	Fractional                             bool
}

// newUsageSeries lists the series over the namespaces, each kind's unit
// taken from units (usage type → unit).
func newUsageSeries(namespaces []string, units map[string]string) ([]usageSeries, error) {
	var out []usageSeries
	for _, ns := range namespaces {
		for _, k := range usageKinds {
			unit, ok := units[k.Type]
			if !ok {
				return nil, fmt.Errorf("usage type %q is not in the plan catalogue", k.Type)
			}
			for o := range usageObjects {
				out = append(out, usageSeries{Namespace: ns, UsageType: k.Type, ObjectName: fmt.Sprintf("%s-%d", k.Object, o),
					Unit: unit, Fractional: k.Fractional})
			}
		}
	}
	return out, nil
}

// usageQuantity is what series s used in hour h (hours since the Unix
// epoch): a deterministic spread, whole units for counts and thousandths
// for transferred gigabytes, so sums are exact and a test can recompute
// them.
func usageQuantity(s usageSeries, i, h int) float64 {
	v := 1 + (i*37+h*11)%5000
	if s.Fractional {
		return float64(v) / 1000
	}
	return float64(100 * v)
}

// usageHour is the start of the j-th seeded hour of the fixture's series,
// oldest first (j may exceed the seeded hours: it wraps).
func (f *Fixture) usageHour(j int) time.Time {
	j %= f.UsageHours
	return f.UsageLast.Add(-time.Duration(f.UsageHours-1-j) * time.Hour)
}

// seedRecordID names the record of series i in the hour starting at t.
func seedRecordID(i int, t time.Time) string { return fmt.Sprintf("seed-%03d-%d", i, t.Unix()/3600) }

// ingestBody is the n-th batch of ingestUsage in the fixture's phase: the
// body of POST /admin/v1/usage_records, sent as is to the baseline's COPY
// route too. Record k of the phase (k = n×ingestBatchRecords + i) falls on
// series k mod 200 and on the seeded hours in order, so a batch covers
// every series over five consecutive hours, the way a metering pipeline
// forwarding one tenant's hours would send them, and its ids (phase, n, i)
// are new: each request stores fresh records, never duplicates.
func (f *Fixture) ingestBody(n uint64) []byte {
	b := make([]byte, 0, ingestBatchRecords*200)
	b = append(b, `{"records":[`...)
	nSeries := len(f.UsageSeries)
	for i := range ingestBatchRecords {
		k := int(n)*ingestBatchRecords + i
		si := k % nSeries
		s := f.UsageSeries[si]
		hour := f.usageHour(k / nSeries)
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"id":"%s-%d-%d","tenant":%q,"namespace":%q,"usage_type":%q,"object_name":%q,"unit":%q,"quantity":`,
			f.Phase, n, i, f.Tenant, s.Namespace, s.UsageType, s.ObjectName, s.Unit)
		b = strconv.AppendFloat(b, usageQuantity(s, si, int(hour.Unix()/3600)), 'f', -1, 64)
		b = append(b, `,"timestamp":"`...)
		b = hour.AppendFormat(b, time.RFC3339)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...)
}

// usageWindowEnd is the end of the hour the seed ran in: the usage queries'
// windows end there, so they read the newest seeded hour.
func (f *Fixture) usageWindowEnd() time.Time { return f.UsageLast.Add(time.Hour) }

// usageDetailsBody asks for the last 30 days ending at the current hour:
// the "last 30 days" view a usage dashboard opens with. Month to date
// ({}, the spec's default) would read from 0 to 30 days of rollups
// depending on the day of the month the bench runs on; a rolling window
// reads the same number of rollups (per series, the hours before the first
// midnight, 29 days and the hours of today) on any day, so runs compare.
func (f *Fixture) usageDetailsBody() []byte {
	to := f.usageWindowEnd()
	return fmt.Appendf(nil, `{"namespace":"system","from":%q,"to":%q}`,
		to.Add(-30*24*time.Hour).Format(time.RFC3339), to.Format(time.RFC3339))
}

// usageSummaryBody asks for the 24 hours ending at the current hour.
func (f *Fixture) usageSummaryBody() []byte {
	to := f.usageWindowEnd()
	return fmt.Appendf(nil, `{"start_time":%q,"end_time":%q}`,
		to.Add(-24*time.Hour).Format(time.RFC3339), to.Format(time.RFC3339))
}

// checkUsageDetails wants a line per seeded series, each with usage.
func checkUsageDetails(f *Fixture, body []byte) error {
	var r struct {
		Items []struct {
			Quantity float64 `json:"quantity"`
			Query    string  `json:"hourly_breakdown_query"`
		} `json:"usage_items"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	if len(r.Items) != len(f.UsageSeries) {
		return fmt.Errorf("%d usage lines, want %d", len(r.Items), len(f.UsageSeries))
	}
	for _, it := range r.Items {
		if it.Quantity <= 0 || it.Query == "" {
			return fmt.Errorf("a usage line without usage or breakdown query: %+v", it)
		}
	}
	return nil
}

// checkCurrentUsage wants the flat price line and a line with usage for
// every seeded usage type.
func checkCurrentUsage(_ *Fixture, body []byte) error {
	var r struct {
		Items []struct {
			UsageType string  `json:"usage_type"`
			Quantity  float64 `json:"quantity"`
		} `json:"usage_items"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	used := map[string]bool{}
	for _, it := range r.Items {
		used[it.UsageType] = it.Quantity > 0
	}
	for _, k := range usageKinds {
		if !used[k.Type] {
			return fmt.Errorf("no usage of %s among %d lines", k.Type, len(r.Items))
		}
	}
	return nil
}

// checkUsageSummary wants an item with usage for every seeded usage type.
func checkUsageSummary(_ *Fixture, body []byte) error {
	var r struct {
		Items []struct {
			Metric struct {
				Value struct {
					Value string `json:"value"`
				} `json:"metric_value"`
			} `json:"usage_metric_data"`
		} `json:"usage_summary_items"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	if len(r.Items) != len(usageKinds) {
		return fmt.Errorf("%d summary items, want %d", len(r.Items), len(usageKinds))
	}
	for _, it := range r.Items {
		if v, err := strconv.ParseFloat(it.Metric.Value.Value, 64); err != nil || v <= 0 {
			return fmt.Errorf("a summary item without usage: %+v", it)
		}
	}
	return nil
}

// checkIngested wants every record of the batch accepted, none a duplicate.
func checkIngested(_ *Fixture, body []byte) error {
	var r struct {
		Accepted   *int `json:"accepted"`
		Duplicates int  `json:"duplicates"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	if r.Accepted == nil || *r.Accepted != ingestBatchRecords || r.Duplicates != 0 {
		return fmt.Errorf("accepted %v, duplicates %d: want all %d new", r.Accepted, r.Duplicates, ingestBatchRecords)
	}
	return nil
}
