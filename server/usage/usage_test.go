package usage

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"billing-api/server/money"

	"github.com/google/uuid"
)

func TestQuantitiesAreExactMillionths(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]Quantity{
		0: 0, 1: 1_000_000, 0.1: 100_000, 0.0000005: 0, 0.0000015: 2, 0.0000025: 2, 1e9: 1e15, 123.456789: 123_456_789,
	} {
		if got, ok := QuantityOf(in); !ok || got != want {
			t.Errorf("QuantityOf(%v) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []float64{-1, -1e-9, 1e9 + 1, nanValue()} {
		if _, ok := QuantityOf(bad); ok {
			t.Errorf("QuantityOf(%v) accepted", bad)
		}
	}
	for q, want := range map[Quantity]string{0: "0", 1: "0.000001", 1_500_000: "1.5", 10_000_000: "10", 123_456_789: "123.456789"} {
		if got := q.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(q), got, want)
		}
		if back, err := ParseQuantity(want); err != nil || back != q {
			t.Errorf("ParseQuantity(%q) = %d, %v", want, back, err)
		}
	}
	for _, bad := range []string{"", "x", "1.0000001", "-1", "1e30"} {
		if _, err := ParseQuantity(bad); err == nil {
			t.Errorf("ParseQuantity(%q) accepted", bad)
		}
	}
}

func nanValue() float64 { zero := 0.0; return zero / zero }

// Quantities round by money's rule, half to even; people read them
// grouped, whole from 100 units up.
func TestQuantitiesRoundHalfToEven(t *testing.T) {
	t.Parallel()
	for q, want := range map[Quantity]string{
		8_527_777_777_778: "8,527,778", 12_500_000: "12.5", 99_995_000: "100", 1_005_000: "1",
		1_015_000: "1.02", 250_500_000: "250", 0: "0", 10_000_000_000_000: "10,000,000",
	} {
		if got := q.Display(); got != want {
			t.Errorf("Display(%d) = %q, want %q", q, got, want)
		}
	}
	if got := DivDecimal(1_500_000, 1_000_000_000_000, 6); got != "0.000002" { // 1.5e-6 → half to even
		t.Errorf("DivDecimal = %s", got)
	}
	if got := DivDecimal(2_500_000, 1_000_000_000_000, 6); got != "0.000002" {
		t.Errorf("DivDecimal = %s", got)
	}
	if got := DivDecimal(3_000_000, 1_000_000, 6); got != "3" {
		t.Errorf("DivDecimal = %s", got)
	}
}

// The segments of any window cover exactly its hours, each once, from the
// coarsest rollups that fit.
func TestSegmentsCoverTheWindowExactly(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2024, 12, 20, 0, 0, 0, 0, time.UTC)
	for range 500 {
		from := base.Add(time.Duration(r.IntN(24*500)) * time.Hour)
		to := from.Add(time.Duration(1+r.IntN(24*200)) * time.Hour)
		w := Window{From: from, To: to}
		covered := map[time.Time]int{}
		for _, s := range w.Segments() {
			if !s.Level.Bucket(s.From).Equal(s.From) {
				t.Fatalf("%v: segment %+v does not start on a bucket", w, s)
			}
			for b := s.From; b.Before(s.To); {
				next := map[Level]time.Time{LevelHour: b.Add(time.Hour), LevelDay: b.AddDate(0, 0, 1), LevelMonth: b.AddDate(0, 1, 0)}[s.Level]
				for h := b; h.Before(next); h = h.Add(time.Hour) {
					covered[h]++
				}
				b = next
			}
		}
		if len(covered) != w.Hours() {
			t.Fatalf("%v: %d hours covered, want %d", w, len(covered), w.Hours())
		}
		for h, n := range covered {
			if n != 1 || h.Before(w.From) || !h.Before(w.To) {
				t.Fatalf("%v: hour %v covered %d times", w, h, n)
			}
		}
		if len(w.Segments()) > 5 {
			t.Fatalf("%v: %d segments, want at most 5 (hours, days, months, days, hours)", w, len(w.Segments()))
		}
	}
}

