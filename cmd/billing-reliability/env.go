package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"billing-api/internal/harness"
	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
	"billing-api/store"
)

const (
	// adminToken opens the operator API of every server the harness starts.
	adminToken    = "reliability-ops"
	serverBanner  = "billing-api serving on "
	startTimeout  = time.Minute
	dbPrefix      = "billing_reliability_"
	requestTimout = 10 * time.Second
)

// database creates a database for the scenario on the configured
// PostgreSQL (dropped when the scenario ends) and migrates it.
func (r *runner) database(ctx context.Context) (string, error) {
	return r.databaseOn(ctx, r.cfg.databaseURL)
}

func (r *runner) databaseOn(ctx context.Context, adminURL string) (string, error) {
	db, err := harness.CreateDatabase(ctx, adminURL, dbPrefix)
	if err != nil {
		return "", err
	}
	r.atEnd(func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Drop(dctx); err != nil {
			progress("dropping %s: %v", db.Name, err)
		}
	})
	return db.URL, nil
}

// server starts `billing-api serve` on a free loopback port on dbURL, with
// the operator API open, no invoice scheduler (the scenarios close months
// through the operator API, as an operator would) and no drain delay.
func (r *runner) server(name, dbURL string, extra ...string) (*harness.Process, error) {
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--shutdown-drain-delay", "0",
		"--invoice-scheduler=false", "--replica-name", name}, extra...)
	env := append(harness.CleanEnv(), "DATABASE_URL="+dbURL, "BILLING_ADMIN_TOKEN="+adminToken, "BILLING_LOG_LEVEL=warn")
	p, err := harness.Start(name, r.cfg.serverBinary, args, env, serverBanner, startTimeout)
	if err != nil {
		return nil, err
	}
	r.atEnd(p.Stop)
	return p, nil
}

// app opens the service on dbURL in process, reading clock c (nil: the
// real one): how the harness seeds tenants in the past and reads what the
// database holds through the domain's own rules.
func (r *runner) app(ctx context.Context, dbURL string, c clock.Clock) (*server.App, error) {
	cfg := server.Config{Store: store.Config{URL: dbURL}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if c != nil {
		cfg.Clock = c
	}
	a, err := server.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.atEnd(func() { _ = a.Close() })
	return a, nil
}

// tenant creates a tenant with an admin API token, its limits lifted for
// the operations named (so the scenario measures faults, not the plan).
func tenant(ctx context.Context, a *server.App, name string, ops ...string) (tenancy.Tenant, string, error) {
	t, err := a.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: name})
	if err != nil {
		return t, "", err
	}
	_, secret, err := a.Tenancy.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: name, Name: "reliability", Role: tenancy.RoleAdmin})
	if err != nil {
		return t, "", err
	}
	return t, secret, liftLimits(ctx, a, t.ID, ops...)
}

// liftLimits sets the tenant's overrides so the operations named are
// limited to a billion a second, and quota objects to none.
func liftLimits(ctx context.Context, a *server.App, tenantID uuid.UUID, ops ...string) error {
	l := quota.Limits{Objects: map[string]int32{quota.KindQuota: quota.Unlimited}, APIs: map[string]quota.RateLimit{}}
	burst := int32(1_000_000_000)
	for _, op := range ops {
		l.APIs[op] = quota.RateLimit{Rate: 1_000_000_000, Unit: quota.Second, Burst: &burst}
	}
	_, err := a.Quotas.SetLimitOverrides(ctx, tenantID, l)
	return err
}

// client sends the scenarios' requests: bounded, never following
// redirects, many connections per host.
var client = &http.Client{
	Timeout:   requestTimout,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0, DisableCompression: true},
}

// answer is what a request got back; Status 0 is a transport error (the
// server gone, a reset, the client's timeout).
type answer struct {
	Status     int
	Body       []byte
	RetryAfter string
	Took       time.Duration
	Err        error
}

// call sends one request; auth is the whole Authorization value.
func call(ctx context.Context, method, url, auth, body string) answer {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return answer{Err: err}
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return answer{Err: err, Took: time.Since(start)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return answer{Status: res.StatusCode, Body: b, RetryAfter: res.Header.Get("Retry-After"), Took: time.Since(start), Err: err}
}

func tokenAuth(secret string) string { return "APIToken " + secret }

const opsAuth = "Bearer " + adminToken

// isSchemaError reports a body that is the API's schemaErrorType: a code
// and a message.
func isSchemaError(body []byte) bool {
	var e struct {
		Code    *string `json:"code"`
		Message *string `json:"message"`
	}
	return json.Unmarshal(body, &e) == nil && e.Code != nil && e.Message != nil && *e.Code != ""
}

// count runs a query returning one integer.
func count(ctx context.Context, db *sql.DB, q string, args ...any) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", q, err)
	}
	return n, nil
}

// until polls ok every step until it holds, the deadline passes or ctx
// ends; it returns how long it took.
func until(ctx context.Context, limit, step time.Duration, ok func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if ok() {
			return time.Since(start), true
		}
		if time.Since(start) > limit || ctx.Err() != nil {
			return time.Since(start), false
		}
		select {
		case <-ctx.Done():
		case <-time.After(step): // polling for a condition, bounded by limit
		}
	}
}
