package server

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// Results served from a cache are shared by every caller that hits the
// entry. These tests send the same read from several goroutines at once, so
// that under the race detector (make race) any caller that writes into a
// cached value fails, and check that every caller got the same answer.

// readers is how many goroutines read at once, and rounds how often each.
const readers, rounds = 8, 5

// concurrentReads sends the request from readers goroutines, rounds times
// each, and fails unless every answer is a 200 with the same body.
func (v *env) concurrentReads(t *testing.T, method, path, tok, body string) {
	t.Helper()
	first := v.call(method, path, tok, body)
	if first.Status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, first.Status, first.Body)
	}
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for range rounds {
				res := v.call(method, path, tok, body)
				if res.Status != http.StatusOK || string(res.Body) != string(first.Body) {
					t.Errorf("%s %s: %d %s, want the first answer %s", method, path, res.Status, res.Body, first.Body)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestConcurrentMonthlyUsageReadsShareTheCachedMonths(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	v.setPlan("acme", "TEAM")
	for _, at := range []time.Time{
		time.Date(2026, 9, 10, 8, 0, 0, 0, time.UTC),
		time.Date(2026, 10, 3, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC),
	} {
		v.ingestOK(reqs("acme", "shop", "web", at, 60_000_000))
	}
	v.concurrentReads(t, http.MethodPost, "/api/web/namespaces/system/monthly_usage", tok, `{}`)
}
