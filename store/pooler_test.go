package store_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"testing"

	"billing-api/server/tenancy"
	"billing-api/store"
	"billing-api/store/storetest"
)

// With a direct URL, the migrations (the store's and River's) connect there
// and never through the pooled URL: here the pooled URL is cut while they
// run, and they still apply; the store then reads the new schema version
// through the pooled URL once it is back.
func TestMigrationsRunOnTheDirectURL(t *testing.T) {
	t.Parallel()
	if storetest.Dialect() != store.Postgres {
		t.Skip("a direct URL beside a pooled one: PostgreSQL only (set " + storetest.EnvPostgresURL + ")")
	}
	ctx := context.Background()
	cfg := storetest.EmptyConfig(t)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	direct := cfg.URL
	if cfg.DirectURL != "" {
		direct = cfg.DirectURL
	}
	pooled, pooledURL := storetest.NewProxy(t, cfg.URL)
	bypass, directURL := storetest.NewProxy(t, direct)
	cfg.URL, cfg.DirectURL = pooledURL, directURL
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if n := bypass.Accepted(); n != 0 {
		t.Fatalf("opening the store made %d connections on the direct URL: it is for the migrations", n)
	}

	pooled.Cut()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrating with the pooled URL cut: %v", err)
	}
	if bypass.Accepted() == 0 {
		t.Fatal("the migrations made no connection on the direct URL")
	}
	pooled.Restore()
	bypass.Cut() // what follows must not need it
	// The pooled connection the cut killed is found dead by the first
	// statement after it (which is answered unavailable); the next one
	// connects anew.
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		v, err = db.SchemaVersion(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if v != store.LatestSchemaVersion() {
		t.Fatalf("schema version through the pooled URL: %q, want %q", v, store.LatestSchemaVersion())
	}
}

// A direct URL makes the pooled connections describe their statements
// instead of preparing them (PgBouncer in transaction mode hands each
// transaction any server connection, where a named prepared statement does
// not exist), unless the pooled URL chose a mode itself.
func TestAPooledURLDescribesInsteadOfPreparing(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"postgres://u@pooler:6432/db?sslmode=disable", "cache_describe"},
		{"postgres://u@pooler:6432/db?sslmode=disable&default_query_exec_mode=simple_protocol", "simple_protocol"},
	} {
		got, err := store.DescribedNotPrepared(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if mode := queryParam(t, got, "default_query_exec_mode"); mode != c.want {
			t.Errorf("%s: mode %q, want %q (%s)", c.url, mode, c.want, got)
		}
		if queryParam(t, got, "sslmode") != "disable" {
			t.Errorf("%s lost its other parameters: %s", c.url, got)
		}
	}
}

// Through a transaction-pooling PgBouncer (make test's pooler pass, which
// .ci/pgbouncer.sh starts), many concurrent transactions on many client
// connections — each taking whatever server connection is free — write
// and read without a prepared statement going missing or a session setting
// leaking between them.
func TestStatementsRunThroughAPoolerInTransactionMode(t *testing.T) {
	t.Parallel()
	if storetest.PgBouncerURL() == "" {
		t.Skip("needs a PgBouncer in transaction mode: set " + storetest.EnvPgBouncerURL + " (make test does when .ci/pgbouncer.sh runs)")
	}
	ctx := context.Background()
	db := storetest.Open(t)
	svc := tenancy.NewService(store.NewTenancy(db), nil, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				name := fmt.Sprintf("pooled-%d-%d", w, i)
				if _, err := svc.CreateTenant(ctx, tenancy.CreateTenantInput{Name: name}); err != nil {
					errs <- fmt.Errorf("creating %s: %w", name, err)
					return
				}
				if _, err := svc.Tenant(ctx, name); err != nil {
					errs <- fmt.Errorf("reading %s: %w", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func queryParam(t *testing.T, raw, name string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(name)
}
