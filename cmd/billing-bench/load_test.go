package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunPhase drives a local server briefly: failures are counted and
// quoted, not timed, the header and body arrive, and connections are kept
// alive.
func TestRunPhase(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "APIToken x" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "missing header", http.StatusBadRequest)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"code":"EPERMS","message":"slow down"}`)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	const concurrency = 4
	tg := newTarget(srv.URL, concurrency, http.Header{"Authorization": {"APIToken x"}})
	p := runPhase(context.Background(), tg, func(n uint64) (string, string, []byte) {
		path := "/ok"
		if n%4 == 3 {
			path = "/fail"
		}
		return http.MethodPut, path, []byte(`{}`)
	}, loadConfig{Concurrency: concurrency, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond})

	if p.Requests() < 20 || p.Errors == 0 || p.Errors >= p.Requests()/2 {
		t.Fatalf("%d requests, %d errors: want about one in four failed", p.Requests(), p.Errors)
	}
	if !strings.Contains(p.ErrorSample, "PUT /fail: 429") || !strings.Contains(p.ErrorSample, "slow down") {
		t.Errorf("error sample %q", p.ErrorSample)
	}
	if p.Elapsed != 200*time.Millisecond || p.RPS() != float64(len(p.Latencies))/0.2 {
		t.Errorf("elapsed %v, rps %v for %d successes", p.Elapsed, p.RPS(), len(p.Latencies))
	}
	if n := conns.Load(); n > 2*concurrency {
		t.Errorf("%d connections for %d workers: keep-alive is not working", n, concurrency)
	}
}

// TestRunPhaseWaitsForFirstAnswers gives every worker a first answer that
// takes longer than the warm-up and the measured window together: the
// window opens only once each worker has had one, so it measures the fast
// answers that follow instead of coming out empty.
func TestRunPhaseWaitsForFirstAnswers(t *testing.T) {
	t.Parallel()
	const concurrency, slow = 3, 300 * time.Millisecond
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= concurrency {
			// Stands for a slow first request (a cold batch), not a wait for
			// anything.
			time.Sleep(slow)
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	started := time.Now()
	p := runPhase(context.Background(), newTarget(srv.URL, concurrency, nil), func(uint64) (string, string, []byte) {
		return http.MethodGet, "/", nil
	}, loadConfig{Concurrency: concurrency, Warmup: 10 * time.Millisecond, Duration: 100 * time.Millisecond})
	if len(p.Latencies) == 0 || p.Errors != 0 {
		t.Fatalf("%d answers measured, %d errors: the window opened before the first answers", len(p.Latencies), p.Errors)
	}
	if took := time.Since(started); took < slow+100*time.Millisecond {
		t.Errorf("the phase took %v: its window did not wait for the first answers", took)
	}
	if slowest := slices.Max(p.Latencies); slowest >= slow {
		t.Errorf("a first answer (%v) was measured", slowest)
	}
}
