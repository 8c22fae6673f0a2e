package quota_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"billing-api/server"
	"billing-api/server/fault"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
	"billing-api/store"
	"billing-api/store/storetest"
)

// widgets is a counted kind of a test domain: its objects are quota
// objects named widget-*, inserted through the room check.
type widgets struct {
	app    *server.App
	tenant tenancy.Tenant
	repo   *store.Quotas
}

func newWidgets(t *testing.T, count quota.Counter) *widgets {
	t.Helper()
	ctx := context.Background()
	a, err := server.Open(ctx, server.Config{Store: storetest.Config(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	ten, err := a.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	w := &widgets{app: a, tenant: ten, repo: store.NewQuotas(a.DB)}
	if count == nil {
		count = w.count
	}
	a.Quotas.CountKind("widget", count)
	// One widget per namespace.
	p := tenancy.Principal{TenantID: ten.ID, TenantName: "acme", TokenName: "t", Role: tenancy.RoleAdmin}
	if _, err := a.Quotas.Create(ctx, p, tenancy.SystemNamespace, quota.ObjectInput{Name: "one-widget", Spec: quota.Limits{Objects: map[string]int32{"widget": 1}}}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *widgets) count(ctx context.Context, tenantID uuid.UUID, namespace string) (int64, error) {
	objs, err := w.repo.ListObjects(ctx, tenantID, namespace, false)
	var n int64
	for _, o := range objs {
		if len(o.Name) > 7 && o.Name[:7] == "widget-" {
			n++
		}
	}
	return n, err
}

func (w *widgets) insert(name string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		now := w.app.Now()
		return w.repo.CreateObject(ctx, quota.Object{UID: uuid.New(), TenantID: w.tenant.ID, Namespace: "system", Name: name,
			CreatorID: "t", CreatorClass: "test", CreatedAt: now, UpdatedAt: now})
	}
}

func (w *widgets) create(ctx context.Context, name string, insert func(ctx context.Context) error) error {
	return w.app.Quotas.CreateCounted(ctx, w.tenant.ID, "system", "widget", 1, insert)
}

func TestCountedKindsAreLimitedAndNotGauged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWidgets(t, nil)
	if err := w.create(ctx, "widget-a", w.insert("widget-a")); err != nil {
		t.Fatal(err)
	}
	if err := w.create(ctx, "widget-b", w.insert("widget-b")); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("a second widget past the limit of 1: %v", err)
	}
	c, err := w.app.Quotas.CheckRoom(ctx, w.tenant.ID, "system", "widget", 1)
	if err != nil || c.Usage != 1 || c.Allowed {
		t.Fatalf("check %+v %v", c, err)
	}
	// The service counts widgets itself: gauges for them are refused.
	_, _, err = w.app.Quotas.RecordGauges(ctx, []quota.ObjectCount{{TenantID: w.tenant.ID, Namespace: "system", Kind: "widget", Count: 0, ObservedAt: w.app.Now()}}, nil)
	if !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("a gauge for a counted kind: %v", err)
	}
	// Only registered kinds go through the room check.
	if err := w.app.Quotas.CreateCounted(ctx, w.tenant.ID, "system", "gadget", 1, w.insert("gadget-a")); err == nil {
		t.Fatal("an unregistered kind was created")
	}
}

// The room check and the insert happen under the tenant's lock: while one
// creator sits between its count and its insert, a second creator of the
// same tenant cannot even count. The test holds the first creator at that
// point and watches the second: it must wait on the lock (PostgreSQL shows
// it in pg_stat_activity), never reach its count. Without the lock the
// second count happens at once and the test fails.
func TestRoomCheckHoldsTheTenantLockBetweenCountAndInsert(t *testing.T) {
	t.Parallel()
	if storetest.Dialect() != store.Postgres {
		t.Skip("SQLite admits one writer at a time: BEGIN IMMEDIATE serialises creators before any count, so there is no tenant lock to observe")
	}
	ctx := context.Background()
	counts := make(chan struct{}, 8)
	var w *widgets
	w = newWidgets(t, func(ctx context.Context, tenantID uuid.UUID, namespace string) (int64, error) {
		counts <- struct{}{}
		return w.count(ctx, tenantID, namespace)
	})
	drain := func() {
		for len(counts) > 0 {
			<-counts
		}
	}
	drain()

	aCounted, releaseA := make(chan struct{}), make(chan struct{})
	aDone, bDone := make(chan error, 1), make(chan error, 1)
	go func() {
		aDone <- w.create(ctx, "widget-a", func(ctx context.Context) error {
			close(aCounted)
			<-releaseA
			return w.insert("widget-a")(ctx)
		})
	}()
	<-aCounted
	drain() // A's own count
	go func() { bDone <- w.create(ctx, "widget-b", w.insert("widget-b")) }()

	deadline := time.After(30 * time.Second)
	for waiting := false; !waiting; {
		select {
		case <-counts:
			close(releaseA)
			t.Fatal("the second creator counted while the first held the tenant lock between its count and its insert")
		case <-deadline:
			close(releaseA)
			t.Fatal("the second creator neither counted nor waited on a lock")
		default:
		}
		var n int
		if err := w.app.DB.SQL().QueryRowContext(ctx,
			`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		waiting = n > 0
		if !waiting {
			time.Sleep(5 * time.Millisecond) // polling a condition, not timing a race
		}
	}
	close(releaseA)
	if err := <-aDone; err != nil {
		t.Fatalf("first creator: %v", err)
	}
	if err := <-bDone; !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("second creator after the first committed: %v, want 409", err)
	}
	if n, _ := w.count(ctx, w.tenant.ID, "system"); n != 1 {
		t.Fatalf("%d widgets, want exactly the limit of 1", n)
	}
}

// The tenant lock does not hold up writes that merely reference the tenant
// (a foreign-key check takes a key-share lock, which FOR NO KEY UPDATE
// leaves alone): a namespace is added while a creator holds the lock.
func TestTheTenantLockDoesNotBlockUnrelatedInserts(t *testing.T) {
	t.Parallel()
	if storetest.Dialect() != store.Postgres {
		t.Skip("on SQLite every write transaction holds the one writer lock")
	}
	ctx := context.Background()
	w := newWidgets(t, nil)
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- w.create(ctx, "widget-a", func(ctx context.Context) error {
			close(holding)
			<-release
			return w.insert("widget-a")(ctx)
		})
	}()
	<-holding
	tx, err := w.app.DB.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A blocked insert fails after lock_timeout instead of hanging the test.
	if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '10s'`); err != nil {
		t.Fatal(err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO namespaces (tenant_id, name, created_at) VALUES ($1, 'shop', now())`, w.tenant.ID)
	if err == nil {
		err = tx.Commit()
	} else {
		_ = tx.Rollback()
	}
	close(release)
	if err != nil {
		t.Fatalf("adding a namespace while the tenant lock is held: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
