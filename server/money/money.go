// Package money is how this service counts money, in one place: amounts in
// the minor units of their currency (cents of USD, yen of JPY, fils of
// KWD), one rounding rule (half to even), exact multiplication by rates,
// and the way amounts and large numbers are written for people. Every
// domain that prices, bills or shows an amount uses it.
package money

import (
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// Amount is a sum of money in the minor units of its currency. Amounts are
// integers; rounding happens once, where a Rate is applied.
type Amount int64

// String is the amount as a decimal integer of minor units, the form the
// API carries money in ("12345").
func (a Amount) String() string { return strconv.FormatInt(int64(a), 10) }

// Times is a × n (n units at the price a). The catalogue's limits keep
// every product the service forms far inside int64.
func (a Amount) Times(n int64) Amount { return a * Amount(n) }

// Digits is how many decimal digits the minor unit of an ISO 4217 currency
// has: 0 for JPY and the other currencies without one, 3 for the dinars
// and rials that have three, 2 for every other (and unknown) code.
func Digits(currency string) int {
	switch strings.ToUpper(currency) {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
		"RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	default:
		return 2
	}
}

// Format writes a in its currency's major units with the currency's digits,
// thousands grouped, and the code: 123456 USD is "1,234.56 USD", -5 USD is
// "-0.05 USD", 1234 JPY is "1,234 JPY", 1234 KWD is "1.234 KWD". An empty
// currency leaves the code off (and counts two digits).
func Format(a Amount, currency string) string {
	digits := Digits(currency)
	// The magnitude in uint64, so that the smallest int64 does not overflow.
	u, neg := uint64(a), a < 0
	if neg {
		u = -u
	}
	scale := uint64(1)
	for range digits {
		scale *= 10
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(Group(strconv.FormatUint(u/scale, 10)))
	if digits > 0 {
		frac := strconv.FormatUint(u%scale, 10)
		b.WriteByte('.')
		b.WriteString(strings.Repeat("0", digits-len(frac)))
		b.WriteString(frac)
	}
	if currency != "" {
		b.WriteByte(' ')
		b.WriteString(currency)
	}
	return b.String()
}

// Group puts a comma between each three digits of a decimal number's whole
// part: "1234567.5" is "1,234,567.5", "-1000" is "-1,000".
func Group(decimal string) string {
	sign := ""
	if strings.HasPrefix(decimal, "-") {
		sign, decimal = "-", decimal[1:]
	}
	whole, frac, hasFrac := strings.Cut(decimal, ".")
	var b strings.Builder
	b.WriteString(sign)
	head := len(whole) % 3
	if head == 0 && len(whole) > 0 {
		head = 3
	}
	b.WriteString(whole[:head])
	for i := head; i < len(whole); i += 3 {
		b.WriteByte(',')
		b.WriteString(whole[i : i+3])
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// RoundHalfEven is num/den rounded to a whole number, half to even (banker's
// rounding): the one rounding rule of this service, for money and for the
// quantities that price it. den must be positive.
func RoundHalfEven(num, den *big.Int) *big.Int {
	q, r := new(big.Int), new(big.Int)
	q.QuoRem(num, den, r) // truncates towards zero
	twice := new(big.Int).Abs(r)
	twice.Lsh(twice, 1)
	switch c := twice.Cmp(den); {
	case c > 0, c == 0 && q.Bit(0) == 1:
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// Rate is an exact non-negative rational number that amounts are multiplied
// by: the part of a month a plan was held, a percentage off. Applying one
// rounds once, half to even.
type Rate struct{ num, den int64 }

// Ratio is the rate num/den (den > 0, 0 ≤ num).
func Ratio(num, den int64) Rate { return Rate{num: num, den: den} }

// Percent is the rate of hundredths of a percent: Percent(1235) is 12.35%.
func Percent(hundredths int64) Rate { return Rate{num: hundredths, den: 10_000} }

// One is the rate that changes nothing.
var One = Rate{num: 1, den: 1}

// IsOne reports whether r changes nothing (a whole month, 100%).
func (r Rate) IsOne() bool { return r.num == r.den }

// IsZero reports whether r takes everything to zero.
func (r Rate) IsZero() bool { return r.num == 0 }

// Apply is a × r, rounded half to even.
func (r Rate) Apply(a Amount) Amount {
	if r.IsOne() {
		return a
	}
	return Amount(r.ApplyInt(int64(a)))
}

// ApplyInt is n × r rounded half to even, for the quantities a rate scales
// alongside an amount (a plan's allowance pro-rated with its price).
func (r Rate) ApplyInt(n int64) int64 {
	if r.IsOne() {
		return n
	}
	return RoundHalfEven(new(big.Int).Mul(big.NewInt(n), big.NewInt(r.num)), big.NewInt(r.den)).Int64()
}

// Float64 is r as the nearest float64 (for a JSON number; amounts are
// never computed from it).
func (r Rate) Float64() float64 { return float64(r.num) / float64(r.den) }

// Decimal writes r with at most places decimals, rounded half to even,
// without trailing zeros: Ratio(22, 31).Decimal(6) is "0.709677".
func (r Rate) Decimal(places int) string {
	return Decimal(big.NewInt(r.num), big.NewInt(r.den), places)
}

// Decimal writes num/den with at most places decimals, rounded half to
// even, without trailing zeros. den must be positive.
func Decimal(num, den *big.Int, places int) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	n := RoundHalfEven(new(big.Int).Mul(num, scale), den)
	neg := n.Sign() < 0
	digits := new(big.Int).Abs(n).String()
	if len(digits) <= places {
		digits = strings.Repeat("0", places-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-places], strings.TrimRight(digits[len(digits)-places:], "0")
	if neg {
		whole = "-" + whole
	}
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

// Allocate splits total among parts in proportion to weights, by largest
// remainder: each part gets the whole part of its exact share, and what is
// left, one unit at a time, goes to the parts with the largest fractions
// (the earliest part on a tie). The parts sum exactly to total. Weights are
// non-negative; when they sum to zero every part is zero (and so is the
// sum: there is nothing to allocate by).
func Allocate[T ~int64](total T, weights []int64) []T {
	out := make([]T, len(weights))
	sum := new(big.Int)
	for _, w := range weights {
		sum.Add(sum, big.NewInt(w))
	}
	if sum.Sign() == 0 || total == 0 {
		return out
	}
	type rest struct {
		i   int
		rem *big.Int
	}
	rests := make([]rest, len(weights))
	given := T(0)
	for i, w := range weights {
		q, r := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(int64(total)), big.NewInt(w)), sum, new(big.Int))
		out[i] = T(q.Int64())
		given += out[i]
		rests[i] = rest{i: i, rem: r.Abs(r)}
	}
	slices.SortStableFunc(rests, func(a, b rest) int { return b.rem.Cmp(a.rem) })
	step := T(1)
	if total < 0 {
		step = -1
	}
	for k := 0; given != total; k++ {
		out[rests[k].i] += step
		given += step
	}
	return out
}
