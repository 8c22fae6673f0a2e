package usage

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"billing-api/server/period"
)

// Limits of ingestion.
const (
	MaxBatchRecords = 10_000
	MaxIDLength     = 128
	MaxObjectName   = 256
	// MaxLead is how far ahead of the server's clock a record may be: clock
	// skew, not more.
	MaxLead = 5 * time.Minute
	// MaxAge is how far back a record may be: older usage cannot be billed
	// or shown by any window that ends in the present.
	MaxAge = 2 * 366 * 24 * time.Hour
)

// RecordInput is one usage record as an operator sends it.
type RecordInput struct {
	ID         string
	Tenant     string
	Namespace  string
	UsageType  string
	ObjectName string
	Unit       string
	Quantity   float64
	Timestamp  time.Time
}

// Record is a checked usage record, as stored.
type Record struct {
	TenantID uuid.UUID
	ID       string
	Series
	Unit     string
	Quantity Quantity
	At       time.Time
	// Late marks a record for a month the tenant has already been invoiced
	// for: kept and shown, never billed into that invoice.
	Late bool
}

// Month is the record's billing month.
func (r Record) Month() period.Month { return period.Of(r.At) }

// Rollup is a sum of records: one series at one level and bucket.
type Rollup struct {
	TenantID uuid.UUID
	Level    Level
	Bucket   time.Time
	Series
	Quantity Quantity
	// Late is the part of Quantity that arrived after its month was invoiced.
	Late Quantity
}

// Fold sums records into rollup increments at every level, sorted by key,
// so concurrent batches update shared rollups in one order.
func Fold(recs []Record) []Rollup {
	type key struct {
		tenant uuid.UUID
		level  Level
		bucket int64
		Series
	}
	sums := make(map[key]*Rollup, len(recs))
	for _, r := range recs {
		for _, l := range []Level{LevelHour, LevelDay, LevelMonth} {
			b := l.Bucket(r.At)
			k := key{r.TenantID, l, b.Unix(), r.Series}
			s := sums[k]
			if s == nil {
				s = &Rollup{TenantID: r.TenantID, Level: l, Bucket: b, Series: r.Series}
				sums[k] = s
			}
			s.Quantity += r.Quantity
			if r.Late {
				s.Late += r.Quantity
			}
		}
	}
	ptrs := make([]*Rollup, 0, len(sums))
	for _, s := range sums {
		ptrs = append(ptrs, s)
	}
	slices.SortFunc(ptrs, func(a, b *Rollup) int { return compareRollups(*a, *b) })
	out := make([]Rollup, len(ptrs))
	for i, p := range ptrs {
		out[i] = *p
	}
	return out
}

// compareRollups orders rollups by key: tenant, level, bucket, usage type,
// namespace, object.
func compareRollups(a, b Rollup) int {
	if c := bytes.Compare(a.TenantID[:], b.TenantID[:]); c != 0 {
		return c
	}
	if a.Level != b.Level {
		return cmp.Compare(a.Level, b.Level)
	}
	if c := a.Bucket.Compare(b.Bucket); c != 0 {
		return c
	}
	if a.UsageType != b.UsageType {
		return strings.Compare(a.UsageType, b.UsageType)
	}
	if a.Namespace != b.Namespace {
		return strings.Compare(a.Namespace, b.Namespace)
	}
	return strings.Compare(a.ObjectName, b.ObjectName)
}

// checkText reports what is wrong with a name-like field, or "".
func checkText(s string, max int) string {
	switch {
	case s == "":
		return "is required"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("must be at most %d characters", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
	}
	return ""
}
