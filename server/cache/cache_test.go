package cache

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"billing-api/server/clock"
)

func newTestCache(t *testing.T) (*Cache[string, int], *clock.Manual) {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC))
	return New[string, int](time.Second, clk.Now, func(s string) string { return s }), clk
}

func TestEntriesLiveForTheTTLFromTheirLoad(t *testing.T) {
	t.Parallel()
	c, clk := newTestCache(t)
	loads := 0
	load := func(context.Context) (int, error) { loads++; return loads, nil }
	ctx := context.Background()
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{{0, 1}, {999 * time.Millisecond, 1}, {time.Millisecond, 2}, {500 * time.Millisecond, 2}} {
		clk.Advance(step.advance)
		if got, _ := c.Get(ctx, "k", load); got != step.want {
			t.Fatalf("after +%s: %d, want %d", step.advance, got, step.want)
		}
	}
	// Errors are not kept.
	boom := errors.New("boom")
	if _, err := c.Get(ctx, "e", func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx, "e", func(context.Context) (int, error) { return 7, nil }); got != 7 {
		t.Fatalf("an error was cached: %d", got)
	}
	// Inside a transaction every read loads and nothing is kept.
	if got, _ := c.Get(Fresh(ctx), "k", func(context.Context) (int, error) { return 99, nil }); got != 99 {
		t.Fatalf("fresh read %d", got)
	}
	if got, _ := c.Get(ctx, "k", load); got != 2 {
		t.Fatalf("a fresh read replaced the cached value: %d", got)
	}
}

func TestInvalidationDropsEntriesAndStaleLoads(t *testing.T) {
	t.Parallel()
	c, _ := newTestCache(t)
	ctx := context.Background()
	c.Get(ctx, "a", func(context.Context) (int, error) { return 1, nil })
	c.Get(ctx, "b", func(context.Context) (int, error) { return 2, nil })
	c.Invalidate("a")
	c.InvalidateWhere(func(k string, v int) bool { return v == 2 })
	if c.Len() != 0 {
		t.Fatalf("%d entries left", c.Len())
	}

	// A load that began before an invalidation returns its value to its
	// caller but never stores it, and later callers do not join it.
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan int)
	go func() {
		v, _ := c.Get(ctx, "k", func(context.Context) (int, error) { close(started); <-release; return 1, nil })
		done <- v
	}()
	<-started
	c.Invalidate("k") // a local write happens while the old value is loading
	if v, _ := c.Get(ctx, "k", func(context.Context) (int, error) { return 2, nil }); v != 2 {
		t.Fatalf("a caller after the write joined the older load: %d", v)
	}
	close(release)
	if v := <-done; v != 1 {
		t.Fatalf("the first caller got %d", v)
	}
	if v, _ := c.Get(ctx, "k", func(context.Context) (int, error) { return 3, nil }); v != 2 {
		t.Fatalf("the older load was put back over the newer value: %d", v)
	}
}

// waitingInFlight counts goroutines parked inside singleflight, waiting
// for another caller's load.
func waitingInFlight() int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	count := 0
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "singleflight.(*Group).Do") && strings.Contains(g, "sync.(*WaitGroup).Wait") {
			count++
		}
	}
	return count
}

func TestConcurrentMissesShareOneLoad(t *testing.T) {
	t.Parallel()
	c, _ := newTestCache(t)
	var loads atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	load := func(context.Context) (int, error) {
		if loads.Add(1) == 1 {
			close(started)
		}
		<-release
		return 42, nil
	}
	const callers = 8
	var wg sync.WaitGroup
	results := make(chan int, callers)
	wg.Go(func() { v, _ := c.Get(context.Background(), "k", load); results <- v })
	<-started
	for range callers - 1 {
		wg.Go(func() { v, _ := c.Get(context.Background(), "k", load); results <- v })
	}
	// Release only once every other caller is parked on the first load.
	deadline := time.Now().Add(10 * time.Second)
	for waitingInFlight() < callers-1 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d callers joined the load", waitingInFlight())
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	close(results)
	for v := range results {
		if v != 42 {
			t.Fatalf("a caller got %d", v)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for %d concurrent misses, want 1", n, callers)
	}
}

// One caller giving up does not fail the others sharing its load.
func TestACancelledCallerDoesNotFailTheLoad(t *testing.T) {
	t.Parallel()
	c, _ := newTestCache(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v, err := c.Get(ctx, "k", func(ctx context.Context) (int, error) { return 5, ctx.Err() })
	if err != nil || v != 5 {
		t.Fatalf("%d %v", v, err)
	}
}

// BenchmarkHit is a cached read, what most requests make three of.
func BenchmarkHit(b *testing.B) {
	c := New[string, int](time.Second, clock.System, func(s string) string { return s })
	ctx := context.Background()
	c.Get(ctx, "k", func(context.Context) (int, error) { return 1, nil })
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if v, _ := c.Get(ctx, "k", func(context.Context) (int, error) { return 1, nil }); v != 1 {
				b.Fatal(v)
			}
		}
	})
}