func TestWindowsAreAlignedAndBounded(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	w, err := NewWindow(at("2026-11-01T10:30:00+01:00"), at("2026-11-02T00:00:00.000001Z"), "from", "to")
	if err != nil {
		t.Fatal(err)
	}
	if !w.From.Equal(at("2026-11-01T09:00:00Z")) || !w.To.Equal(at("2026-11-02T01:00:00Z")) {
		t.Fatalf("aligned to %v..%v", w.From, w.To)
	}
	if _, err := NewWindow(at("2026-11-02T00:00:00Z"), at("2026-11-02T00:00:00Z"), "from", "to"); err == nil {
		t.Fatal("an empty window was accepted")
	}
	if _, err := NewWindow(at("2025-01-01T00:00:00Z"), at("2026-02-05T01:00:00Z"), "from", "to"); err == nil {
		t.Fatal("a window over 400 days was accepted")
	}
	if _, err := NewWindow(at("2025-01-01T00:00:00Z"), at("2026-02-05T00:00:00Z"), "from", "to"); err != nil {
		t.Fatalf("a 400-day window: %v", err)
	}
	// Its ends must stay in RFC 3339's years once aligned: an answer names them.
	for _, tc := range []struct{ from, to, field string }{
		{"9999-12-31T22:00:00Z", "9999-12-31T23:00:00.000001Z", "to"},
		{"0000-01-01T00:30:00+01:00", "0000-01-01T05:00:00Z", "from"},
	} {
		_, err := NewWindow(at(tc.from), at(tc.to), "from", "to")
		if err == nil || !strings.Contains(err.Error(), tc.field+": must not be") {
			t.Errorf("%s..%s: %v, want an error naming %s", tc.from, tc.to, err, tc.field)
		}
	}
	if _, err := NewWindow(at("9999-12-31T22:00:00Z"), at("9999-12-31T23:00:00Z"), "from", "to"); err != nil {
		t.Fatalf("the last hour of the year 9999: %v", err)
	}
}

func TestBillableUnitsFollowTheVendorRule(t *testing.T) {
	t.Parallel()
	r := Rate{UnitSize: 1_000_000 * QuantityScale, Included: 10_000_000 * QuantityScale, Price: 60}
	for used, want := range map[float64]int64{0: 0, 10_000_000: 0, 10_000_001: 1, 10_999_999: 1, 11_000_000: 1, 11_999_999: 1, 12_000_000: 2, 25_500_000: 15} {
		q, _ := QuantityOf(used)
		if got := BillableUnits(q, r); got != want {
			t.Errorf("%v used: %d billable, want %d", used, got, want)
		}
	}
}

func TestBillTotalsAreTheSumsOfTheirLines(t *testing.T) {
	t.Parallel()
	types := map[string]Type{"a": {Name: "a", Unit: "u"}, "b": {Name: "b", Unit: "u"}}
	rates := map[string]Rate{
		"a": {UsageType: "a", UnitSize: QuantityScale, Price: 5},
		"b": {UsageType: "b", UnitSize: QuantityScale, Included: 10 * QuantityScale, Price: 25},
	}
	p := Pricing{Currency: "USD", FlatPrice: 1900, Rates: rates, Coupons: []Coupon{{Title: "10%", Kind: DiscountPercentage, Amount: 1000}}}
	// a: 5 units → 25 c, 10% = 2.5 → 2 (half to even); b: 15 units, 10 included → 5 × 25 = 125 c,
	// 10% = 12.5 → 12; flat 1900, 10% = 190.
	b := Price(p, types, map[string]Quantity{"a": 5 * QuantityScale, "b": 15 * QuantityScale})
	if b.Subtotal != 1900+25+125 || b.Discount != 190+2+12 || b.Total != 2050-204 {
		t.Fatalf("bill %+v", b)
	}
	// Properties over random bills: every total is the sum of its parts.
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		p.FlatPrice = money.Amount(r.Int64N(100_000))
		p.Coupons = nil
		for range r.IntN(3) {
			if r.IntN(2) == 0 {
				p.Coupons = append(p.Coupons, Coupon{Title: "p", Kind: DiscountPercentage, Amount: int32(1 + r.IntN(10000))})
			} else {
				p.Coupons = append(p.Coupons, Coupon{Title: "f", Kind: DiscountFixed, Amount: int32(1 + r.IntN(500_000))})
			}
		}
		b := Price(p, types, map[string]Quantity{"a": Quantity(r.Int64N(1e12)), "b": Quantity(r.Int64N(1e12)), "c": 7})
		sub, disc := b.Flat, b.FlatDiscount+b.FixedDiscount
		for _, l := range b.Lines {
			sub += l.Amount
			disc += l.Discount
		}
		if sub != b.Subtotal || disc != b.Discount || b.Total != sub-disc || b.Total < 0 {
			t.Fatalf("bill %+v does not add up", b)
		}
		if len(b.Lines) != 3 || b.Lines[2].Priced || b.Lines[2].Amount != 0 {
			t.Fatalf("lines %+v: want a, b and the unpriced c", b.Lines)
		}
	}
	p.BillingDisabled = true
	if b := Price(p, types, map[string]Quantity{"a": 1e12}); b.Total != 0 || b.Lines[0].Billable == 0 {
		t.Fatalf("a plan without billing charged %+v", b)
	}
}

