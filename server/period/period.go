// Package period is the billing period: a calendar month in UTC. Every
// domain that bills, meters by month or shows a month uses Month, so months
// are computed, compared and written one way. No HTTP and no SQL here.
package period

import (
	"cmp"
	"fmt"
	"time"
)

// Layout writes a month as the operator API, the CLI and invoice numbers
// show it: 2026-10.
const Layout = "2006-01"

// Month is one calendar month in UTC. It is a small comparable value: use it
// as a map key to join months (a time.Time key matches only while every
// producer remembers to convert to UTC).
type Month struct {
	year  int
	month time.Month
}

// Of is the month that holds instant t (in UTC).
func Of(t time.Time) Month {
	t = t.UTC()
	return Month{year: t.Year(), month: t.Month()}
}

// New is the given month of the given year.
func New(year int, month time.Month) Month {
	return Of(time.Date(year, month, 1, 0, 0, 0, 0, time.UTC))
}

// Parse reads a month written as Layout ("2026-10").
func Parse(s string) (Month, error) {
	t, err := time.Parse(Layout, s)
	if err != nil {
		return Month{}, fmt.Errorf("%q is not a calendar month as YYYY-MM", s)
	}
	return Of(t), nil
}

// FromUnix is the month starting at Unix second sec (the form the store
// keys months by).
func FromUnix(sec int64) Month { return Of(time.Unix(sec, 0)) }

// Start is the month's first instant.
func (m Month) Start() time.Time { return time.Date(m.year, m.month, 1, 0, 0, 0, 0, time.UTC) }

// End is the first instant after the month (the next month's Start).
func (m Month) End() time.Time { return m.Start().AddDate(0, 1, 0) }

// Unix is the month's Start as Unix seconds.
func (m Month) Unix() int64 { return m.Start().Unix() }

// Next and Prev are the months after and before m.
func (m Month) Next() Month { return Of(m.End()) }
func (m Month) Prev() Month { return Of(m.Start().AddDate(0, -1, 0)) }

// Add is the month n months after m (before it for negative n).
func (m Month) Add(n int) Month { return Of(m.Start().AddDate(0, n, 0)) }

// Contains reports whether instant t falls in the month.
func (m Month) Contains(t time.Time) bool { return Of(t) == m }

// Before and After order months.
func (m Month) Before(o Month) bool { return m.Compare(o) < 0 }
func (m Month) After(o Month) bool  { return m.Compare(o) > 0 }

// Compare is -1, 0 or +1 as m is before, the same as or after o.
func (m Month) Compare(o Month) int {
	return cmp.Or(cmp.Compare(m.year, o.year), cmp.Compare(m.month, o.month))
}

// IsZero reports whether m is the zero Month (no month at all).
func (m Month) IsZero() bool { return m.year == 0 && m.month == 0 }

// String writes the month as Layout: 2026-10.
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.year, int(m.month)) }

// Year and Number are the month's year and its number in the year (1-12).
func (m Month) Year() int   { return m.year }
func (m Month) Number() int { return int(m.month) }
