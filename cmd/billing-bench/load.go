package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is one server under load.
type target struct {
	base   string
	client *http.Client
	// header goes on every request (the server's Authorization).
	header http.Header
}

// newTarget returns a target whose client keeps a connection per worker
// alive between requests and between phases.
func newTarget(base string, concurrency int, header http.Header) *target {
	tr := &http.Transport{
		MaxIdleConns:        2 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &target{base: base, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, header: header}
}

// requestFunc builds the n-th request of a phase: method, path, body (nil
// for none).
type requestFunc func(n uint64) (string, string, []byte)

// phase is what one measured run of one request against one target gave.
// A failed request counts only as an error: answers that fail fast (a 429,
// a 404) would otherwise pass for throughput.
type phase struct {
	// Latencies of the measured requests that succeeded.
	Latencies []time.Duration
	Errors    int
	// ErrorSample describes the first failure.
	ErrorSample string
	// Elapsed is the measured window.
	Elapsed time.Duration
	// CPU is the CPU time the target process used in the measured window
	// (0 when unknown).
	CPU time.Duration
}

// CPUPerRequest is the target's CPU time per successful request.
func (p phase) CPUPerRequest() time.Duration {
	if len(p.Latencies) == 0 {
		return 0
	}
	return p.CPU / time.Duration(len(p.Latencies))
}

// Requests is how many requests were measured, failed ones included.
func (p phase) Requests() int { return len(p.Latencies) + p.Errors }

// RPS is successful requests per second.
func (p phase) RPS() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(len(p.Latencies)) / p.Elapsed.Seconds()
}

// loadConfig is the load's shape.
type loadConfig struct {
	Concurrency int
	// Warmup is the least unmeasured load before the measured window, which
	// opens only once every worker has had an answer too: a request slower
	// than the warm-up (a batch of a thousand records, at the start of a
	// short smoke run) then never leaves the window empty or half warm.
	Warmup   time.Duration
	Duration time.Duration
	// CPU reads the target process's CPU time (nil: not measured).
	CPU func() (time.Duration, error)
	// OnMeasure, when set, runs as the measured window opens, with its
	// length (say, to take a profile over it).
	OnMeasure func(time.Duration)
}

// worker is one client's share of a phase.
type worker struct {
	lat    []time.Duration
	errs   int
	sample string
}

// runPhase keeps cfg.Concurrency requests in flight for the warm-up and
// the measured duration after it. What counts is the requests answered
// within the measured window, so the requests in flight when it opens and
// closes neither inflate nor deflate the rate.
func runPhase(ctx context.Context, t *target, build requestFunc, cfg loadConfig) phase {
	// The window's edges, written before opened is closed and read after.
	var measureFrom, end time.Time
	opened := make(chan struct{})
	isOpen := func() bool {
		select {
		case <-opened:
			return true
		default:
			return false
		}
	}
	var firstAnswers sync.WaitGroup
	firstAnswers.Add(cfg.Concurrency)
	var seq atomic.Uint64
	workers := make([]worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		w.lat = make([]time.Duration, 0, 1024)
		wg.Go(func() {
			answered := false
			defer func() {
				if !answered {
					firstAnswers.Done()
				}
			}()
			for ctx.Err() == nil && (!isOpen() || time.Now().Before(end)) {
				method, path, body := build(seq.Add(1) - 1)
				sent := time.Now()
				err := t.do(ctx, method, path, body)
				done := time.Now()
				if !answered {
					answered = true
					firstAnswers.Done()
				}
				if !isOpen() || done.Before(measureFrom) || !done.Before(end) {
					continue
				}
				if err == nil {
					w.lat = append(w.lat, done.Sub(sent))
					continue
				}
				w.errs++
				if w.sample == "" {
					w.sample = err.Error()
				}
			}
		})
	}
	// The window opens after the warm-up and every worker's first answer
	// (or when the run is interrupted, to let everything end).
	allAnswered := make(chan struct{})
	go func() {
		firstAnswers.Wait()
		close(allAnswered)
	}()
	warm := time.NewTimer(cfg.Warmup)
	select {
	case <-warm.C:
	case <-ctx.Done():
	}
	select {
	case <-allAnswered:
	case <-ctx.Done():
	}
	warm.Stop()
	measureFrom = time.Now()
	end = measureFrom.Add(cfg.Duration)
	close(opened)
	// The target's CPU time over the measured window, read at its edges.
	var cpu time.Duration
	if cfg.OnMeasure != nil {
		go cfg.OnMeasure(cfg.Duration)
	}
	if cfg.CPU != nil {
		if from, err := cfg.CPU(); err == nil {
			closing := time.NewTimer(time.Until(end))
			select {
			case <-closing.C:
			case <-ctx.Done():
			}
			closing.Stop()
			if to, err := cfg.CPU(); err == nil {
				cpu = to - from
			}
		}
	}
	wg.Wait()
	p := phase{Elapsed: cfg.Duration, CPU: cpu}
	for _, w := range workers {
		p.Latencies = append(p.Latencies, w.lat...)
		p.Errors += w.errs
		if p.ErrorSample == "" {
			p.ErrorSample = w.sample
		}
	}
	return p
}

// do sends one request and reads the whole answer, so the connection is
// reused; anything but a 2xx is an error.
func (t *target) do(ctx context.Context, method, path string, body []byte) error {
	return t.send(ctx, method, path, body, io.Discard)
}

// fetch is do, returning the answer's body.
func (t *target) fetch(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var out bytes.Buffer
	err := t.send(ctx, method, path, body, &out)
	return out.Bytes(), err
}

// send sends one request and copies a 2xx answer's body to w.
func (t *target) send(ctx context.Context, method, path string, body []byte, w io.Writer) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, r)
	if err != nil {
		return err
	}
	for k, v := range t.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 == 2 {
		_, err = io.Copy(w, res.Body)
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 300))
	_, _ = io.Copy(io.Discard, res.Body)
	return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(msg))
}

// percentile is the nearest-rank p-th percentile (0 < p <= 1) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(len(sorted))*p)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// median of the values (the mean of the middle two for an even count).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
