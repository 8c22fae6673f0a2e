package money

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestFormatUsesTheCurrencysDigits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a        Amount
		currency string
		want     string
	}{
		{123456, "USD", "1,234.56 USD"},
		{-5, "USD", "-0.05 USD"},
		{0, "USD", "0.00 USD"},
		{100, "EUR", "1.00 EUR"},
		{1234, "JPY", "1,234 JPY"},
		{1234, "KWD", "1.234 KWD"},
		{-1234567, "KWD", "-1,234.567 KWD"},
		{999, "", "9.99"},
		{math.MinInt64, "USD", "-92,233,720,368,547,758.08 USD"},
		{math.MaxInt64, "JPY", "9,223,372,036,854,775,807 JPY"},
	} {
		if got := Format(c.a, c.currency); got != c.want {
			t.Errorf("Format(%d, %q) = %q, want %q", c.a, c.currency, got, c.want)
		}
	}
	if Digits("usd") != 2 || Digits("JPY") != 0 || Digits("KWD") != 3 || Digits("XYZ") != 2 {
		t.Error("digits")
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0": "0", "999": "999", "1000": "1,000", "123456": "123,456", "1234567.125": "1,234,567.125",
		"-1000": "-1,000", "-12.5": "-12.5", "100000000": "100,000,000",
	} {
		if got := Group(in); got != want {
			t.Errorf("Group(%q) = %q, want %q", in, got, want)
		}
	}
}

// Half to even, for positive and negative halves alike.
func TestRoundHalfEven(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ num, den, want int64 }{
		{5, 2, 2}, {7, 2, 4}, {-5, 2, -2}, {-7, 2, -4}, {1, 3, 0}, {2, 3, 1}, {-2, 3, -1}, {10, 5, 2}, {0, 7, 0},
	} {
		if got := RoundHalfEven(big.NewInt(c.num), big.NewInt(c.den)).Int64(); got != c.want {
			t.Errorf("%d/%d = %d, want %d", c.num, c.den, got, c.want)
		}
	}
}

func TestRatesApplyExactlyAndRoundOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    Rate
		a    Amount
		want Amount
	}{
		{Ratio(1, 8), 1900, 238},  // 237.5 → 238 (even)
		{Ratio(3, 8), 1900, 712},  // 712.5 → 712 (even), not 713
		{Ratio(1, 3), 1900, 633},  // 633.33…
		{Ratio(2, 3), 1900, 1267}, // 1266.66…
		{Ratio(5, 5), 1900, 1900},
		{Ratio(0, 5), 1900, 0},
		{Percent(1000), 2050, 205},
		{Percent(1235), 250, 31}, // 30.875 → 31
		{Percent(10_000), 77, 77},
		// A microsecond of a 31-day month stays exact: exactly half a
		// unit rounds to even, a hair more rounds up.
		{Ratio(1, 2_678_400_000_000), 1_339_200_000_000, 0},
		{Ratio(1, 2_678_400_000_000), 1_339_200_000_001, 1},
		{Ratio(3, 2_678_400_000_000), 892_800_000_000, 1},
	} {
		if got := c.r.Apply(c.a); got != c.want {
			t.Errorf("%d/%d of %d = %d, want %d", c.r.num, c.r.den, c.a, got, c.want)
		}
	}
	if !Ratio(31, 31).IsOne() || Ratio(30, 31).IsOne() || !Ratio(0, 31).IsZero() {
		t.Error("IsOne / IsZero")
	}
	if got := Ratio(22, 31).Decimal(6); got != "0.709677" {
		t.Errorf("Decimal: %q", got)
	}
	if got := Ratio(31, 31).Decimal(6); got != "1" {
		t.Errorf("Decimal: %q", got)
	}
	if got := Decimal(big.NewInt(-1), big.NewInt(4), 1); got != "-0.2" {
		t.Errorf("Decimal(-1/4, 1) = %q, want -0.2 (half to even)", got)
	}
	if got := Amount(1900).Times(3); got != 5700 {
		t.Errorf("Times: %d", got)
	}
}

// Largest remainder: the parts sum exactly to the total, each within one
// unit of its exact share, the remainders going to the largest fractions.
func TestAllocateByLargestRemainder(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		total   Amount
		weights []int64
		want    []Amount
	}{
		{100, []int64{1, 1, 1}, []Amount{34, 33, 33}},
		{10, []int64{5, 3, 2}, []Amount{5, 3, 2}},
		{7, []int64{2, 3, 0}, []Amount{3, 4, 0}}, // 2.8 and 4.2: the 0.8 gets the unit
		{1, []int64{1, 1}, []Amount{1, 0}},       // a tie: the earliest
		{0, []int64{4, 5}, []Amount{0, 0}},
		{55, []int64{0, 0}, []Amount{0, 0}},
		{-10, []int64{1, 2}, []Amount{-3, -7}},
	} {
		if got := Allocate(c.total, c.weights); !slices.Equal(got, c.want) {
			t.Errorf("Allocate(%d, %v) = %v, want %v", c.total, c.weights, got, c.want)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		weights := make([]int64, 1+r.IntN(8))
		var sum float64
		for i := range weights {
			weights[i] = r.Int64N(4_000_000_000_000_000_000)
			sum += float64(weights[i])
		}
		total := Amount(r.Int64N(1_000_000_000_000))
		got := Allocate(total, weights)
		var given Amount
		for i, g := range got {
			given += g
			if exact := float64(total) * float64(weights[i]) / sum; sum > 0 && math.Abs(float64(g)-exact) > 1.0001+exact*1e-9 {
				t.Fatalf("part %d: %d, exact share %f", i, g, exact)
			}
		}
		if sum > 0 && given != total {
			t.Fatalf("Allocate(%d, %v) sums to %d", total, weights, given)
		}
	}
}
