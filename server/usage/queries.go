package usage

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/period"
	"billing-api/server/tenancy"
)

// DetailLine is one line of usage_details: a series' total over the window.
type DetailLine struct {
	Series
	Unit     string
	Quantity Quantity
	Window   Window
	// Query is the signed hourly_breakdown_query for the line.
	Query string
}

// Details sums usage per series over [from, to) (default: this month so
// far): the whole tenant when asked in system, else the namespace.
func (s *Service) Details(ctx context.Context, p tenancy.Principal, namespace string, from, to *time.Time) ([]DetailLine, error) {
	w, err := MonthSoFar(s.now(), from, to, "from", "to")
	if err != nil {
		return nil, err
	}
	return s.details.Get(ctx, keyOf(p.TenantID, scope(namespace), w), func(ctx context.Context) ([]DetailLine, error) {
		return s.loadDetails(ctx, p.TenantID, scope(namespace), w)
	})
}

func (s *Service) loadDetails(ctx context.Context, tenantID uuid.UUID, scope string, w Window) ([]DetailLine, error) {
	sums, err := s.store.SumSeries(ctx, tenantID, scope, s.segments(w), AllUsage)
	if err != nil {
		return nil, err
	}
	sign, err := s.signer(ctx)
	if err != nil {
		return nil, err
	}
	lines := make([]DetailLine, 0, len(sums))
	for series, q := range sums {
		lines = append(lines, DetailLine{
			Series: series, Unit: s.types[series.UsageType].Unit, Quantity: q, Window: w,
			Query: sign(BreakdownQuery{Tenant: tenantID, Series: series, From: w.From.Unix(), To: w.To.Unix()}),
		})
	}
	slices.SortFunc(lines, func(a, b DetailLine) int {
		return cmp.Or(strings.Compare(a.UsageType, b.UsageType), strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.ObjectName, b.ObjectName))
	})
	return lines, nil
}

// MonthSoFar checks an optional [from, to) a query asks for (named
// fromField and toField in errors); missing ends default to the start of
// now's month and now. A defaulted end never makes the window empty: at the
// month's first instant the month so far is its first hour.
func MonthSoFar(now time.Time, from, to *time.Time, fromField, toField string) (Window, error) {
	f, t := period.Of(now).Start(), now
	if from != nil {
		f = *from
	}
	if to != nil {
		t = *to
	} else if !t.After(f) && from == nil {
		t = f.Add(time.Microsecond)
	}
	return NewWindow(f, t, fromField, toField)
}

// HourlyPage is how many hourly items one hourly_usage_details answer holds
// at most (a 31-day month).
const HourlyPage = 744

// HourlyItem is one hour of one series.
type HourlyItem struct {
	Start    time.Time
	Unit     string
	Quantity Quantity
}

// HourlyPageResult is one page of a line's hours.
type HourlyPageResult struct {
	Series Series
	Items  []HourlyItem
	// Next is the query for the following page, "" after the last.
	Next string
}

// Hourly returns the hours with usage of the line a breakdown query names,
// oldest first, a page at a time.
func (s *Service) Hourly(ctx context.Context, p tenancy.Principal, namespace, query string) (HourlyPageResult, error) {
	items, next, series, err := s.hourly(ctx, p, namespace, query)
	return HourlyPageResult{Series: series, Items: items, Next: next}, err
}

