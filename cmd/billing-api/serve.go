package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/invoice"
	"billing-api/server/jobs"
	"billing-api/server/ratelimit"
)

type serveConfig struct {
	listen        string
	metricsListen string
	pprof         bool
	publicRate    int
	// The rate-limit buckets shared by every replica, in Redis.
	redisURL        string
	redisKeyPrefix  string
	redisTimeout    time.Duration
	adminToken      string
	drainDelay      time.Duration
	shutdownTimeout time.Duration
	limits          connLimits
	demo            bool
	// Background jobs: how many this replica works at once (0: none),
	// whether it schedules the closing of due months (when it is River's
	// elected leader), how long after a month ends that is, and the name
	// this replica's work is recorded under.
	jobWorkers       int
	invoiceScheduler bool
	invoiceGrace     time.Duration
	replicaName      string
}

func newServeCommand(g *globalConfig) *cobra.Command {
	sc := &serveConfig{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Migrate the store and serve the API until SIGTERM or SIGINT",
		Long: `Migrates the store to the newest schema, then serves:
  /api/..., /no_auth/...   the Billing and Usage API (openapi/billing.yaml)
  /admin/v1/...            the operator API (openapi/admin.yaml, BILLING_ADMIN_TOKEN)
  /docs/                   Swagger UI; /openapi.yaml and /openapi.json
  /healthz, /readyz        liveness (process up) and readiness (database reachable)
  /metrics                 Prometheus metrics (on --metrics-listen when set)
It also works the background jobs (--job-workers at a time) that every replica
shares through the database: closing billing months and collecting invoices.
Unless --invoice-scheduler=false, the replica elected leader queues, at start-up
and every minute, every month that ended more than --invoice-grace ago and is not
closed yet (so months missed while no server ran are caught up).
On SIGTERM or SIGINT /readyz starts failing while everything else is still
served for --shutdown-drain-delay, so load balancers stop sending requests;
then the server stops accepting connections and lets in-flight requests finish
(up to --shutdown-timeout). A second signal exits at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), g, sc) },
	}
	sc.bind(cmd.Flags())
	return cmd
}

func (sc *serveConfig) bind(fs *pflag.FlagSet) {
	fs.StringVar(&sc.listen, "listen", ":8080", "address to listen on")
	envFlag(fs, "listen", "LISTEN_ADDR")
	fs.StringVar(&sc.metricsListen, "metrics-listen", "",
		"serve /metrics only on this address instead of on --listen")
	envFlag(fs, "metrics-listen", "BILLING_METRICS_LISTEN")
	fs.StringVar(&sc.adminToken, "admin-token", "",
		"operator token for /admin/v1 (Authorization: Bearer ...); unset closes the operator API")
	envFlag(fs, "admin-token", "BILLING_ADMIN_TOKEN")
	secretFileFlag(fs, "admin-token", "BILLING_ADMIN_TOKEN")
	fs.DurationVar(&sc.drainDelay, "shutdown-drain-delay", 5*time.Second,
		"how long /readyz fails, with requests still served, before the server stops accepting them")
	envFlag(fs, "shutdown-drain-delay", "BILLING_SHUTDOWN_DRAIN_DELAY")
	fs.DurationVar(&sc.shutdownTimeout, "shutdown-timeout", 30*time.Second,
		"how long in-flight requests may take to finish on shutdown")
	envFlag(fs, "shutdown-timeout", "BILLING_SHUTDOWN_TIMEOUT")
	fs.DurationVar(&sc.limits.readHeader, "read-header-timeout", defaultConnLimits.readHeader,
		"how long a client may take to send a request's headers; a slower connection is closed")
	envFlag(fs, "read-header-timeout", "BILLING_READ_HEADER_TIMEOUT")
	fs.DurationVar(&sc.limits.read, "read-timeout", defaultConnLimits.read,
		"how long a client may take to send a whole request, body included; a slower connection is closed")
	envFlag(fs, "read-timeout", "BILLING_READ_TIMEOUT")
	fs.IntVar(&sc.limits.maxHeaderBytes, "max-header-bytes", defaultConnLimits.maxHeaderBytes,
		"the largest request line and headers accepted; larger ones are answered 431")
	envFlag(fs, "max-header-bytes", "BILLING_MAX_HEADER_BYTES")
	fs.BoolVar(&sc.demo, "demo", false, "seed the demo tenant and print a fresh demo token")
	envFlag(fs, "demo", "BILLING_DEMO")
	fs.BoolVar(&sc.pprof, "pprof", false, "serve Go's profiles under /admin/debug/pprof/ (operator token only)")
	envFlag(fs, "pprof", "BILLING_PPROF")
	fs.IntVar(&sc.publicRate, "public-rate", 5,
		"requests a second one client address may make to the no-auth operations (bursts of 4x)")
	envFlag(fs, "public-rate", "BILLING_PUBLIC_RATE")
	fs.StringVar(&sc.redisURL, "redis-url", "",
		"Redis URL (redis://host:6379/0) holding the rate-limit buckets every replica shares; unset keeps them per replica")
	envFlag(fs, "redis-url", "BILLING_REDIS_URL")
	secretFileFlag(fs, "redis-url", "BILLING_REDIS_URL")
	fs.StringVar(&sc.redisKeyPrefix, "redis-key-prefix", ratelimit.DefaultPrefix,
		"what starts the keys of the shared rate-limit buckets (several deployments may share one Redis)")
	envFlag(fs, "redis-key-prefix", "BILLING_REDIS_KEY_PREFIX")
	fs.DurationVar(&sc.redisTimeout, "redis-timeout", ratelimit.DefaultTimeout,
		"how long a rate-limit check waits for Redis before this replica uses its own buckets")
	envFlag(fs, "redis-timeout", "BILLING_REDIS_TIMEOUT")
	fs.IntVar(&sc.jobWorkers, "job-workers", jobs.DefaultWorkers,
		"background jobs (closing months, collecting invoices) this replica works at once; 0 works none")
	envFlag(fs, "job-workers", "BILLING_JOB_WORKERS")
	fs.BoolVar(&sc.invoiceScheduler, "invoice-scheduler", true,
		"queue the close of each billing month once it is due (done by the replica elected leader); false leaves it to other replicas or the operator")
	envFlag(fs, "invoice-scheduler", "BILLING_INVOICE_SCHEDULER")
	fs.DurationVar(&sc.invoiceGrace, "invoice-grace", invoice.DefaultGrace,
		"how long after a month ends the scheduler closes it, so usage reported late is still billed in its month")
	envFlag(fs, "invoice-grace", "BILLING_INVOICE_GRACE")
	fs.StringVar(&sc.replicaName, "replica-name", "",
		"this process's name in the job engine's records and the invoice runs; default <hostname>-<pid>")
	envFlag(fs, "replica-name", "BILLING_REPLICA_NAME")
}

// replica is the name this process's scheduler runs are recorded under.
func (sc *serveConfig) replica() string {
	if sc.replicaName != "" {
		return sc.replicaName
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "billing-api"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// Garbage collection defaults for serving, unless the operator set Go's
// own GOGC or GOMEMLIMIT: collect at 4x the live heap instead of 2x (a
// request's garbage is most of what the server allocates, and collecting
// it often cost a fifth of the CPU under load), bounded by a soft memory
// limit that makes the collector work harder well before the process
// would grow past its budget.
const (
	serveGCPercent   = 400
	serveMemoryLimit = 96 << 20
)

func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
}

func serve(ctx context.Context, g *globalConfig, sc *serveConfig) error {
	if sc.invoiceGrace <= 0 {
		return fmt.Errorf("--invoice-grace must be more than 0, not %s", sc.invoiceGrace)
	}
	if sc.redisTimeout <= 0 {
		return fmt.Errorf("--redis-timeout must be more than 0, not %s", sc.redisTimeout)
	}
	if err := sc.limits.validate(); err != nil {
		return err
	}
	if sc.jobWorkers < 0 {
		return fmt.Errorf("--job-workers must be 0 or more, not %d", sc.jobWorkers)
	}
	tuneGC()
	reg := prometheus.NewRegistry()
	replica := sc.replica()
	a, err := openApp(ctx, g, func(c *server.Config) {
		c.AdminToken = sc.adminToken
		c.Registry = reg
		c.SeparateMetrics = sc.metricsListen != ""
		c.Pprof = sc.pprof
		c.PublicRate = sc.publicRate
		c.RedisURL = sc.redisURL
		c.RedisKeyPrefix = sc.redisKeyPrefix
		c.RedisTimeout = sc.redisTimeout
		c.InvoiceGrace = sc.invoiceGrace
		c.ReplicaName = replica
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Plans.CheckTenants(ctx); err != nil {
		return err
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(a.DB.SQL(), string(a.DB.Dialect())),
	)
	e, err := a.HTTPHandler()
	if err != nil {
		return err
	}

	// The API server comes first, so /metrics is served until it has drained.
	servers := []*http.Server{newHTTPServer(e, a.Log, sc.limits)}
	listeners := []net.Listener{}
	closeAll := func() {
		for _, ln := range listeners {
			_ = ln.Close()
		}
	}
	ln, err := net.Listen("tcp", sc.listen)
	if err != nil {
		return err
	}
	listeners = append(listeners, ln)
	base := baseURL(ln.Addr())
	metricsURL := base + "/metrics"
	if sc.metricsListen != "" {
		mln, err := net.Listen("tcp", sc.metricsListen)
		if err != nil {
			closeAll()
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		listeners = append(listeners, mln)
		metricsURL = baseURL(mln.Addr()) + "/metrics"
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", server.MetricsHandler(reg))
		servers = append(servers, newHTTPServer(mux, a.Log, sc.limits))
	}
	var demoSecret string
	if sc.demo {
		// The demo's past is played on an App of the same store whose
		// clock is set back.
		openAt := func(ctx context.Context, c clock.Clock) (*server.App, error) {
			return openApp(ctx, g, func(cfg *server.Config) { cfg.Clock = c })
		}
		if demoSecret, err = seedDemo(ctx, a, openAt); err != nil {
			closeAll()
			return fmt.Errorf("seeding the demo tenant: %w", err)
		}
	}
	a.Log.Info("serving", "url", base, "metrics_url", metricsURL, "store", string(a.DB.Dialect()), "operator_api", sc.adminToken != "",
		"replica", replica, "job_workers", sc.jobWorkers, "invoice_scheduler", sc.invoiceScheduler && sc.jobWorkers > 0)
	fmt.Fprintf(stdout, "billing-api serving on %s (%s store)\n", base, a.DB.Dialect())
	fmt.Fprintf(stdout, "  Swagger UI:  %s/docs/\n", base)
	fmt.Fprintf(stdout, "  OpenAPI:     %s/openapi.yaml\n", base)
	fmt.Fprintf(stdout, "  Metrics:     %s\n", metricsURL)
	if demoSecret != "" {
		fmt.Fprintf(stdout, "  demo tenant: %s (namespaces %s)\n", demoTenant, "system, shop")
		fmt.Fprintf(stdout, "  demo token:  %s\n", demoSecret)
		fmt.Fprintf(stdout, "  try:         curl -H 'Authorization: APIToken %s' %s/api/web/namespaces/system/quota/limits\n", demoSecret, base)
	}

	// The job engine stops when shutdown begins (its running jobs get the
	// shutdown timeout to finish), before the store closes.
	if sc.jobWorkers > 0 {
		if err := a.Jobs.Start(context.WithoutCancel(ctx), jobs.WorkOptions{Workers: sc.jobWorkers, Schedule: sc.invoiceScheduler}); err != nil {
			closeAll()
			return err
		}
	}
	var stopOnce sync.Once
	stopJobs := func() {
		stopOnce.Do(func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), sc.shutdownTimeout)
			defer cancel()
			if err := a.Jobs.Stop(stopCtx); err != nil {
				a.Log.Warn("stopping the job engine", "error", err.Error())
			}
		})
	}
	defer stopJobs()

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	select {
	case err := <-errc:
		closeAll()
		return err
	case <-ctx.Done():
	}

	// Readiness fails first while requests are still served, so load
	// balancers move traffic away before connections are refused.
	a.StartDraining()
	a.Log.Info("shutting down: readiness failing", "cause", context.Cause(ctx).Error(), "drain_delay", sc.drainDelay.String())
	select {
	case <-time.After(sc.drainDelay):
	case err := <-errc:
		closeAll()
		return err
	}
	a.Log.Info("shutting down: draining in-flight requests", "timeout", sc.shutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), sc.shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	stopJobs()
	a.Log.Info("stopped")
	return nil
}

// connLimits bound what one client connection may hold: a slow (or
// slowloris) client is cut off, an oversized header refused, so neither can
// tie up the server.
type connLimits struct {
	readHeader     time.Duration
	read           time.Duration
	maxHeaderBytes int
}

// defaultConnLimits: headers within 10s; a whole request (a 16 MiB usage
// batch on a slow link included) within 60s; headers up to 64 KiB, far
// above any token and label filter a client sends.
var defaultConnLimits = connLimits{readHeader: 10 * time.Second, read: 60 * time.Second, maxHeaderBytes: 64 << 10}

func (l connLimits) validate() error {
	switch {
	case l.readHeader <= 0:
		return fmt.Errorf("--read-header-timeout must be more than 0, not %s", l.readHeader)
	case l.read < l.readHeader:
		return fmt.Errorf("--read-timeout (%s) must be at least --read-header-timeout (%s)", l.read, l.readHeader)
	case l.maxHeaderBytes < 4<<10:
		return fmt.Errorf("--max-header-bytes must be at least 4096, not %d", l.maxHeaderBytes)
	}
	return nil
}

// newHTTPServer is how every listener is served; net/http's own errors go to
// the JSON log at warn level instead of plain lines on stderr.
func newHTTPServer(h http.Handler, log *slog.Logger, l connLimits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		// Past the read timeout, so a body it cuts off is still answered
		// 408; a handler then has a minute to answer.
		WriteTimeout:   l.read + time.Minute,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: l.maxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// baseURL is how a client on this machine reaches the listener.
func baseURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "localhost"
	}
	return fmt.Sprintf("http://%s", net.JoinHostPort(host, fmt.Sprint(tcp.Port)))
}
