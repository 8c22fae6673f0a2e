package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"billing-api/server/plan"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
	"billing-api/store"
	"billing-api/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }

const testAdminToken = "operator-secret-for-tests"

// env is one server over its own database, driven in process.
type env struct {
	t       testing.TB
	db      *store.DB
	tenancy *tenancy.Service
	plans   *plan.Service
	quotas  *quota.Service
	clock   *testClock
	e       *echo.Echo
	sr      *specRouter
	logs    *syncBuffer
}

// testClock is a clock the test moves by hand, so rate limits are observed
// without sleeping.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T) *env { return newEnvTB(t) }

func newEnvTB(t testing.TB) *env {
	t.Helper()
	db := storetest.Open(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ten := tenancy.NewService(store.NewTenancy(db))
	cat, err := plan.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	plans := plan.NewService(cat, store.NewPlans(db))
	ten.OnTenantCreated(plans.AssignDefault)
	clock := &testClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	quotas, err := quota.NewService(quota.Config{Store: store.NewQuotas(db), Defaults: plans, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Logger: log, Tenancy: ten, Quotas: quotas, Plans: plans, AdminToken: testAdminToken, Ready: db.Ping})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, tenancy: ten, plans: plans, quotas: quotas, clock: clock, e: e, sr: newSpecRouter(t), logs: logs}
}

// tenant creates a tenant with extra namespaces and returns an admin token.
func (v *env) tenant(name string, namespaces ...string) string {
	v.t.Helper()
	ctx := context.Background()
	if _, err := v.tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: name}); err != nil {
		v.t.Fatal(err)
	}
	for _, ns := range namespaces {
		if _, err := v.tenancy.CreateNamespace(ctx, name, ns); err != nil {
			v.t.Fatal(err)
		}
	}
	return v.token(name, tenancy.RoleAdmin)
}

// token issues a token for an existing tenant.
func (v *env) token(tenantName string, role tenancy.Role, namespaces ...string) string {
	v.t.Helper()
	_, secret, err := v.tenancy.IssueToken(context.Background(), tenancy.IssueTokenInput{
		TenantName: tenantName, Name: "test-" + string(role), Role: role, Namespaces: namespaces,
	})
	if err != nil {
		v.t.Fatal(err)
	}
	return secret
}

// call sends a tenant API request with a token ("" for none).
func (v *env) call(method, path, token string, body any) response {
	v.t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "APIToken "+token)
	}
	return v.sr.do(v.t, v.e, method, path, body, h)
}

// admin sends an operator API request with the operator token.
func (v *env) admin(method, path string, body any) response {
	v.t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+testAdminToken)
	return v.sr.do(v.t, v.e, method, path, body, h)
}
