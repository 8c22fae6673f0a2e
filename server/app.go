package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"

	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/invoice"
	"billing-api/server/jobs"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/plan"
	"billing-api/server/quota"
	"billing-api/server/ratelimit"
	"billing-api/server/subscription"
	"billing-api/server/tenancy"
	"billing-api/server/transition"
	"billing-api/server/usage"
	"billing-api/store"
)

// Config is everything the service is built from.
type Config struct {
	Store store.Config
	// Catalogue is the plan catalogue; nil means the embedded one.
	Catalogue *plan.Catalogue
	Logger    *slog.Logger
	// Clock is the one time source; nil means the system clock. Its
	// readings are normalised (UTC, microseconds) whatever it returns.
	Clock clock.Clock
	// CacheTTL bounds how long a replica may serve tokens, namespaces, plans
	// and limits from its cache (a change made on another replica is seen
	// within it); 0 means 1s, the most allowed.
	CacheTTL time.Duration

	// AdminToken is the operator token; empty closes the operator API.
	AdminToken string
	// Registry receives the HTTP metrics and is what /metrics exposes; nil
	// creates a private one.
	Registry *prometheus.Registry
	// SeparateMetrics leaves /metrics off the main handler, for a caller
	// serving Registry on a listener of its own (MetricsHandler).
	SeparateMetrics bool
	// Pprof serves Go's profiles under /admin/debug/pprof/, to the operator
	// token only.
	Pprof bool
	// PublicRate is how many requests a second one client address may make
	// to the public operations (bursts of four times as many); 0 means 5.
	PublicRate int
	// RedisURL, when set, keeps the rate-limit buckets (api_limits and the
	// public operations' per-address ones) in that Redis, shared by every
	// replica; unset keeps them in each replica's memory.
	RedisURL string
	// RedisKeyPrefix starts the buckets' keys ("" means
	// ratelimit.DefaultPrefix); RedisTimeout bounds each check before this
	// replica falls back to its own buckets (0 means
	// ratelimit.DefaultTimeout).
	RedisKeyPrefix string
	RedisTimeout   time.Duration
	// PaymentProvider charges invoices; nil means the built-in test
	// provider (tokens beginning tok_decline are declined).
	PaymentProvider payment.Provider
	// InvoiceGrace is how long after a month ends the scheduler closes it
	// (0 means 48 h).
	InvoiceGrace time.Duration
	// ReplicaName names this process in the scheduler's records of which
	// replica closed a period (default: a random id).
	ReplicaName string
}

// App is the wired service: the store, every domain's service and, on
// demand, the HTTP handler. It is the one constructor the binary and every
// test use, so what runs in tests is what runs in production.
type App struct {
	cfg Config
	Log *slog.Logger
	DB  *store.DB
	Now clock.Clock
	// spec is the tenant API's contract and ops its operations, read once.
	spec *openapi3.T
	ops  map[string]operation

	Tenancy *tenancy.Service
	Plans   *plan.Service
	// Closings tells which tenants' months are closed.
	Closings *period.Closings
	Usage    *usage.Service
	// Payments holds payment methods.
	Payments *payment.Service
	// Subscriptions holds add-on subscriptions.
	Subscriptions *subscription.Service
	// Transitions moves tenants between plans.
	Transitions *transition.Service
	// Invoices closes billing periods and collects invoices.
	Invoices *invoice.Service
	Quotas   *quota.Service
	// Jobs is the background job engine (River): it queues work here and,
	// once started (serve), works it.
	Jobs *jobs.Queue
	// A new domain adds its service here and its wiring to domains.

	// sharedLimits are the rate-limit buckets in Redis; nil without
	// Config.RedisURL.
	sharedLimits *ratelimit.Shared
	// stopUI ends the background work of the jobs UIs the handlers built.
	stopUI []context.CancelFunc
	uiMu   sync.Mutex

	// draining is set by StartDraining when shutdown begins.
	draining atomic.Bool
}

// domains are wired in this order; each may use the services of the ones
// before it. A domain's wiring lives in its own handlers file.
var domains = []func(*App) error{wireTenancy, wirePlans, wireQuotas, wireMetering, wirePayments, wireSubscriptions, wireTransitions, wireInvoices, wireJobs}

// Open connects to the store, migrates it to the newest schema and wires
// every domain.
func Open(ctx context.Context, cfg Config) (*App, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Catalogue == nil {
		cat, err := plan.Embedded()
		if err != nil {
			return nil, err
		}
		cfg.Catalogue = cat
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Second
	}
	if cfg.PaymentProvider == nil {
		cfg.PaymentProvider = payment.TestProvider{}
	}
	if cfg.CacheTTL < 0 || cfg.CacheTTL > time.Second {
		return nil, fmt.Errorf("CacheTTL must be between 0 and 1s")
	}
	if cfg.RedisTimeout < 0 {
		return nil, fmt.Errorf("RedisTimeout must not be negative")
	}
	a := &App{cfg: cfg, Log: log, Now: clock.Normalized(cfg.Clock)}
	var err error
	if a.spec, err = billingSpec(); err != nil {
		return nil, err
	}
	if a.ops, err = operations(a.spec); err != nil {
		return nil, fmt.Errorf("openapi/billing.yaml: %w", err)
	}
	storeCfg := cfg.Store
	storeCfg.Logger = log
	storeCfg.Now = a.Now
	db, err := store.Open(ctx, storeCfg)
	if err != nil {
		return nil, err
	}
	a.DB = db
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrating the %s database: %w", db.Dialect(), err)
	}
	if cfg.RedisURL != "" {
		a.sharedLimits, err = ratelimit.Open(ctx, ratelimit.Config{URL: cfg.RedisURL, Prefix: cfg.RedisKeyPrefix, Timeout: cfg.RedisTimeout, Logger: log})
		if err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	for _, wire := range domains {
		if err := wire(a); err != nil {
			_ = a.Close()
			return nil, err
		}
	}
	return a, nil
}

// wireJobs connects the job engine; the service's changes queue their
// background work through it.
func wireJobs(a *App) error {
	q, err := jobs.New(jobs.Config{DB: a.DB, Invoices: a.Invoices, Log: a.Log, ID: a.cfg.ReplicaName})
	if err != nil {
		return err
	}
	a.Jobs = q
	a.Invoices.SetLater(q)
	return nil
}

// Close releases the store and the connections to Redis.
func (a *App) Close() error {
	a.uiMu.Lock()
	for _, stop := range a.stopUI {
		stop()
	}
	a.stopUI = nil
	a.uiMu.Unlock()
	err := a.DB.Close()
	if a.sharedLimits != nil {
		err = errors.Join(err, a.sharedLimits.Close())
	}
	return err
}

// principal returns who the request acts for; the auth middleware has put
// it there for every non-public operation.
func principal(ctx context.Context) (tenancy.Principal, error) {
	p, ok := tenancy.PrincipalFrom(ctx)
	if !ok {
		return tenancy.Principal{}, fault.Internal(errors.New("no principal on an authenticated operation"))
	}
	return p, nil
}
