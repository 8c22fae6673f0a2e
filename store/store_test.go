package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/tenancy"
	"billing-api/store"
	"billing-api/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }

func TestMigrationsAreIdempotentAndSafeFromManyReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := storetest.EmptyConfig(t)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	// Several "replicas" migrate one database at once.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := store.Open(ctx, cfg)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(ctx)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil || v != store.LatestSchemaVersion() {
		t.Fatalf("schema version %s (%v), want %s", v, err, store.LatestSchemaVersion())
	}
}

// A database migrated when versions were a counter (schema_migrations
// with versions 1 and 2) keeps its data and moves on to the newest schema.
func TestDatabasesWithCounterVersionsKeepWorking(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := storetest.EmptyConfig(t)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.MigrateTo(ctx, "20261110090000_quotas"); err != nil {
		t.Fatal(err)
	}
	repo := store.NewTenancy(db)
	if err := repo.CreateTenant(ctx, tenancy.Tenant{ID: uuid.New(), Name: "old", DisplayName: "Old", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// Rewrite the bookkeeping as the releases before named versions left it.
	for _, stmt := range []string{
		"DROP TABLE schema_versions",
		"CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)",
		"INSERT INTO schema_migrations VALUES (1, 'tenants, namespaces and API tokens', CURRENT_TIMESTAMP), (2, 'plans, quota objects and usage gauges', CURRENT_TIMESTAMP)",
	} {
		if err := db.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(ctx); err != nil || v != store.LatestSchemaVersion() {
		t.Fatalf("schema version %s (%v), want %s", v, err, store.LatestSchemaVersion())
	}
	if _, err := repo.TenantByName(ctx, "old"); err != nil {
		t.Fatalf("the tenant from before the upgrade: %v", err)
	}
	// Unknown counter versions stop the migration instead of guessing.
	if err := db.Exec(ctx, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, "INSERT INTO schema_migrations VALUES (3, 'from a branch', CURRENT_TIMESTAMP)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "schema version 3") {
		t.Fatalf("an unknown counter version: %v", err)
	}
}

func TestTimesComeBackInUTC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	repo := store.NewTenancy(db)
	local := time.Date(2026, 11, 25, 12, 30, 45, 123456000, time.FixedZone("CET", 3600))
	ten := tenancy.Tenant{ID: uuid.New(), Name: "acme", DisplayName: "Acme", CreatedAt: local}
	if err := repo.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	got, err := repo.TenantByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.Location() != time.UTC || !got.CreatedAt.Equal(local) {
		t.Fatalf("created_at %v, want %v in UTC", got.CreatedAt, local.UTC())
	}
}

func TestDuplicatesAndMissingRowsBecomeFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := store.NewTenancy(storetest.Open(t))
	ten := tenancy.Tenant{ID: uuid.New(), Name: "acme", DisplayName: "Acme", CreatedAt: time.Now()}
	if err := repo.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	ten.ID = uuid.New()
	if err := repo.CreateTenant(ctx, ten); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("duplicate name: %v, want conflict", err)
	}
	if _, err := repo.TenantByName(ctx, "nobody"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("missing tenant: %v, want not found", err)
	}
}

func TestTransactionsRollBackOnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	repo := store.NewTenancy(db)
	boom := errors.New("boom")
	err := db.WithTx(ctx, func(ctx context.Context) error {
		if err := repo.CreateTenant(ctx, tenancy.Tenant{ID: uuid.New(), Name: "ghost", DisplayName: "g", CreatedAt: time.Now()}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WithTx returned %v", err)
	}
	if _, err := repo.TenantByName(ctx, "ghost"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("rolled-back tenant is visible: %v", err)
	}
}

// Concurrent write transactions queue instead of failing: on SQLite every
// transaction begins IMMEDIATE and waits on the busy timeout.
func TestConcurrentWritersQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t)
	repo := store.NewTenancy(db)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			errs <- db.WithTx(ctx, func(ctx context.Context) error {
				if _, err := repo.ListTenants(ctx); err != nil { // read, then write
					return err
				}
				return repo.CreateTenant(ctx, tenancy.Tenant{ID: uuid.New(), Name: fmt.Sprintf("t%d", i), DisplayName: "t", CreatedAt: time.Now()})
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if ts, _ := repo.ListTenants(ctx); len(ts) != 16 {
		t.Fatalf("%d tenants, want 16", len(ts))
	}
}
