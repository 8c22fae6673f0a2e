package invoice

import (
	"testing"
	"time"

	"billing-api/server/money"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/plan"
	"billing-api/server/subscription"
	"billing-api/server/usage"
)

func day(d int, h ...int) time.Time {
	hour := 0
	if len(h) > 0 {
		hour = h[0]
	}
	return time.Date(2026, 10, d, hour, 0, 0, 0, time.UTC)
}

var october = struct{ start, end time.Time }{day(1), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}

var oct = period.New(2026, time.October)

// A share of a month is written with six decimals at most.
func TestShareOfAMonth(t *testing.T) {
	t.Parallel()
	if got := shareOf(day(10), october.end, period.New(2026, time.October)).Decimal(monthPlaces); got != "0.709677" {
		t.Errorf("22 of 31 days: %q", got)
	}
	if got := shareOf(october.start, october.end, period.New(2026, time.October)); !got.IsOne() {
		t.Errorf("the whole month: %v", got)
	}
}

// A month is cut by the plan history; time before the tenant's first plan
// is in no span, and a change before the month starts the first span.
func TestSpansFollowThePlanHistory(t *testing.T) {
	t.Parallel()
	cat, err := plan.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	hist := []plan.Assignment{
		{Plan: "FREE", Since: day(3, 9)},
		{Plan: "INDIVIDUAL", Since: day(10, 14)},
		{Plan: "TEAM", Since: day(20)},
	}
	ps, err := spans(cat, hist, oct)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		plan     string
		from, to time.Time
	}{{"FREE", day(3, 9), day(10, 14)}, {"INDIVIDUAL", day(10, 14), day(20)}, {"TEAM", day(20), october.end}}
	if len(ps) != len(want) {
		t.Fatalf("spans: %+v", ps)
	}
	for i, w := range want {
		if ps[i].Plan.Name != w.plan || !ps[i].From.Equal(w.from) || !ps[i].To.Equal(w.to) {
			t.Errorf("span %d: %s %s–%s, want %s %s–%s", i, ps[i].Plan.Name, ps[i].From, ps[i].To, w.plan, w.from, w.to)
		}
	}
	// A plan taken before the month covers it from its start.
	ps, _ = spans(cat, []plan.Assignment{{Plan: "TEAM", Since: day(1).AddDate(0, -2, 0)}}, oct)
	if len(ps) != 1 || !ps[0].From.Equal(october.start) || !ps[0].To.Equal(october.end) {
		t.Errorf("whole month: %+v", ps)
	}
	if _, err := spans(cat, []plan.Assignment{{Plan: "GONE", Since: day(1)}}, oct); err == nil {
		t.Error("a plan the catalogue lacks was priced")
	}
}

// Pro-rating scales the flat price, the included quantities and fixed
// coupons, and nothing else.
func TestProrateScalesWhatIsMonthly(t *testing.T) {
	t.Parallel()
	p := usage.Pricing{
		FlatPrice: 4900,
		Rates:     map[string]usage.Rate{"x": {UnitSize: usage.QuantityScale, Included: 10 * usage.QuantityScale, Price: 7}},
		Coupons:   []usage.Coupon{{Title: "fixed", Kind: usage.DiscountFixed, Amount: 300}, {Title: "pct", Kind: usage.DiscountPercentage, Amount: 1000}},
	}
	got := prorate(p, money.Ratio(1, 4))
	if got.FlatPrice != 1225 || got.Rates["x"].Included != 2_500_000 || got.Rates["x"].Price != 7 ||
		got.Coupons[0].Amount != 75 || got.Coupons[1].Amount != 1000 {
		t.Fatalf("prorated: %+v", got)
	}
	if p.Rates["x"].Included != 10*usage.QuantityScale || p.Coupons[0].Amount != 300 {
		t.Fatal("prorate changed its input")
	}
}

// An add-on is billed for the time it was active on a billed plan that
// allows it and does not include it.
func TestAddonChargesFollowPlansAndCancellation(t *testing.T) {
	t.Parallel()
	cat, err := plan.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	free, _ := cat.Plan("FREE")
	individual, _ := cat.Plan("INDIVIDUAL")
	team, _ := cat.Plan("TEAM") // includes f5xc_waap_standard
	ps := []planSpan{{free, day(1), day(5)}, {individual, day(5), day(16)}, {team, day(16), october.end}}
	cancelled := day(26)
	sub := subscription.Subscription{Addon: "f5xc_waap_standard", StartedAt: day(2), CancelledAt: &cancelled}
	lines := addonCharges(cat, sub, ps, oct)
	if len(lines) != 1 {
		t.Fatalf("lines: %+v", lines)
	}
	// 11 of 31 days on INDIVIDUAL at 2900 a month.
	if l := lines[0]; l.Amount != money.Ratio(11, 31).Apply(2900) || l.UnitPrice != 2900 || l.Kind != LineAddon {
		t.Errorf("line: %+v", l)
	}
	sub.Addon = "f5xc_synthetic_monitoring_standard"
	lines = addonCharges(cat, sub, ps, oct)
	if len(lines) != 2 || lines[1].Amount != money.Ratio(10, 31).Apply(900) {
		t.Errorf("lines: %+v", lines)
	}
	// A span whose plan does not allow the add-on bills nothing for it,
	// whatever the subscription says (one stored in a race with the plan
	// change, say): CDN Advanced is allowed on TEAM only.
	sub = subscription.Subscription{Addon: "f5xc_content_delivery_network_advanced", StartedAt: day(2)}
	lines = addonCharges(cat, sub, ps, oct)
	if len(lines) != 1 || !lines[0].From.Equal(day(16)) || lines[0].Plan.Name != "TEAM" {
		t.Errorf("an add-on billed on a plan that does not allow it: %+v", lines)
	}
}

func TestBillToPrefersThePrimaryAddress(t *testing.T) {
	t.Parallel()
	methods := []payment.Method{
		{Role: payment.RoleNormal, Contact: payment.Contact{Address1: "2 Side St", City: "Lyon", Country: "FR"}},
		{Role: payment.RolePrimary, Contact: payment.Contact{Address1: "1 Main St", City: "Seattle", StateCode: "WA", ZipCode: "98101", Country: "US"}},
	}
	got := billTo("Acme Corp", "acme", methods)
	want := []string{"1 Main St", "Seattle WA 98101", "US", "Account: acme"}
	if got.Name != "Acme Corp" || len(got.Lines) != len(want) {
		t.Fatalf("bill to: %+v", got)
	}
	for i := range want {
		if got.Lines[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, got.Lines[i], want[i])
		}
	}
	if got := billTo("", "acme", nil); got.Name != "acme" || len(got.Lines) != 1 {
		t.Errorf("no methods: %+v", got)
	}
}
