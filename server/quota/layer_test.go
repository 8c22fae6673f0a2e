package quota_test

import (
	"fmt"
	"testing"

	"billing-api/server/quota"
)

// vendorKeys pairs one operation's two spellings, as the spec does.
type vendorKeys map[string]string

func (k vendorKeys) Canonical(key string) string {
	if id, ok := k[key]; ok {
		return id
	}
	return key
}

var keys = vendorKeys{"ves.io.schema.quota.API.List": "listQuotas"}

func burst(n int32) *int32 { return &n }

func rl(rate int32, unit quota.Unit, b int32) quota.RateLimit {
	return quota.RateLimit{Rate: rate, Unit: unit, Burst: burst(b)}
}

func objects(kv ...any) quota.Limits {
	l := quota.Limits{Objects: map[string]int32{}}
	for i := 0; i < len(kv); i += 2 {
		l.Objects[kv[i].(string)] = int32(kv[i+1].(int))
	}
	return l
}

func apis(kv ...any) quota.Limits {
	l := quota.Limits{APIs: map[string]quota.RateLimit{}}
	for i := 0; i < len(kv); i += 2 {
		l.APIs[kv[i].(string)] = kv[i+1].(quota.RateLimit)
	}
	return l
}

func show(r quota.RateLimit) string {
	if r.Burst == nil {
		return fmt.Sprintf("%d/%s", r.Rate, r.Unit)
	}
	return fmt.Sprintf("%d/%s burst %d", r.Rate, r.Unit, *r.Burst)
}

func TestLayeringOfCountsAndAmounts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		ceiling           quota.Limits
		system, namespace []quota.Limits
		key               string
		want              int32 // -2: no limit at all
	}{
		{"plan alone", objects("lb", 5), nil, nil, "lb", 5},
		{"a system object tightens", objects("lb", 5), []quota.Limits{objects("lb", 3)}, nil, "lb", 3},
		{"a system object cannot lift", objects("lb", 5), []quota.Limits{objects("lb", 50)}, nil, "lb", 5},
		{"-1 in an object adds nothing", objects("lb", 5), []quota.Limits{objects("lb", -1)}, nil, "lb", 5},
		{"-1 in the ceiling is unlimited", objects("lb", -1), nil, nil, "lb", -1},
		{"an object limits what the plan leaves unlimited", objects("lb", -1), []quota.Limits{objects("lb", 7)}, nil, "lb", 7},
		{"an object limits a kind the plan does not name", objects(), []quota.Limits{objects("lb", 7)}, nil, "lb", 7},
		{"-1 on a kind nobody limits stays unlimited", objects(), []quota.Limits{objects("lb", -1)}, nil, "lb", -2},
		{"the namespace tightens system", objects("lb", 9), []quota.Limits{objects("lb", 6)}, []quota.Limits{objects("lb", 2)}, "lb", 2},
		{"the namespace cannot lift system", objects("lb", 9), []quota.Limits{objects("lb", 6)}, []quota.Limits{objects("lb", 8)}, "lb", 6},
		{"within a level the newest wins", objects("lb", 9), []quota.Limits{objects("lb", 2), objects("lb", 4)}, nil, "lb", 4},
		{"the newest -1 clears the level", objects("lb", 9), []quota.Limits{objects("lb", 2), objects("lb", -1)}, nil, "lb", 9},
		{"0 allows none", objects("lb", 9), nil, []quota.Limits{objects("lb", 0)}, "lb", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := quota.Layer(tc.ceiling, tc.system, tc.namespace, keys)
			got, ok := e.Objects[tc.key]
			if !ok {
				got = -2
			}
			if got != tc.want {
				t.Fatalf("%s = %d, want %d", tc.key, got, tc.want)
			}
		})
	}
	// Amounts follow the same rule.
	ceiling := quota.Limits{Resources: map[string]float64{"gib": 10}}
	e := quota.Layer(ceiling, []quota.Limits{{Resources: map[string]float64{"gib": 12.5}}}, []quota.Limits{{Resources: map[string]float64{"gib": 0.5}}}, keys)
	if e.Resources["gib"] != 0.5 {
		t.Fatalf("gib %v, want 0.5", e.Resources["gib"])
	}
}

