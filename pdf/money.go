package pdf

import (
	"strconv"
	"strings"
)

// minorDigits is how many decimal digits a currency's minor unit has
// (ISO 4217). Most currencies have two; the few exceptions the billing
// service could plausibly meet are listed, anything unknown gets two.
func minorDigits(currency string) int {
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

// FormatMoney formats an amount given in the currency's minor units with
// thousands separators and the currency code, using integer arithmetic
// only: FormatMoney(123456, "USD") is "1,234.56 USD" and
// FormatMoney(-5, "USD") is "-0.05 USD". An empty currency leaves the code
// off.
func FormatMoney(minor int64, currency string) string {
	// Negate in uint64 so that math.MinInt64 does not overflow.
	if minor < 0 {
		return formatMinor(true, -uint64(minor), currency)
	}
	return formatMinor(false, uint64(minor), currency)
}

// formatMinor is FormatMoney on a magnitude u and its sign.
func formatMinor(neg bool, u uint64, currency string) string {
	digits := minorDigits(currency)
	scale := uint64(1)
	for range digits {
		scale *= 10
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(groupThousands(strconv.FormatUint(u/scale, 10)))
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

// discountText shows a discount as what it does to the subtotal: a
// discount of 1000 cents reads "-10.00 USD", a negative discount (a
// surcharge) of -500 reads "+5.00 USD", and no discount "0.00 USD".
func discountText(discount int64, currency string) string {
	switch {
	case discount > 0:
		return formatMinor(true, uint64(discount), currency)
	case discount < 0:
		return "+" + formatMinor(false, -uint64(discount), currency)
	default:
		return formatMinor(false, 0, currency)
	}
}

// groupThousands inserts a comma every three digits from the right of a
// string of decimal digits.
func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	head := len(digits) % 3
	if head > 0 {
		b.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}
