package usage

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"billing-api/server/money"
)

// Quantity is an amount of usage in millionths of its unit. Records are
// rounded to six decimal places (half to even) when they arrive, so rollups
// are integer sums: a rollup equals the sum of its records exactly, in any
// order, on either store.
type Quantity int64

// QuantityScale is how many Quantity steps make one unit.
const QuantityScale = 1_000_000

// MaxRecordQuantity is the largest quantity one record may carry, in units.
// With it, a rollup would need millions of maximal records in one hour of
// one series to leave int64 (and the database refuses that with a 400).
const MaxRecordQuantity = 1e9

// MaxRollupQuantity bounds a stored rollup (the CHECK constraint's value).
const MaxRollupQuantity Quantity = 4_000_000_000_000_000_000

// QuantityOf converts a unit amount to a Quantity, rounding half to even at
// the sixth decimal place. ok is false for NaN, infinities, negative amounts
// and amounts over MaxRecordQuantity.
func QuantityOf(units float64) (q Quantity, ok bool) {
	if math.IsNaN(units) || units < 0 || units > MaxRecordQuantity {
		return 0, false
	}
	return Quantity(math.RoundToEven(units * QuantityScale)), true
}

// Units is q in its unit, as a float64 (exact to the sixth decimal place for
// any quantity under 10^9 units).
func (q Quantity) Units() float64 { return float64(q) / QuantityScale }

// String is q in units as an exact decimal, without trailing zeros.
func (q Quantity) String() string {
	s := strconv.FormatInt(int64(q)/QuantityScale, 10)
	frac := int64(q) % QuantityScale
	if frac == 0 {
		return s
	}
	if frac < 0 {
		frac = -frac
	}
	return s + "." + strings.TrimRight(fmt.Sprintf("%06d", frac), "0")
}

// ParseQuantity reads a decimal number of units exactly (at most six decimal
// places), as the plan catalogue writes included quantities and unit sizes.
func ParseQuantity(s string) (Quantity, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	r.Mul(r, big.NewRat(QuantityScale, 1))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q has more than six decimal places", s)
	}
	if r.Sign() < 0 || r.Num().Cmp(big.NewInt(int64(MaxRollupQuantity))) > 0 {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return Quantity(r.Num().Int64()), nil
}

// DivDecimal is q/by as a decimal with at most places decimals, rounded half
// to even, without trailing zeros. by must be positive.
func DivDecimal(q, by Quantity, places int) string {
	return money.Decimal(big.NewInt(int64(q)), big.NewInt(int64(by)), places)
}

// Display writes q in units for people: thousands grouped, rounded half to
// even to whole units from 100 up and to two decimals below, so an
// allowance pro-rated to 8,527,777.777778 reads "8,527,778". Pricing always
// uses the exact quantity.
func (q Quantity) Display() string {
	places := 2
	if q >= 100*QuantityScale || q <= -100*QuantityScale {
		places = 0
	}
	return money.Group(DivDecimal(q, QuantityScale, places))
}
