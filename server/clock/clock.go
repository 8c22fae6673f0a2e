// Package clock is the one time source of billing-api. Every timestamp the
// service stores or returns comes from it: UTC, truncated to microseconds
// (what PostgreSQL keeps), so a create's answer equals a later read of the
// same object from any replica.
package clock

import (
	"sync"
	"time"
)

// Clock returns the current time.
type Clock func() time.Time

// System is the real clock.
func System() time.Time { return Normalize(time.Now()) }

// Normalize is how every time is kept: UTC, microsecond precision.
func Normalize(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Normalized wraps c so its readings are normalized (nil means System).
func Normalized(c Clock) Clock {
	if c == nil {
		return System
	}
	return func() time.Time { return Normalize(c()) }
}

// Manual is a clock moved by hand, for tests: rate limits and expiries are
// observed without sleeping.
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

// NewManual returns a Manual clock reading start.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

// Now is the clock's reading.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
}

// Set moves the clock to t (a replay of past events sets it back, then
// forward).
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = t
}
