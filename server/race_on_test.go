//go:build race

package server

import "testing"

// skipUnderRace skips a test that checks answers, not concurrency, and
// takes minutes under the race detector: make test runs it on both stores,
// and make race keeps to the tests where goroutines meet.
func skipUnderRace(t *testing.T) {
	t.Helper()
	t.Skip("checks answers, not concurrency: run by make test on both stores, skipped under the race detector")
}
