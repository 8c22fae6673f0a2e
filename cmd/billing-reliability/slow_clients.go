package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"billing-api/server/quota"
)

// The server's connection limits the scenario expects: the defaults of
// `serve` (docs/configuration.md) in the full run; the short run sets
// shorter ones, to finish quickly, and checks those.
type connLimits struct{ header, read time.Duration }

func (r *runner) connLimits() connLimits {
	if r.cfg.short {
		return connLimits{header: 2 * time.Second, read: 4 * time.Second}
	}
	return connLimits{header: 10 * time.Second, read: 60 * time.Second}
}

// closeSlack is how much later than its limit a connection may be closed:
// the server's timer and the scheduler's delay.
const closeSlack = time.Second

// slowSend opens a connection, writes head, then one byte of trickle every
// interval, and returns how long the server took to close the connection
// and the status line it answered first, if any.
func slowSend(ctx context.Context, addr, head, trickle string, interval, limit time.Duration) (time.Duration, string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write([]byte(head)); err != nil {
		return 0, "", err
	}
	closed := make(chan string, 1)
	go func() {
		rd := bufio.NewReader(conn)
		line, _ := rd.ReadString('\n')
		for { // until the server closes the connection
			if _, err := rd.ReadByte(); err != nil {
				break
			}
		}
		closed <- strings.TrimSpace(line)
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case status := <-closed:
			return time.Since(start), status, nil
		case <-tick.C:
			if time.Since(start) > limit {
				return time.Since(start), "", fmt.Errorf("still open after %s", limit)
			}
			_, _ = conn.Write([]byte{trickle[i%len(trickle)]})
		case <-ctx.Done():
			return time.Since(start), "", ctx.Err()
		}
	}
}

// slowClients measures the slow-client defences: a slowloris that never
// finishes its headers, one that never finishes its body, an oversized
// header, and a flood at a tenant's rate limit.
func slowClients(ctx context.Context, r *runner) ([]figure, error) {
	dbURL, err := r.database(ctx)
	if err != nil {
		return nil, err
	}
	a, err := r.app(ctx, dbURL, nil)
	if err != nil {
		return nil, err
	}
	t, secret, err := tenant(ctx, a, "rel-slow")
	if err != nil {
		return nil, err
	}
	const rate, burst = 20, 20
	b := int32(burst)
	if _, err := a.Quotas.SetLimitOverrides(ctx, t.ID, quota.Limits{APIs: map[string]quota.RateLimit{
		"getQuotaLimits": {Rate: rate, Unit: quota.Second, Burst: &b},
	}}); err != nil {
		return nil, err
	}
	lim := r.connLimits()
	var extra []string
	if r.cfg.short {
		extra = []string{"--read-header-timeout", lim.header.String(), "--read-timeout", lim.read.String()}
	}
	srv, err := r.server("slow-clients", dbURL, extra...)
	if err != nil {
		return nil, err
	}
	addr := strings.TrimPrefix(srv.URL, "http://")

	// The two slowloris connections run side by side, with the flood.
	type slow struct {
		took   time.Duration
		status string
		err    error
	}
	var header, body slow
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		header.took, header.status, header.err = slowSend(ctx, addr, "GET /healthz HTTP/1.1\r\nHost: reliability\r\n",
			"X-Slow: 1\r\n", 200*time.Millisecond, lim.header+30*time.Second)
	}()
	go func() {
		defer wg.Done()
		head := "POST /api/web/namespaces/system/quotas HTTP/1.1\r\nHost: reliability\r\nAuthorization: " + tokenAuth(secret) +
			"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
		body.took, body.status, body.err = slowSend(ctx, addr, head, `{"metadata":{"name":"slow"}}`, 200*time.Millisecond, lim.read+30*time.Second)
	}()

	// A header larger than the server accepts (64 KiB by default).
	big := call(ctx, http.MethodGet, srv.URL+"/healthz", "APIToken "+strings.Repeat("x", 128<<10), "")

	// The flood: 16 clients at once against a limit of rate/s with a burst.
	floodFor := r.cfg.duration(2*time.Second, 5*time.Second)
	var mu sync.Mutex
	statuses := map[int]int{}
	noRetryAfter := 0
	floodStart := time.Now()
	stop := floodStart.Add(floodFor)
	var fw sync.WaitGroup
	for range 16 {
		fw.Add(1)
		go func() {
			defer fw.Done()
			for time.Now().Before(stop) && ctx.Err() == nil {
				ans := call(ctx, http.MethodGet, srv.URL+"/api/web/namespaces/system/quota/limits", tokenAuth(secret), "")
				mu.Lock()
				statuses[ans.Status]++
				if ans.Status == http.StatusTooManyRequests && (ans.RetryAfter == "" || !isSchemaError(ans.Body)) {
					noRetryAfter++
				}
				mu.Unlock()
			}
		}()
	}
	fw.Wait()
	flooded := time.Since(floodStart)
	wg.Wait()
	if header.err != nil || body.err != nil {
		return nil, fmt.Errorf("slowloris: headers %v, body %v", header.err, body.err)
	}
	other, fivexx := 0, 0
	for s, n := range statuses {
		switch {
		case s >= 500:
			fivexx += n
		case s != http.StatusOK && s != http.StatusTooManyRequests:
			other += n
		}
	}
	allowed := int(float64(rate)*flooded.Seconds()) + burst
	served := statuses[http.StatusOK]
	limitsFrom := "serve's defaults"
	if r.cfg.short {
		limitsFrom = "set by flag in the short run; the defaults are 10s and 1m"
	}
	return []figure{
		measured("limits under test", fmt.Sprintf("--read-header-timeout %s, --read-timeout %s (%s)", lim.header, lim.read, limitsFrom)),
		within(fmt.Sprintf("slowloris headers (a header line every 200ms, never ending): closed after (answer %q)", header.status), header.took, lim.header+closeSlack),
		within(fmt.Sprintf("slowloris body (a byte every 200ms of 100,000 announced): closed after (answer %q)", body.status), body.took, lim.read+closeSlack),
		mustBe("a 128 KiB header: answered", big.Status, http.StatusRequestHeaderFieldsTooLarge, ""),
		measured(fmt.Sprintf("flood: 16 clients for %s at a limit of %d/s, burst %d", floodFor, rate, burst),
			fmt.Sprintf("%d requests: %d served (%.1f/s), %d answered 429", served+statuses[http.StatusTooManyRequests]+other+fivexx, served,
				float64(served)/flooded.Seconds(), statuses[http.StatusTooManyRequests])),
		atMost(fmt.Sprintf("flood: requests served (rate × %s + burst)", flooded.Round(10*time.Millisecond)), served, allowed),
		mustBe("flood: 5xx answers", fivexx, 0, ""),
		mustBe("flood: answers other than 200 and 429 (0 = a transport error)", other, 0, ""),
		mustBe("flood: 429 answers without Retry-After or schemaErrorType", noRetryAfter, 0, ""),
	}, nil
}
