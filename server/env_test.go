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

	"billing-api/server/clock"
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
	app     *App
	db      *store.DB
	tenancy *tenancy.Service
	plans   *plan.Service
	quotas  *quota.Service
	clock   *clock.Manual
	e       *echo.Echo
	sr      *specRouter
	logs    *syncBuffer
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

// testStart is where test clocks start: deliberately not on a whole second,
// so precision bugs show.
var testStart = time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)

func newEnv(t *testing.T) *env { return newEnvTB(t) }

func newEnvTB(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, func(*Config) {})
}

// newEnvWith builds the service through the production constructor, with
// a hand-moved clock and the operator API open; adjust changes the config.
func newEnvWith(t testing.TB, adjust func(*Config)) *env {
	t.Helper()
	logs := &syncBuffer{}
	clk := clock.NewManual(testStart)
	cfg := Config{
		Store:      storetest.Config(t),
		Logger:     slog.New(slog.NewJSONHandler(logs, nil)),
		Clock:      clk.Now,
		AdminToken: testAdminToken,
	}
	adjust(&cfg)
	a, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	e, err := a.HTTPHandler()
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, app: a, db: a.DB, tenancy: a.Tenancy, plans: a.Plans, quotas: a.Quotas, clock: clk, e: e, sr: newSpecRouter(t), logs: logs}
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

// tenantSince creates a tenant (as tenant does) with the clock set back to
// at, so that it has existed, on the default plan, since then; the clock
// comes back where it was.
func (v *env) tenantSince(at time.Time, name string, namespaces ...string) string {
	v.t.Helper()
	now := v.clock.Now()
	v.clock.Set(at)
	defer v.clock.Set(now)
	return v.tenant(name, namespaces...)
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
