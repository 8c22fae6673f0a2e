package ratelimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"billing-api/server/ratelimit"
	"billing-api/server/ratelimit/redistest"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(msg string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), msg)
}

func open(t *testing.T, cfg ratelimit.Config) (*ratelimit.Shared, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s, err := ratelimit.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, logs
}

func machine(t *testing.T) *ratelimit.Shared {
	t.Helper()
	url := redistest.URL(t)
	s, _ := open(t, ratelimit.Config{URL: url, Prefix: redistest.Prefix(t, url), Timeout: time.Second})
	if !s.Up() {
		t.Fatal("the machine's Redis answered the ping but not the limiter")
	}
	return s
}

// slow is a limit that refills one request a minute: within a test, what a
// bucket holds is its burst alone, however slowly the test runs.
func slow(burst int) ratelimit.Limit { return ratelimit.Limit{PerSecond: 1.0 / 60, Burst: burst} }

func take(t *testing.T, s *ratelimit.Shared, bs ...ratelimit.Bucket) (int, time.Duration) {
	t.Helper()
	refused, retry, err := s.Take(context.Background(), bs)
	if err != nil {
		t.Fatal(err)
	}
	return refused, retry
}

func TestAFreshBucketHoldsItsBurst(t *testing.T) {
	t.Parallel()
	s := machine(t)
	b := ratelimit.Bucket{Key: "a", Limit: slow(5)}
	for i := range 5 {
		if refused, _ := take(t, s, b); refused != -1 {
			t.Fatalf("request %d refused", i+1)
		}
	}
	refused, retry := take(t, s, b)
	if refused != 0 {
		t.Fatalf("the 6th request was taken")
	}
	// One request refills in a minute; the test took some of it.
	if retry <= 50*time.Second || retry > time.Minute {
		t.Fatalf("retry in %s, want just under a minute", retry)
	}
	if n, err := s.Taken(context.Background(), []ratelimit.Bucket{b, {Key: "unused", Limit: slow(5)}}); err != nil || n[0] != 5 || n[1] != 0 {
		t.Fatalf("taken %v %v", n, err)
	}
}

// A request needing two buckets takes from both or neither: refused by the
// second, it leaves the first as it was.
func TestTwoBucketsAreTakenTogetherOrNotAtAll(t *testing.T) {
	t.Parallel()
	s := machine(t)
	wide := ratelimit.Bucket{Key: "tenant", Limit: slow(10)}
	own := ratelimit.Bucket{Key: "namespace", Limit: slow(2)}
	for range 2 {
		if refused, _ := take(t, s, wide, own); refused != -1 {
			t.Fatal("refused within both bursts")
		}
	}
	for range 5 {
		if refused, _ := take(t, s, wide, own); refused != 1 {
			t.Fatalf("refused by %d, want the namespace's bucket (1)", refused)
		}
	}
	n, err := s.Taken(context.Background(), []ratelimit.Bucket{wide, own})
	if err != nil || n[0] != 2 || n[1] != 2 {
		t.Fatalf("taken %v %v: the refusals took from the tenant's bucket", n, err)
	}
}

// A changed limit keeps the requests already spent: raising it helps at
// once, lowering it cannot be dodged.
func TestAChangedLimitKeepsWhatWasSpent(t *testing.T) {
	t.Parallel()
	s := machine(t)
	for range 4 {
		take(t, s, ratelimit.Bucket{Key: "k", Limit: slow(4)})
	}
	raised := ratelimit.Bucket{Key: "k", Limit: ratelimit.Limit{PerSecond: 1.0 / 3600, Burst: 10}}
	allowed := 0
	for range 10 {
		if refused, _ := take(t, s, raised); refused == -1 {
			allowed++
		}
	}
	if allowed != 6 {
		t.Fatalf("after raising the burst from 4 (spent) to 10, %d more allowed, want 6", allowed)
	}
	lowered := ratelimit.Bucket{Key: "k", Limit: slow(3)}
	if refused, _ := take(t, s, lowered); refused != 0 {
		t.Fatal("lowering the limit refilled the bucket")
	}
}

