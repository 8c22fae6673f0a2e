package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"billing-api/server/ratelimit/redistest"
)

// The operation the rate-limit tests hammer (getQuotaLimits: a cached
// read) and the one whose high limit they use to make a replica try Redis.
const (
	limitedPath = "/api/web/namespaces/system/quota/limits"
	probePath   = "/api/web/namespaces/system/quota/usage"
)

// limitedTenant creates the tenant acme with a token and the given API
// limits (--api values of `tenant limits set`), before any server starts.
func limitedTenant(t *testing.T, env []string, apis ...string) string {
	t.Helper()
	mustRun(t, env, "tenant", "create", "acme")
	secret := strings.TrimSpace(mustRun(t, env, "token", "create", "--tenant", "acme", "--name", "ci"))
	args := []string{"tenant", "limits", "set", "acme"}
	for _, a := range apis {
		args = append(args, "--api", a)
	}
	mustRun(t, env, args...)
	return secret
}

// limitClient sends the tests' requests; its timeout bounds every one, so
// a request left hanging fails the test instead of stalling it.
type limitClient struct {
	http   *http.Client
	secret string
}

func newLimitClient(secret string) *limitClient {
	return &limitClient{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 5 * time.Second}, secret: secret}
}

// get answers the status of a GET, or an error (a timeout among them).
func (c *limitClient) get(base, path string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "APIToken "+c.secret)
	res, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

func (c *limitClient) mustGet(t *testing.T, base, path string) int {
	t.Helper()
	status, err := c.get(base, path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", base, path, err)
	}
	if status != http.StatusOK && status != http.StatusTooManyRequests {
		t.Fatalf("GET %s%s: %d", base, path, status)
	}
	return status
}

// metric reads one unlabelled sample from the server's /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s/metrics has no %s", base, name)
	return 0
}

// logged counts the JSON log lines whose msg is msg.
func logged(lr *lineReader, msg string) int {
	n := 0
	for _, line := range strings.Split(lr.all(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			n++
		}
	}
	return n
}

const (
	msgRedisDown = "Redis does not answer: rate limits use this replica's own buckets until it does"
	msgRedisBack = "Redis answers again: rate limits are shared again"
)

