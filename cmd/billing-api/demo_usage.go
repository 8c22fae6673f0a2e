package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"billing-api/server"
	"billing-api/server/tenancy"
	"billing-api/server/usage"
)

// Demo usage: 90 days of hourly records for the demo tenant's objects,
// generated deterministically, so the usage queries, current_usage and the
// invoices show working months with billable lines.
const (
	demoPlan      = "INDIVIDUAL" // billed, unlike the default FREE plan
	demoUsageDays = 90
	// demoUsageBatch is how many records go to Ingest at once.
	demoUsageBatch = 1000
)

// demoMeter is one metered object of the demo tenant and how its usage
// goes.
type demoMeter struct {
	namespace, usageType, object string
	// peak is the usage of the busiest hours of a working day.
	peak float64
	// shape is the share of peak in the hour starting at.
	shape func(at time.Time) float64
	// whole rounds to whole units (requests, queries, checks).
	whole bool
}

// demoMeters are the demo tenant's metered objects. On the INDIVIDUAL plan a
// month comes to about 19M load balancer requests, 730 GB of transfer, 12M
// WAAP requests, 4.4M DNS queries (within what is included) and 216,000
// synthetic checks, about 140 USD with the flat price; AppStack vCPU hours
// are not on its rate card (shown, not billed).
func demoMeters() []demoMeter {
	return []demoMeter{
		{"shop", "lb_http_requests", "web-frontend", 36000, webTraffic, true},
		{"shop", "lb_http_requests", "api-gateway", 14000, apiTraffic, true},
		{"shop", "lb_data_transfer", "web-frontend", 1.8, webTraffic, false},
		{"shop", "lb_data_transfer", "api-gateway", 0.25, apiTraffic, false},
		{"shop", "waap_requests", "web-frontend", 36000, webTraffic, true},
		{tenancy.SystemNamespace, "dns_queries", "demo.example.com", 9000, apiTraffic, true},
		// Five regions check the shop's checkout every minute.
		{"shop", "synthetic_checks", "shop-checkout-monitor", 300, steady, true},
		// Eight vCPUs, scaled out to twelve in working hours.
		{tenancy.SystemNamespace, "appstack_vcpu_hours", "paris-edge-site", 12, siteLoad, false},
	}
}

// webTraffic is a web shop's day: quiet at night, busy in working hours
// (UTC), about half as busy at weekends.
func webTraffic(at time.Time) float64 {
	h := float64(at.Hour())
	day := 0.55 - 0.45*math.Cos(2*math.Pi*(h-3)/24) // 0.1 at 03:00, 1 at 15:00
	if isWeekend(at) {
		return day * 0.45
	}
	if at.Hour() >= 9 && at.Hour() < 18 {
		day = min(1, day*1.15)
	}
	return day
}

// apiTraffic is machine traffic: it follows the working day less closely.
func apiTraffic(at time.Time) float64 { return 0.4 + 0.6*webTraffic(at) }

// steady is usage that does not depend on the time.
func steady(time.Time) float64 { return 1 }

// siteLoad is a site's vCPUs: two thirds of peak, all of it in working hours.
func siteLoad(at time.Time) float64 {
	if !isWeekend(at) && at.Hour() >= 8 && at.Hour() < 19 {
		return 1
	}
	return 2.0 / 3
}

func isWeekend(at time.Time) bool {
	return at.Weekday() == time.Saturday || at.Weekday() == time.Sunday
}

// quantity is m's usage in the hour starting at: its shape with ±8% noise
// from a generator seeded by the meter and the hour, so an hour's record is
// the same whenever it is generated (and its id with it).
func (m demoMeter) quantity(at time.Time) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(m.usageType + "/" + m.object)) // hashes never fail
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(at.Unix())))
	q := m.peak * m.shape(at) * (0.92 + 0.16*r.Float64())
	if m.whole {
		return math.Round(q)
	}
	return math.Round(q*1000) / 1000
}

// demoUsageRecords are the records of the demoUsageDays days of hours up to
// and including the one now is in.
func demoUsageRecords(types map[string]usage.Type, now time.Time) ([]usage.RecordInput, error) {
	meters := demoMeters()
	last := now.UTC().Truncate(time.Hour)
	first := last.Add(-(demoUsageDays*24 - 1) * time.Hour)
	recs := make([]usage.RecordInput, 0, len(meters)*demoUsageDays*24)
	for _, m := range meters {
		t, ok := types[m.usageType]
		if !ok {
			return nil, fmt.Errorf("demo usage: the plan catalogue has no usage type %q", m.usageType)
		}
		for at := first; !at.After(last); at = at.Add(time.Hour) {
			recs = append(recs, usage.RecordInput{
				ID:     fmt.Sprintf("demo-%s-%s-%d", m.usageType, m.object, at.Unix()),
				Tenant: demoTenant, Namespace: m.namespace, UsageType: m.usageType, ObjectName: m.object,
				Unit: t.Unit, Quantity: m.quantity(at), Timestamp: at,
			})
		}
	}
	return recs, nil
}

// ingestDemoUsage ingests demo records through the same path as the
// operator API, in batches; ingesting them again changes nothing (the ids
// repeat).
func ingestDemoUsage(ctx context.Context, a *server.App, recs []usage.RecordInput) (usage.IngestResult, error) {
	var total usage.IngestResult
	for start := 0; start < len(recs); start += demoUsageBatch {
		res, err := a.Usage.Ingest(ctx, recs[start:min(start+demoUsageBatch, len(recs))], false)
		if err != nil {
			return total, fmt.Errorf("seeding demo usage: %w", err)
		}
		total.Accepted += res.Accepted
		total.Duplicates += res.Duplicates
		total.Late += res.Late
	}
	return total, nil
}
