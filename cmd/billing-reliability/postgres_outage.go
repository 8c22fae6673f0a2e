package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"billing-api/internal/harness"
)

// outageLoad is what the clients saw in one phase of the outage.
type outageLoad struct {
	mu sync.Mutex
	// byStatus counts answers (0: transport error or the client's timeout).
	byStatus map[int]int
	// bad503 counts 503s without Retry-After or a schemaErrorType body.
	bad503  int
	slowest time.Duration
}

func (l *outageLoad) add(a answer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byStatus[a.Status]++
	if a.Status == http.StatusServiceUnavailable && (a.RetryAfter == "" || !isSchemaError(a.Body)) {
		l.bad503++
	}
	l.slowest = max(l.slowest, a.Took)
}

func (l *outageLoad) total() int {
	n := 0
	for _, c := range l.byStatus {
		n += c
	}
	return n
}

// postgresOutage runs a server on a scratch PostgreSQL cluster the harness
// created, loads it with writes and reads, crashes the cluster (immediate
// shutdown) for a while, and restarts it: during the outage every answer
// must be a 503 schemaErrorType with Retry-After (reads the replica's
// one-second cache holds included), /readyz must fail, and afterwards the
// server must recover on its own with nothing acknowledged lost. A request
// counts in the phase it was sent in.
func postgresOutage(ctx context.Context, r *runner) ([]figure, error) {
	cluster, err := harness.NewCluster(r.cfg.pgBinDir)
	if err != nil {
		return nil, err
	}
	r.atEnd(func() { _ = cluster.Remove() })
	if err := cluster.Start(30 * time.Second); err != nil {
		return nil, err
	}
	dbURL, err := r.databaseOn(ctx, cluster.URL)
	if err != nil {
		return nil, err
	}
	a, err := r.app(ctx, dbURL, nil)
	if err != nil {
		return nil, err
	}
	_, secret, err := tenant(ctx, a, "rel-outage", "createQuota", "getQuota", "getQuotaLimits")
	if err != nil {
		return nil, err
	}
	_ = a.Close() // the harness's own connections must not outlive the crash
	srv, err := r.server("outage", dbURL, "--log-level", "error")
	if err != nil {
		return nil, err
	}
	auth := tokenAuth(secret)
	var phase atomic.Pointer[outageLoad]
	newPhase := func() *outageLoad { l := &outageLoad{byStatus: map[int]int{}}; phase.Store(l); return l }
	before := newPhase()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var ans answer
				in := phase.Load()
				if w%2 == 0 {
					name := fmt.Sprintf("w%d-%d", w, i)
					ans = call(ctx, http.MethodPost, srv.URL+"/api/web/namespaces/system/quotas", auth, fmt.Sprintf(`{"metadata":{"name":%q},"spec":{}}`, name))
					if ans.Status == http.StatusOK {
						mu.Lock()
						acked = append(acked, name)
						mu.Unlock()
					}
				} else {
					ans = call(ctx, http.MethodGet, srv.URL+"/api/web/namespaces/system/quota/limits", auth, "")
				}
				in.add(ans)
				if ans.Status != http.StatusOK {
					time.Sleep(5 * time.Millisecond) // a client backing off after a refusal, not synchronisation
				}
			}
		}()
	}
	time.Sleep(r.cfg.duration(time.Second, 3*time.Second)) // the load's first phase: the database up

	// The outage: every answer to a request sent after the crash must be a
	// 503, reads the per-replica cache still holds included.
	cluster.Crash()
	crashed := time.Now()
	during := newPhase()
	readyzFailed, _ := until(ctx, 10*time.Second, 10*time.Millisecond, func() bool {
		return call(ctx, http.MethodGet, srv.URL+"/readyz", "", "").Status == http.StatusServiceUnavailable
	})
	outage := r.cfg.duration(3*time.Second, 10*time.Second)
	readyzOK := 0
	for time.Since(crashed) < outage && ctx.Err() == nil {
		if call(ctx, http.MethodGet, srv.URL+"/readyz", "", "").Status == http.StatusOK {
			readyzOK++
		}
		time.Sleep(100 * time.Millisecond) // probing /readyz at a load balancer's pace
	}

	// The database returns; the clients keep going.
	after := newPhase()
	if err := cluster.Start(30 * time.Second); err != nil {
		close(stop)
		wg.Wait()
		return nil, err
	}
	back := time.Now()
	readyAfter, ready := until(ctx, 60*time.Second, 10*time.Millisecond, func() bool {
		return call(ctx, http.MethodGet, srv.URL+"/readyz", "", "").Status == http.StatusOK
	})
	writeAfter, wrote := until(ctx, 60*time.Second, 10*time.Millisecond, func() bool {
		return call(ctx, http.MethodPost, srv.URL+"/api/web/namespaces/system/quotas", auth,
			fmt.Sprintf(`{"metadata":{"name":"probe-%d"},"spec":{}}`, time.Now().UnixNano())).Status == http.StatusOK
	})
	writeAfter += readyAfter
	_ = back
	time.Sleep(r.cfg.duration(time.Second, 2*time.Second)) // the load's last phase: the database back
	close(stop)
	wg.Wait()
	if !ready || !wrote {
		return nil, fmt.Errorf("the server did not recover within a minute of the database's return (ready %v, writing %v); its log:\n%s", ready, wrote, srv.Logs)
	}

	lost := 0
	for _, name := range acked {
		if call(ctx, http.MethodGet, srv.URL+"/api/web/namespaces/system/quotas/"+name, auth, "").Status != http.StatusOK {
			lost++
		}
	}
	other, otherDesc := 0, ""
	for s, n := range during.byStatus {
		if s != http.StatusServiceUnavailable {
			other += n
			otherDesc += fmt.Sprintf(" %d × %d", n, s)
		}
	}
	if other > 0 {
		otherDesc = " (" + otherDesc[1:] + "; server log: " + failures(srv.Logs.String(), 3) + ")"
	}
	afterErrors := 0
	for s, n := range after.byStatus {
		if s >= 500 && s != http.StatusServiceUnavailable || s == 0 {
			afterErrors += n
		}
	}
	return []figure{
		measured("load", fmt.Sprintf("6 clients (quota creates and limit reads); %d requests sent before the outage: %d × 200, %d × 503 (in flight when the database died)",
			before.total(), before.byStatus[http.StatusOK], before.byStatus[http.StatusServiceUnavailable])),
		measured(fmt.Sprintf("answers to requests sent during the %s outage", outage), fmt.Sprintf("%d, of them %d × 503",
			during.total(), during.byStatus[http.StatusServiceUnavailable])),
		mustBe("answers during the outage other than 503 (200s from the cache, other 5xx, hangs, resets)", other, 0, otherDesc),
		mustBe("503s without Retry-After or a schemaErrorType body", during.bad503, 0, ""),
		within("slowest answer during the outage", during.slowest, 2*time.Second),
		within("/readyz failing after the crash", readyzFailed, 2*time.Second),
		mustBe("/readyz probes answered 200 during the outage", readyzOK, 0, ""),
		within("recovery: /readyz 200 after the database accepts connections again", readyAfter, 10*time.Second),
		within("recovery: first write served after the database accepts connections again", writeAfter, 10*time.Second),
		mustBe("transport errors or 5xx other than 503 while recovering", afterErrors, 0, ""),
		mustBe("acknowledged writes lost", lost, 0, fmt.Sprintf("of %d quota objects answered 200", len(acked))),
	}, nil
}

// failures is the server's first n "request failed" log lines (its 500s),
// on one line, for a figure's detail.
func failures(log string, n int) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"request failed"`) && len(out) < n {
			out = append(out, l)
		}
	}
	return strings.Join(out, " | ")
}