func (s *Service) hourly(ctx context.Context, p tenancy.Principal, namespace, query string) (items []HourlyItem, next string, series Series, err error) {
	q, err := s.openQuery(ctx, p.TenantID, query)
	if err != nil {
		return nil, "", series, err
	}
	series = q.Series
	if sc := scope(namespace); (sc != "" && sc != q.Namespace) || !p.MayAccessNamespace(q.Namespace) {
		return nil, "", series, fault.NotFoundf("no such usage line in namespace %q", namespace)
	}
	w := q.Window()
	from := w.From.Add(time.Duration(q.Offset) * time.Hour)
	rows, err := s.store.HourlySeries(ctx, p.TenantID, q.Series, from, w.To, HourlyPage+1)
	if err != nil {
		return nil, "", series, err
	}
	if len(rows) > HourlyPage {
		rows = rows[:HourlyPage]
		sign, err := s.signer(ctx)
		if err != nil {
			return nil, "", series, err
		}
		nq := q
		nq.Offset = int(rows[len(rows)-1].Bucket.Add(time.Hour).Sub(w.From) / time.Hour)
		next = sign(nq)
	}
	unit := s.types[q.UsageType].Unit
	items = make([]HourlyItem, len(rows))
	for i, r := range rows {
		items[i] = HourlyItem{Start: r.Bucket, Unit: unit, Quantity: r.Quantity}
	}
	return items, next, series, nil
}

// SummaryItem is one usage type's total over a window, for usage_summary.
type SummaryItem struct {
	Type     Type
	Quantity Quantity
	// Billable is the quantity in billable units (the plan's unit size), as
	// an exact decimal; BillableUnit names the unit.
	Billable     string
	BillableUnit string
}

// Summary sums usage per usage type over a window whose ends are RFC 3339
// times or Unix timestamps. An end left out ("", as proto JSON writes an
// unset string) defaults as usage_details' window does (MonthSoFar): the
// start of the running month, and now.
func (s *Service) Summary(ctx context.Context, p tenancy.Principal, start, end string) ([]SummaryItem, Window, error) {
	var v fault.Violations
	// An end left out, or empty, takes MonthSoFar's default.
	parse := func(field, raw string) *time.Time {
		if raw == "" {
			return nil
		}
		t, err := parseQueryTime(raw)
		if err != nil {
			v.Add(field, "query_time", "must be an RFC 3339 time or a Unix timestamp in seconds")
		}
		return &t
	}
	from, to := parse("start_time", start), parse("end_time", end)
	if err := v.Err(); err != nil {
		return nil, Window{}, err
	}
	w, err := MonthSoFar(s.now(), from, to, "start_time", "end_time")
	if err != nil {
		return nil, Window{}, err
	}
	pr, err := s.pricing(ctx, p.TenantID)
	if err != nil {
		return nil, Window{}, err
	}
	sums, err := s.sums.Get(ctx, keyOf(p.TenantID, "", w), func(ctx context.Context) (map[string]Quantity, error) {
		return s.store.SumTypes(ctx, p.TenantID, s.segments(w), AllUsage)
	})
	if err != nil {
		return nil, Window{}, err
	}
	items := make([]SummaryItem, 0, len(sums))
	for name, q := range sums {
		t, ok := s.types[name]
		if !ok {
			t = Type{Name: name, Service: "unknown", DisplayName: name}
		}
		it := SummaryItem{Type: t, Quantity: q, Billable: q.String(), BillableUnit: t.Unit}
		if r, rated := pr.Rates[name]; rated {
			it.Billable, it.BillableUnit = DivDecimal(q, r.UnitSize, 6), r.BillableUnit
		}
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b SummaryItem) int {
		return strings.Compare(a.Type.Service+"\x00"+a.Type.Name, b.Type.Service+"\x00"+b.Type.Name)
	})
	return items, w, nil
}

// parseQueryTime reads an RFC 3339 time or a Unix timestamp in seconds
// (fractions allowed).
func parseQueryTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
}

// segments covers w with rollups. No record is later than the data horizon
// (the clock plus MaxLead: ingestion refuses later ones), so a window that
// reaches past it holds the same usage as one running on to the end of its
// last month — which reads one monthly rollup per series where the exact
// window would read a day's and an hour's each (month to date, say).
func (s *Service) segments(w Window) []Segment {
	if horizon := s.now().Add(MaxLead); !w.To.Before(horizon) {
		if m := period.Of(w.To); !m.Start().Equal(w.To) {
			w.To = m.End()
		}
	}
	return w.Segments()
}
