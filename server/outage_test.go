package server

import (
	"net/http"
	"testing"

	"billing-api/store"
	"billing-api/store/storetest"
)

// While PostgreSQL is gone every answer is a 503 with Retry-After — also a
// read the replica's one-second cache still holds, once any statement has
// found the database gone — and /readyz fails; once it is back, the next
// request after the probe interval is served, and what was refused was not
// stored. (The fault harness measures the same against a crashed cluster:
// `make reliability`, RELIABILITY.md.)
func TestDuringADatabaseOutageEveryAnswerIsA503(t *testing.T) {
	t.Parallel()
	if storetest.Dialect() != store.Postgres {
		t.Skip("an outage of a server database: PostgreSQL only (set " + storetest.EnvPostgresURL + ")")
	}
	var proxy *storetest.Proxy
	v := newEnvWith(t, func(c *Config) {
		proxy, c.Store.URL = storetest.NewProxy(t, c.Store.URL)
	})
	tok := v.tenant("acme", "shop")
	limits := func() response {
		return v.call(http.MethodGet, "/api/web/namespaces/shop/quota/limits", tok, nil)
	}
	create := func(name string) response {
		return v.call(http.MethodPost, "/api/web/namespaces/shop/quotas", tok, `{"metadata":{"name":"`+name+`"},"spec":{}}`)
	}
	if res := create("before"); res.Status != http.StatusOK {
		t.Fatalf("create before the outage: %d %s", res.Status, res.Body)
	}
	if res := limits(); res.Status != http.StatusOK {
		t.Fatalf("limits before the outage: %d %s", res.Status, res.Body)
	}

	proxy.Cut()
	unavailable := func(what string, res response) {
		t.Helper()
		if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Fatalf("%s during the outage: %d (Retry-After %q) %s, want 503 with Retry-After", what, res.Status, res.Header.Get("Retry-After"), res.Body)
		}
		if e := res.errorBody(t); e.Code == "" || e.Message == "" {
			t.Fatalf("%s during the outage: %s is not a schemaErrorType", what, res.Body)
		}
	}
	unavailable("a write", create("during"))
	// The limits are still in this replica's cache (the clock has not
	// moved): a replica that knows the database is gone answers 503 anyway.
	unavailable("a cached read", limits())
	unavailable("another write", create("during-2"))
	rec := v.call(http.MethodGet, "/readyz", "", nil)
	if rec.Status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the outage: %d", rec.Status)
	}

	proxy.Restore()
	v.clock.Advance(store.ProbeEvery)
	if res := limits(); res.Status != http.StatusOK {
		t.Fatalf("limits after the outage: %d %s", res.Status, res.Body)
	}
	if res := create("after"); res.Status != http.StatusOK {
		t.Fatalf("create after the outage: %d %s", res.Status, res.Body)
	}
	for name, want := range map[string]int{"before": http.StatusOK, "after": http.StatusOK, "during": http.StatusNotFound, "during-2": http.StatusNotFound} {
		if res := v.call(http.MethodGet, "/api/web/namespaces/shop/quotas/"+name, tok, nil); res.Status != want {
			t.Errorf("quota %q after the outage: %d, want %d", name, res.Status, want)
		}
	}
}
