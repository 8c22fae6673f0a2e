package usage

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
)

// A batch of 1,000 records over 200 series folds into its rollups.
func BenchmarkFold(b *testing.B) {
	tenant := uuid.New()
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	recs := make([]Record, 1000)
	for i := range recs {
		recs[i] = Record{
			TenantID: tenant, ID: fmt.Sprint(i), Quantity: Quantity(i * 1000), At: at.Add(time.Duration(i) * time.Second),
			Series: Series{Namespace: fmt.Sprint("ns-", i%10), UsageType: "lb_http_requests", ObjectName: fmt.Sprint("obj-", i%200)},
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(Fold(recs)) == 0 {
			b.Fatal("nothing folded")
		}
	}
}

// A month of seven usage types priced with a percentage and a fixed coupon.
func BenchmarkPrice(b *testing.B) {
	types := map[string]Type{}
	rates := map[string]Rate{}
	usage := map[string]Quantity{}
	for i := range 7 {
		name := fmt.Sprint("type_", i)
		types[name] = Type{Name: name, Unit: "u"}
		rates[name] = Rate{UsageType: name, UnitSize: QuantityScale, Included: 100 * QuantityScale, Price: 7}
		usage[name] = Quantity(i) * 1000 * QuantityScale
	}
	p := Pricing{Currency: "USD", FlatPrice: 4900, Rates: rates, Coupons: []Coupon{
		{Title: "p", Kind: DiscountPercentage, Amount: 1000}, {Title: "f", Kind: DiscountFixed, Amount: 500},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if Price(p, types, usage).Total <= 0 {
			b.Fatal("no total")
		}
	}
}

// A 90-day window splits into its rollup segments.
func BenchmarkSegments(b *testing.B) {
	w := Window{From: time.Date(2026, 8, 27, 13, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if len(w.Segments()) == 0 {
			b.Fatal("no segments")
		}
	}
}
