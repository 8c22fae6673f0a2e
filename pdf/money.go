package pdf

import (
	"strings"

	"billing-api/server/money"
)

// discountText shows a discount as what it does to the subtotal: a
// discount of 1000 cents reads "-10.00 USD", a negative discount (a
// surcharge) of -500 reads "+5.00 USD", and no discount "0.00 USD".
func discountText(discount money.Amount, currency string) string {
	switch {
	case discount > 0:
		return money.Format(-discount, currency)
	case discount < 0:
		return "+" + strings.TrimPrefix(money.Format(discount, currency), "-")
	default:
		return money.Format(0, currency)
	}
}
