package usage

import (
	"fmt"
	"time"

	"billing-api/server/fault"
	"billing-api/server/period"
)

// MaxWindow is the longest window a usage query may ask for.
const MaxWindow = 400 * 24 * time.Hour

// Window is a half-open time range [From, To) aligned to whole UTC hours,
// the resolution usage is kept at.
type Window struct {
	From, To time.Time
}

// Answers name a window's ends in RFC 3339, whose years have four digits:
// an aligned window must lie between these.
var (
	earliestStart = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	latestEnd     = time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC)
)

// NewWindow aligns [from, to) outwards to whole hours and checks it: to must
// be after from, the window at most MaxWindow long and within the years 0 to
// 9999. The field names are the request's, for the error.
func NewWindow(from, to time.Time, fromField, toField string) (Window, error) {
	from, to = from.UTC(), to.UTC()
	if !to.After(from) {
		return Window{}, fault.InvalidField(toField, "after", fmt.Sprintf("must be after %s (%s)", fromField, from.Format(time.RFC3339)))
	}
	w := Window{From: from.Truncate(time.Hour), To: to.Truncate(time.Hour)}
	if w.To.Before(to) {
		w.To = w.To.Add(time.Hour)
	}
	if w.From.Before(earliestStart) {
		return Window{}, fault.InvalidField(fromField, "range", "must not be before "+earliestStart.Format(time.RFC3339))
	}
	if w.To.After(latestEnd) {
		return Window{}, fault.InvalidField(toField, "range", "must not be after "+latestEnd.Format(time.RFC3339)+" (windows are widened to whole hours)")
	}
	if w.To.Sub(w.From) > MaxWindow {
		return Window{}, fault.InvalidField(toField, "maxWindow", fmt.Sprintf("the window from %s to %s is longer than %d days",
			fromField, toField, int(MaxWindow/(24*time.Hour))))
	}
	return w, nil
}

// Hours is how many hours the window spans.
func (w Window) Hours() int { return int(w.To.Sub(w.From) / time.Hour) }

// Level is the resolution of a rollup.
type Level int

const (
	LevelHour Level = iota
	LevelDay
	LevelMonth
)

// Bucket is the start of the rollup of level l that holds instant t.
func (l Level) Bucket(t time.Time) time.Time {
	t = t.UTC()
	switch l {
	case LevelDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case LevelMonth:
		return period.Of(t).Start()
	default:
		return t.Truncate(time.Hour)
	}
}

// Segment is a range of rollup buckets of one level: those starting in
// [From, To).
type Segment struct {
	Level    Level
	From, To time.Time
}

// Segments covers the window with as few rollups as possible: whole months
// from the monthly rollups, whole days from the daily ones, the hours at
// either end from the hourly ones. The segments are disjoint and together
// hold exactly the window's usage.
func (w Window) Segments() []Segment {
	var out []Segment
	add := func(l Level, from, to time.Time) {
		if n := len(out); n > 0 && out[n-1].Level == l && out[n-1].To.Equal(from) {
			out[n-1].To = to
			return
		}
		out = append(out, Segment{Level: l, From: from, To: to})
	}
	for c := w.From; c.Before(w.To); {
		switch {
		case period.Of(c).Start().Equal(c) && !period.Of(c).End().After(w.To):
			add(LevelMonth, c, period.Of(c).End())
			c = period.Of(c).End()
		case LevelDay.Bucket(c).Equal(c) && !c.AddDate(0, 0, 1).After(w.To):
			add(LevelDay, c, c.AddDate(0, 0, 1))
			c = c.AddDate(0, 0, 1)
		default:
			add(LevelHour, c, c.Add(time.Hour))
			c = c.Add(time.Hour)
		}
	}
	return out
}