// Two server processes with the same Redis: a tenant limited to N requests
// a second, hammered through both for five seconds, is served at most N a
// second plus its burst over the measured time — not N a second per
// replica — and both replicas serve part of it.
func TestTwoServersShareTheRateLimit(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	const rate = 20 // a second; the burst is the rate
	env := storeEnv(t)
	secret := limitedTenant(t, env, fmt.Sprintf("getQuotaLimits=%d/SECOND", rate))
	// A generous timeout: this test is about sharing, and a loaded machine
	// must not turn it into a test of the fallback (checked below).
	shared := []string{"--redis-url", url, "--redis-key-prefix", redistest.Prefix(t, url), "--redis-timeout", "250ms"}
	pa, pb := launchServer(t, env, shared...), launchServer(t, env, shared...)
	a, b := pa.waitServing(t), pb.waitServing(t)
	defer func() { stopProcess(pa); stopProcess(pb) }()
	c := newLimitClient(secret)

	const workers = 4 // per server
	var (
		mu      sync.Mutex
		served  = map[string]int{}
		limited int
		wrong   []string
		wg      sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(5 * time.Second)
	for w := range 2 * workers {
		base := []string{a, b}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				status, err := c.get(base, limitedPath)
				mu.Lock()
				switch {
				case err != nil:
					wrong = append(wrong, err.Error())
				case status == http.StatusOK:
					served[base]++
				case status == http.StatusTooManyRequests:
					limited++
				default:
					wrong = append(wrong, fmt.Sprintf("%s: %d", base, status))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if len(wrong) > 0 {
		t.Fatalf("%d answers neither 200 nor 429, first: %s", len(wrong), wrong[0])
	}
	total := served[a] + served[b]
	allowed := rate*elapsed + rate // the rate over the measured time, plus the burst
	t.Logf("served %d (server A %d, B %d) and refused %d in %.2fs: %.1f/s against a limit of %d/s; at most %.0f allowed",
		total, served[a], served[b], limited, elapsed, float64(total)/elapsed, rate, allowed)
	if float64(total) > 1.1*allowed {
		t.Errorf("served %d, more than %.0f + 10%%: the replicas do not share the bucket", total, allowed)
	}
	if float64(total) < 0.8*allowed || limited == 0 {
		t.Errorf("served %d of %.0f allowed with %d refused: the hammer did not reach the limit", total, allowed, limited)
	}
	if served[a] < total/10 || served[b] < total/10 {
		t.Errorf("served %d by A and %d by B: not split across both", served[a], served[b])
	}
	for _, base := range []string{a, b} {
		if f := metric(t, base, "billing_ratelimit_fallback_checks_total"); f != 0 {
			t.Errorf("%s decided %.0f checks with its own buckets: Redis did not answer within 250ms", base, f)
		}
	}
}

// stopProcess ends a server started with launchServer, by its PID.
func stopProcess(p serverProcess) {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// A replica restarted after the tenant used its bucket does not bring the
// bucket back: the buckets are in Redis, not in the process. (A server
// without Redis starts with full buckets of its own, which is what the
// shared ones prevent.)
func TestARestartedServerDoesNotRefillTheSharedBuckets(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	env := storeEnv(t)
	secret := limitedTenant(t, env, "getQuotaLimits=10/MINUTE")
	shared := []string{"--redis-url", url, "--redis-key-prefix", redistest.Prefix(t, url), "--redis-timeout", "250ms"}
	a, stopA := startServer(t, env, shared...)
	b, stopB := startServer(t, env, shared...)
	defer stopB()
	c := newLimitClient(secret)
	for i := range 10 {
		if status := c.mustGet(t, a, limitedPath); status != http.StatusOK {
			t.Fatalf("request %d of the burst of 10: %d", i+1, status)
		}
	}
	if status := c.mustGet(t, a, limitedPath); status != http.StatusTooManyRequests {
		t.Fatalf("the 11th request in a minute: %d", status)
	}
	stopA()
	a, stopA = startServer(t, env, shared...)
	defer stopA()
	if status := c.mustGet(t, a, limitedPath); status != http.StatusTooManyRequests {
		t.Fatalf("the restarted server answered %d: its restart refilled the bucket", status)
	}
	if status := c.mustGet(t, b, limitedPath); status != http.StatusTooManyRequests {
		t.Fatalf("the other server answered %d", status)
	}
	own, stopOwn := startServer(t, env)
	defer stopOwn()
	if status := c.mustGet(t, own, limitedPath); status != http.StatusOK {
		t.Fatalf("a server without Redis answered %d: its own bucket should start full", status)
	}
}

// Redis stops (a redis-server the test started, killed by its PID): the
// servers answer every request without a 5xx and within the client's
// timeout, each from its own buckets; each logs the outage once and counts
// the checks in its metric. Redis starts again on the same port: within a
// probe interval the servers share its buckets again, and log that once.
func TestRedisOutageFallsBackToEachServersBuckets(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	env := storeEnv(t)
	secret := limitedTenant(t, env, "getQuotaLimits=5/MINUTE", "getQuotaUsage=100000/SECOND")
	// A killed Redis refuses connections at once; the timeout only keeps
	// a busy machine's late answers before the kill from starting an
	// outage of their own (the silent-Redis timeout is tested in
	// server/ratelimit).
	shared := []string{"--redis-url", srv.URL(), "--redis-key-prefix", redistest.Prefix(t, srv.URL()), "--redis-timeout", "250ms"}
	pa, pb := launchServer(t, env, shared...), launchServer(t, env, shared...)
	a, b := pa.waitServing(t), pb.waitServing(t)
	defer func() { stopProcess(pa); stopProcess(pb) }()
	c := newLimitClient(secret)
	// exhaust takes the burst of 5 through base and answers how many it
	// served before the first 429 (at most 10 requests).
	exhaust := func(base string) int {
		t.Helper()
		for i := range 10 {
			if c.mustGet(t, base, limitedPath) == http.StatusTooManyRequests {
				return i
			}
		}
		return 10
	}

	// Shared: what A takes, B cannot.
	if n := exhaust(a); n != 5 {
		t.Fatalf("A served %d of a burst of 5", n)
	}
	if status := c.mustGet(t, b, limitedPath); status != http.StatusTooManyRequests {
		t.Fatalf("B answered %d after A took the shared bucket", status)
	}

	srv.Stop()
	var slowest time.Duration
	requests := 0
	for _, base := range []string{a, b} {
		for range 50 {
			begin := time.Now()
			c.mustGet(t, base, probePath) // 200 or 429, never a 5xx; bounded by the client timeout
			slowest = max(slowest, time.Since(begin))
			requests++
		}
	}
	// Each server now decides with its own buckets, which neither used:
	// each serves its own burst of 5.
	for _, base := range []string{a, b} {
		if n := exhaust(base); n != 5 {
			t.Fatalf("%s served %d during the outage, want its own burst of 5", base, n)
		}
	}
	for _, p := range []serverProcess{pa, pb} {
		if n := logged(p.logs, msgRedisDown); n != 1 {
			t.Fatalf("the outage was logged %d times:\n%s", n, p.logs.all())
		}
	}
	for _, base := range []string{a, b} {
		if up, f := metric(t, base, "billing_ratelimit_redis_up"), metric(t, base, "billing_ratelimit_fallback_checks_total"); up != 0 || f < 50 {
			t.Fatalf("%s during the outage: redis_up %.0f, fallback checks %.0f", base, up, f)
		}
	}
	t.Logf("during the outage: %d requests, the slowest answered in %s", requests, slowest.Round(time.Millisecond))

	srv.Restart() // empty: no persistence
	restarted := time.Now()
	for _, base := range []string{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for metric(t, base, "billing_ratelimit_redis_up") != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s never went back to Redis", base)
			}
			c.mustGet(t, base, probePath)     // lets the server probe Redis
			time.Sleep(20 * time.Millisecond) // waiting for the next probe, bounded above
		}
	}
	t.Logf("both servers shared Redis's buckets again %s after it restarted", time.Since(restarted).Round(time.Millisecond))
	// Shared again: the restarted Redis holds a fresh bucket, which A takes.
	if n := exhaust(a); n != 5 {
		t.Fatalf("A served %d after the outage, want the shared burst of 5", n)
	}
	if status := c.mustGet(t, b, limitedPath); status != http.StatusTooManyRequests {
		t.Fatalf("B answered %d after A took the shared bucket again", status)
	}
	for _, p := range []serverProcess{pa, pb} {
		if down, back := logged(p.logs, msgRedisDown), logged(p.logs, msgRedisBack); down != 1 || back != 1 {
			t.Fatalf("logged the outage %d times and the recovery %d times:\n%s", down, back, p.logs.all())
		}
	}
}
