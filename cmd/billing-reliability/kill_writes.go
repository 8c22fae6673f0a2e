package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"billing-api/internal/harness"
)

// writeLoad runs workers calling send(worker, i) until stop is closed;
// send reports whether the write was acknowledged.
func writeLoad(workers int, stop <-chan struct{}, send func(w, i int) bool) (wait func(), acked *atomic.Int64) {
	acked = &atomic.Int64{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if send(w, i) {
					acked.Add(1)
				}
			}
		}()
	}
	return wg.Wait, acked
}

// killUnderLoad lets load run on a server for warm, SIGKILLs the server
// while requests are in flight, and stops the load once the kill has
// landed. It returns when every worker has stopped.
func killUnderLoad(ctx context.Context, srv *harness.Process, warm time.Duration, start func(stop <-chan struct{}) (wait func())) {
	stop := make(chan struct{})
	wait := start(stop)
	select {
	case <-time.After(warm):
	case <-ctx.Done():
	}
	srv.Kill()
	close(stop)
	wait()
}

// killDuringQuotaWrites creates quota objects from several clients, kills
// the server (SIGKILL) in the middle, restarts it, and reads back every
// object whose create was answered 200: none may be missing. Kill and
// restart repeat (rounds).
func killDuringQuotaWrites(ctx context.Context, r *runner) ([]figure, error) {
	dbURL, err := r.database(ctx)
	if err != nil {
		return nil, err
	}
	a, err := r.app(ctx, dbURL, nil)
	if err != nil {
		return nil, err
	}
	_, secret, err := tenant(ctx, a, "rel-quota", "createQuota", "getQuota")
	if err != nil {
		return nil, err
	}
	auth := tokenAuth(secret)
	rounds, workers := r.cfg.scale(2, 5), 8
	warm := r.cfg.duration(1500*time.Millisecond, 4*time.Second)
	var mu sync.Mutex
	var ackedNames []string
	var inFlightAtKill atomic.Int64
	srv, err := r.server("quota-writer-0", dbURL)
	if err != nil {
		return nil, err
	}
	for round := range rounds {
		base := srv.URL
		killUnderLoad(ctx, srv, warm, func(stop <-chan struct{}) func() {
			wait, _ := writeLoad(workers, stop, func(w, i int) bool {
				name := fmt.Sprintf("r%d-w%d-%d", round, w, i)
				body := fmt.Sprintf(`{"metadata":{"name":%q,"labels":{"round":"r%d"}},"spec":{"object_limits":{"origin_pool":{"maximum":%d}}}}`, name, round, i%100+1)
				ans := call(ctx, http.MethodPost, base+"/api/web/namespaces/system/quotas", auth, body)
				if ans.Status == http.StatusOK {
					mu.Lock()
					ackedNames = append(ackedNames, name)
					mu.Unlock()
					return true
				}
				if ans.Status == 0 {
					inFlightAtKill.Add(1)
					<-stop // the server is gone: wait for the harness to notice
				}
				return false
			})
			return wait
		})
		if srv, err = r.server(fmt.Sprintf("quota-writer-%d", round+1), dbURL); err != nil {
			return nil, err
		}
	}
	lost := 0
	for _, name := range ackedNames {
		ans := call(ctx, http.MethodGet, srv.URL+"/api/web/namespaces/system/quotas/"+name, auth, "")
		if ans.Status != http.StatusOK {
			lost++
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return []figure{
		measured("SIGKILLs under load", fmt.Sprintf("%d (%d writers, each kill after %s of writes)", rounds, workers, warm)),
		measured("creates answered 200 before the kills", fmt.Sprint(len(ackedNames))),
		measured("creates cut off by the kills (no answer)", fmt.Sprint(inFlightAtKill.Load())),
		mustBe("acknowledged quota objects lost", lost, 0, fmt.Sprintf("of %d read back after restart", len(ackedNames))),
	}, nil
}