func TestFoldSumsEveryLevelInKeyOrder(t *testing.T) {
	t.Parallel()
	tenant := uuid.New()
	at := time.Date(2026, 10, 31, 23, 59, 59, 999999000, time.UTC)
	s := Series{Namespace: "shop", UsageType: "a", ObjectName: "lb"}
	recs := []Record{
		{TenantID: tenant, ID: "1", Series: s, Quantity: 1, At: at},
		{TenantID: tenant, ID: "2", Series: s, Quantity: 2, At: at.Add(time.Microsecond)}, // 1 November
		{TenantID: tenant, ID: "3", Series: s, Quantity: 4, At: at.Add(-time.Hour), Late: true},
	}
	got := Fold(recs)
	want := map[Level]map[time.Time][2]Quantity{
		LevelHour:  {at.Truncate(time.Hour): {1, 0}, at.Truncate(time.Hour).Add(-time.Hour): {4, 4}, at.Add(time.Microsecond): {2, 0}},
		LevelDay:   {time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC): {5, 4}, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC): {2, 0}},
		LevelMonth: {time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC): {5, 4}, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC): {2, 0}},
	}
	n := 0
	for _, r := range got {
		w, ok := want[r.Level][r.Bucket]
		if !ok || w != [2]Quantity{r.Quantity, r.Late} {
			t.Errorf("unexpected rollup %+v", r)
		}
		n++
	}
	if n != 7 {
		t.Fatalf("%d rollups, want 7", n)
	}
	for i := 1; i < len(got); i++ {
		if compareRollups(got[i-1], got[i]) >= 0 {
			t.Fatal("rollups are not in key order")
		}
	}
}

func TestBreakdownQueriesAreSigned(t *testing.T) {
	t.Parallel()
	k := SigningKey{ID: 3, Secret: []byte("0123456789abcdef0123456789abcdef")}
	q := BreakdownQuery{Tenant: uuid.New(), Series: Series{Namespace: "shop", UsageType: "a", ObjectName: "lb"}, From: 1, To: 7201}
	s := q.encode(k)
	got, payload, sum, ok := decodeUnverified(s)
	if !ok || !verify(k, q.Tenant, payload, sum) || got.Series != q.Series || got.KeyID != 3 || got.From != 1 || got.To != 7201 {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	if strings.Contains(string(payload), q.Tenant.String()) || len(s) > 160 {
		t.Fatalf("the query carries the tenant or is long: %s (%d)", payload, len(s))
	}
	other := SigningKey{ID: 3, Secret: []byte("another secret of thirty-two b..")}
	if verify(other, q.Tenant, payload, sum) || verify(k, uuid.New(), payload, sum) {
		t.Fatal("verified under another key or for another tenant")
	}
	for i := range s {
		b := []byte(s)
		b[i] ^= 1
		if q2, p2, s2, ok := decodeUnverified(string(b)); ok && verify(k, q.Tenant, p2, s2) && q2 == got {
			t.Fatalf("flipping byte %d still verifies", i)
		}
	}
}
