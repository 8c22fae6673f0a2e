package quota_test

import (
	"fmt"
	"testing"

	"billing-api/server/quota"
)

// BenchmarkLayer is the effective limits of a namespace from a ceiling of
// 13 keys, 5 objects in system and 50 in the namespace.
func BenchmarkLayer(b *testing.B) {
	ceiling := quota.Limits{
		Objects:   map[string]int32{"quota": 10, "payment_method": 2, "http_loadbalancer": 5, "origin_pool": 10, "namespace": 3},
		Resources: map[string]float64{"storage_gib": 10},
		APIs: map[string]quota.RateLimit{
			"createQuota": rl(60, quota.Minute, 10), "replaceQuota": rl(60, quota.Minute, 10), "deleteQuota": rl(60, quota.Minute, 10),
			"listQuotas": rl(10, quota.Second, 20), "getQuotaUsage": rl(5, quota.Second, 10), "ves.io.schema.quota.API.List": rl(9, quota.Second, 9),
			"listUsageDetails": rl(2, quota.Second, 5),
		},
	}
	var system, own []quota.Limits
	for i := range 5 {
		system = append(system, quota.Limits{Objects: map[string]int32{"http_loadbalancer": int32(4 - i%2)}, APIs: map[string]quota.RateLimit{"listQuotas": rl(8, quota.Second, 8)}})
	}
	for i := range 50 {
		own = append(own, quota.Limits{
			Objects:   map[string]int32{"origin_pool": int32(i), fmt.Sprintf("kind-%d", i): 3},
			Resources: map[string]float64{"storage_gib": float64(i) / 2},
		})
	}
	b.ReportAllocs()
	for b.Loop() {
		e := quota.Layer(ceiling, system, own, keys)
		if e.Objects["origin_pool"] != 10 {
			b.Fatal(e.Objects["origin_pool"])
		}
	}
}

// BenchmarkSelector parses a label_filter and matches it against 50 label
// sets, as a list of 50 objects does.
func BenchmarkSelector(b *testing.B) {
	sets := make([]map[string]string, 50)
	for i := range sets {
		sets[i] = map[string]string{"team": []string{"web", "data", "ops"}[i%3], "env": []string{"prod", "staging"}[i%2], "app.kubernetes.io/name": fmt.Sprintf("app-%d", i)}
	}
	b.ReportAllocs()
	for b.Loop() {
		sel, err := quota.ParseSelector("team in (web,data),env!=staging,app.kubernetes.io/name")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, l := range sets {
			if sel.Matches(l) {
				n++
			}
		}
		if n != 17 {
			b.Fatal(n)
		}
	}
}