func TestOverridesRaiseOrLowerThePlan(t *testing.T) {
	t.Parallel()
	plan := quota.Limits{Objects: map[string]int32{"lb": 5, "pool": 10}, APIs: map[string]quota.RateLimit{"listQuotas": rl(10, quota.Second, 20)}}
	over := quota.Limits{Objects: map[string]int32{"lb": 50, "pool": 2}, APIs: map[string]quota.RateLimit{"ves.io.schema.quota.API.List": {Rate: 100}}}
	c := quota.Overlay(plan, over, keys)
	if c.Objects["lb"] != 50 || c.Objects["pool"] != 2 {
		t.Fatalf("objects %v", c.Objects)
	}
	if got := show(c.APIs["listQuotas"]); got != "100/SECOND burst 100" || len(c.APIs) != 1 {
		t.Fatalf("apis %v", c.APIs)
	}
}

func TestLayeringOfAPILimits(t *testing.T) {
	t.Parallel()
	plan := apis("listQuotas", rl(10, quota.Second, 20))
	for _, tc := range []struct {
		name              string
		ceiling           quota.Limits
		system, namespace []quota.Limits
		want, tenant, own string // own "" = no namespace bucket
	}{
		{"plan alone", plan, nil, nil, "10/SECOND burst 20", "10/SECOND burst 20", ""},
		{"the other spelling cannot escape the plan", plan,
			[]quota.Limits{apis("ves.io.schema.quota.API.List", quota.RateLimit{Rate: 1000})}, nil,
			"10/SECOND burst 20", "10/SECOND burst 20", ""},
		{"a lower rate and burst tighten", plan,
			[]quota.Limits{apis("listQuotas", rl(2, quota.Minute, 2))}, nil,
			"2/MINUTE burst 2", "2/MINUTE burst 2", ""},
		{"rate and burst tighten separately", plan,
			[]quota.Limits{apis("listQuotas", rl(600, quota.Minute, 50))}, nil,
			"10/SECOND burst 20", "10/SECOND burst 20", ""},
		{"newer object wins whichever spelling (vendor name newer)", quota.Limits{},
			[]quota.Limits{apis("listQuotas", rl(5, quota.Minute, 5)), apis("ves.io.schema.quota.API.List", rl(9, quota.Minute, 9))}, nil,
			"9/MINUTE burst 9", "9/MINUTE burst 9", ""},
		{"newer object wins whichever spelling (operation id newer)", quota.Limits{},
			[]quota.Limits{apis("ves.io.schema.quota.API.List", rl(9, quota.Minute, 9)), apis("listQuotas", rl(5, quota.Minute, 5))}, nil,
			"5/MINUTE burst 5", "5/MINUTE burst 5", ""},
		{"a re-set key keeps its place: newest object wins", quota.Limits{},
			[]quota.Limits{apis("listQuotas", rl(5, quota.Minute, 5), "other", rl(1, quota.Second, 1)), apis("ves.io.schema.quota.API.List", rl(7, quota.Minute, 7))}, nil,
			"7/MINUTE burst 7", "7/MINUTE burst 7", ""},
		{"a namespace limit gets its own bucket under the tenant's", plan,
			[]quota.Limits{apis("listQuotas", rl(4, quota.Hour, 4))}, []quota.Limits{apis("ves.io.schema.quota.API.List", rl(3, quota.Hour, 3))},
			"3/HOUR burst 3", "4/HOUR burst 4", "3/HOUR burst 3"},
		{"a namespace cannot loosen the tenant's limit", plan,
			[]quota.Limits{apis("listQuotas", rl(4, quota.Hour, 4))}, []quota.Limits{apis("listQuotas", rl(100, quota.Hour, 100))},
			"4/HOUR burst 4", "4/HOUR burst 4", "4/HOUR burst 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := quota.Layer(tc.ceiling, tc.system, tc.namespace, keys)
			if len(e.APIs) != 1 && tc.name != "a re-set key keeps its place: newest object wins" {
				t.Errorf("keys %v: one operation, one key", e.APIs)
			}
			if got := show(e.APIs["listQuotas"]); got != tc.want {
				t.Errorf("effective %s, want %s", got, tc.want)
			}
			if got := show(e.TenantAPIs["listQuotas"]); got != tc.tenant {
				t.Errorf("tenant-wide %s, want %s", got, tc.tenant)
			}
			own, ok := e.NamespaceAPIs["listQuotas"]
			if got := show(own); (tc.own == "") == ok || (ok && got != tc.own) {
				t.Errorf("namespace bucket %v %s, want %q", ok, got, tc.own)
			}
		})
	}
}
