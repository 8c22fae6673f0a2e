package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"billing-api/internal/harness"
	"billing-api/server/quota"
)

// redisServer is a Redis the harness started on a free loopback port, with
// no persistence: the one it may kill, never the machine's own.
type redisServer struct {
	proc *harness.Process
	port int
}

func (r *runner) startRedis(port int) (*redisServer, error) {
	p, err := harness.Start("redis", r.cfg.redisServer, []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "yes"}, harness.CleanEnv(), "", 0)
	if err != nil {
		return nil, err
	}
	r.atEnd(p.Kill)
	rs := &redisServer{proc: p, port: port}
	if _, ok := until(context.Background(), 10*time.Second, 10*time.Millisecond, func() bool { _, err := rs.keys(); return err == nil }); !ok {
		return nil, fmt.Errorf("the harness's Redis did not answer within 10s; its log:\n%s", p.Logs)
	}
	return rs, nil
}

// keys is DBSIZE, asked in Redis's own protocol: how many keys (buckets)
// the limiter has written.
func (rs *redisServer) keys() (int, error) {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", rs.port), time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("*1\r\n$6\r\nDBSIZE\r\n")); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, ":") {
		return 0, fmt.Errorf("DBSIZE answered %q: %v", line, err)
	}
	return strconv.Atoi(strings.TrimSpace(line[1:]))
}

// supportsFlag reports whether `billing-api serve --help` lists flag.
func (r *runner) supportsFlag(flag string) bool {
	out, _ := exec.Command(r.cfg.serverBinary, "serve", "--help").CombinedOutput()
	return strings.Contains(string(out), flag+" ")
}

// redisOutage runs a server whose rate limits live in a Redis the harness
// started, loads a rate-limited operation, kills Redis (SIGKILL) and later
// starts it again on the same port: no answer may be a 5xx or hang, the
// server must fall back to its own buckets at once and return to the
// shared ones once Redis is back (seen as the limiter writing keys again).
func redisOutage(ctx context.Context, r *runner) ([]figure, error) {
	if !r.supportsFlag("--redis-url") {
		return []figure{measured("not available", "the server binary has no --redis-url flag (shared rate limits, issue 19 section 2, are not in this build)")}, nil
	}
	if _, err := exec.LookPath(r.cfg.redisServer); err != nil {
		return nil, fmt.Errorf("--redis-server: %w", err)
	}
	port, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	rs, err := r.startRedis(port)
	if err != nil {
		return nil, err
	}
	dbURL, err := r.database(ctx)
	if err != nil {
		return nil, err
	}
	a, err := r.app(ctx, dbURL, nil)
	if err != nil {
		return nil, err
	}
	t, secret, err := tenant(ctx, a, "rel-redis")
	if err != nil {
		return nil, err
	}
	const rate = 200
	burst := int32(rate)
	if _, err := a.Quotas.SetLimitOverrides(ctx, t.ID, quota.Limits{APIs: map[string]quota.RateLimit{
		"getQuotaLimits": {Rate: rate, Unit: quota.Second, Burst: &burst},
	}}); err != nil {
		return nil, err
	}
	srv, err := r.server("redis-limited", dbURL, "--redis-url", fmt.Sprintf("redis://127.0.0.1:%d/0", port))
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	type window struct {
		byStatus map[int]int
		slowest  time.Duration
	}
	cur := &window{byStatus: map[int]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ans := call(ctx, http.MethodGet, srv.URL+"/api/web/namespaces/system/quota/limits", tokenAuth(secret), "")
				mu.Lock()
				cur.byStatus[ans.Status]++
				cur.slowest = max(cur.slowest, ans.Took)
				mu.Unlock()
			}
		}()
	}
	swap := func() *window {
		mu.Lock()
		defer mu.Unlock()
		w := cur
		cur = &window{byStatus: map[int]int{}}
		return w
	}
	time.Sleep(r.cfg.duration(time.Second, 3*time.Second)) // the load with Redis up
	before := swap()
	keysBefore, _ := rs.keys()
	rs.proc.Kill()
	time.Sleep(r.cfg.duration(3*time.Second, 10*time.Second)) // the outage, under load
	during := swap()
	rs, err = r.startRedis(port)
	if err != nil {
		close(stop)
		wg.Wait()
		return nil, err
	}
	back, recovered := until(ctx, 60*time.Second, 10*time.Millisecond, func() bool { n, err := rs.keys(); return err == nil && n > 0 })
	time.Sleep(r.cfg.duration(time.Second, 2*time.Second))
	close(stop)
	wg.Wait()
	after := swap()
	bad := func(w *window) int {
		n := 0
		for s, c := range w.byStatus {
			if s >= 500 || s == 0 {
				n += c
			}
		}
		return n
	}
	figs := []figure{
		measured("load", fmt.Sprintf("4 clients on a limit of %d/s; with Redis up: %d × 200, %d × 429, %d keys in Redis",
			rate, before.byStatus[http.StatusOK], before.byStatus[http.StatusTooManyRequests], keysBefore)),
		mustBe("5xx or transport errors during the outage", bad(during), 0, fmt.Sprintf("(%d × 200, %d × 429)", during.byStatus[http.StatusOK], during.byStatus[http.StatusTooManyRequests])),
		within("fallback: slowest answer during the outage", during.slowest, time.Second),
		mustBe("5xx or transport errors after Redis returned", bad(after)+bad(before), 0, ""),
	}
	if !recovered {
		return append(figs, figure{What: "recovery: the shared buckets used again", Value: "not within 60s", Want: "≤ 10s"}), nil
	}
	return append(figs, within("recovery: the shared buckets written again after Redis accepts connections", back, 10*time.Second)), nil
}