// The rate refills: a bucket of 50 a second lets about 50 more through
// each second after its burst, counted over the measured time.
func TestTheBucketRefillsAtItsRate(t *testing.T) {
	t.Parallel()
	s := machine(t)
	b := ratelimit.Bucket{Key: "r", Limit: ratelimit.Limit{PerSecond: 50, Burst: 5}}
	start := time.Now()
	allowed := 0
	for time.Since(start) < 500*time.Millisecond {
		if refused, _ := take(t, s, b); refused == -1 {
			allowed++
		}
	}
	elapsed := time.Since(start).Seconds()
	most := 5 + 50*elapsed
	if float64(allowed) > most+1 || float64(allowed) < 0.8*most {
		t.Fatalf("%d allowed in %.3fs, want about %.0f", allowed, elapsed, most)
	}
}

// A Redis that stops answering: every check says ErrUnavailable within its
// timeout, one line is logged, and while it is down only one check a probe
// interval tries it; once it is back a probe ends the outage, logged once.
func TestAnOutageFallsBackAndRecovers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s, logs := open(t, ratelimit.Config{URL: srv.URL(), Prefix: redistest.Prefix(t, srv.URL()), Timeout: 50 * time.Millisecond, ProbeEvery: 200 * time.Millisecond})
	b := []ratelimit.Bucket{{Key: "o", Limit: slow(1000)}}
	if _, _, err := s.Take(context.Background(), b); err != nil || !s.Up() {
		t.Fatalf("before the outage: %v", err)
	}
	srv.Stop()
	start := time.Now()
	for range 200 {
		if _, _, err := s.Take(context.Background(), b); !errors.Is(err, ratelimit.ErrUnavailable) {
			t.Fatalf("during the outage: %v", err)
		}
	}
	// 200 checks, of which at most one per probe interval went to Redis,
	// each bounded by the timeout: far below 200 timeouts.
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("200 checks during the outage took %s", took)
	}
	if s.Up() || s.FallbackChecks() < 200 {
		t.Fatalf("up %v, fallbacks %d", s.Up(), s.FallbackChecks())
	}
	if n := logs.count("Redis does not answer"); n != 1 {
		t.Fatalf("the outage was logged %d times:\n%s", n, logs.b.String())
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, err := s.Take(context.Background(), b)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never back: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // waiting for the next probe, bounded above
	}
	if !s.Up() || logs.count("Redis answers again") != 1 || logs.count("Redis does not answer") != 1 {
		t.Fatalf("after the outage: up %v\n%s", s.Up(), logs.b.String())
	}
}

// A Redis that accepts connections and never answers costs a check its
// timeout, never more, and only one check a probe interval pays it.
func TestASilentRedisCostsOneTimeout(t *testing.T) {
	t.Parallel()
	url := redistest.Silent(t)
	s, logs := open(t, ratelimit.Config{URL: url, Timeout: 30 * time.Millisecond, ProbeEvery: time.Hour})
	if s.Up() {
		t.Fatal("a silent Redis counts as up")
	}
	if logs.count("Redis does not answer") != 1 {
		t.Fatalf("logs:\n%s", logs.b.String())
	}
	start := time.Now()
	for range 1000 {
		if _, _, err := s.Take(context.Background(), []ratelimit.Bucket{{Key: "s", Limit: slow(1)}}); !errors.Is(err, ratelimit.ErrUnavailable) {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("1000 checks against a silent Redis took %s: they waited for it", took)
	}
}

func TestARedisKilledAfterStartFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	// Up at start, then killed: the next check fails within its timeout.
	srv := redistest.Start(t)
	s, _ := open(t, ratelimit.Config{URL: srv.URL(), Prefix: "p:", Timeout: 30 * time.Millisecond})
	srv.Stop()
	start := time.Now()
	_, _, err := s.Take(context.Background(), []ratelimit.Bucket{{Key: "s", Limit: slow(1)}})
	if !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the failed check took %s", took)
	}
}

func BenchmarkTake(b *testing.B) {
	url := redistest.URL(b)
	s, err := ratelimit.Open(context.Background(), ratelimit.Config{URL: url, Prefix: redistest.Prefix(b, url), Timeout: time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	bs := []ratelimit.Bucket{{Key: "bench", Limit: ratelimit.Limit{PerSecond: 1e9, Burst: 1e9}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Take(ctx, bs); err != nil {
			b.Fatal(err)
		}
	}
}
