// Command billing-bench measures the billing-api server under HTTP load
// against a baseline on the same stack, on PostgreSQL: it creates a bench
// database, seeds it through the domain services, starts the real server
// binary and a minimal Echo + pgx baseline as two processes, drives both
// with the same load generator, round by round, and prints what each
// operation costs next to its baseline counterpart. Nothing in it judges
// the numbers; it fails only when it cannot measure.
package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/store"
)

const (
	envDatabaseURL     = "BILLING_BENCH_DATABASE_URL"
	defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"
	benchRedisTimeout  = "250ms"
	serverBanner       = "billing-api serving on "
	// startTimeout covers a server's start, migrations included.
	startTimeout = time.Minute
	seedWorkers  = 8
)

// config is the command line.
type config struct {
	databaseURL  string
	serverBinary string
	concurrency  int
	warmup       time.Duration
	duration     time.Duration
	rounds       int
	tenants      int
	usageDays    int
	jsonPath     string
	keep         bool
	// only, when set, keeps the operations whose name it matches.
	only string
	// redisURL, when set and answering, is where a second server process
	// keeps its rate-limit buckets, for the rows marked SharedLimits.
	redisURL string
	// profileDir, when set, receives a CPU profile of the server per
	// operation and round, taken over the measured window.
	profileDir string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "billing-bench:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	c := &config{}
	cmd := &cobra.Command{
		Use:   "billing-bench",
		Short: "Measure the billing-api server against a minimal Echo + pgx baseline on PostgreSQL",
		Long: `Creates a fresh PostgreSQL database (billing_bench_*) from --database-url,
seeds it through the domain services, starts the billing-api binary and a
baseline server (Echo v4 + pgx, one query per request) as two processes,
and drives both with the same load: for each round and operation, the
server and its baseline counterpart back to back, alternating which goes
first. Prints req/s, p50 and p99 per side, their ratio and errors, and each
process's peak RSS. The exit status is non-zero only when the harness
cannot measure (seeding or a start fails, or every request of an
operation fails), never because of the numbers.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("database-url") {
				if v := os.Getenv(envDatabaseURL); v != "" {
					c.databaseURL = v
				}
			}
			if err := c.validate(); err != nil {
				return err
			}
			return run(cmd.Context(), c)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&c.databaseURL, "database-url", defaultDatabaseURL,
		"PostgreSQL URL of a database the user may CREATE DATABASE from [$"+envDatabaseURL+"]")
	fs.StringVar(&c.serverBinary, "server-binary", "bin/billing-api", "the billing-api binary to measure")
	fs.IntVar(&c.concurrency, "concurrency", 16, "requests in flight at once")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load before each measured phase")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured load per operation, side and round")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds; each runs every operation on both sides")
	fs.IntVar(&c.tenants, "tenants", 1000, "small tenants seeded besides the large one")
	fs.IntVar(&c.usageDays, "usage-days", defaultUsageDays,
		fmt.Sprintf("days of hourly usage records in each of the large tenant's %d usage series", usageSeriesCount))
	fs.StringVar(&c.jsonPath, "json", "", "also write the report as JSON to this file")
	fs.BoolVar(&c.keep, "keep", false, "keep the bench database instead of dropping it")
	fs.StringVar(&c.only, "only", "", "measure only the operations whose name matches this regular expression")
	fs.StringVar(&c.redisURL, "redis-url", defaultRedisURL,
		"Redis for the rows of a second server process with --redis-url (rate limits shared in Redis); empty or unreachable leaves them out")
	fs.StringVar(&c.profileDir, "profile", "", "write the server's CPU profile of each measured phase into this directory (<operation>-<round>.pprof)")
	cmd.AddCommand(newBaselineCommand())
	return cmd
}

func (c *config) validate() error {
	var errs []error
	if c.concurrency < 1 {
		errs = append(errs, errors.New("--concurrency must be at least 1"))
	}
	if c.duration <= 0 || c.warmup < 0 {
		errs = append(errs, errors.New("--duration must be positive and --warmup not negative"))
	}
	if c.rounds < 1 {
		errs = append(errs, errors.New("--rounds must be at least 1"))
	}
	if c.tenants < 0 {
		errs = append(errs, errors.New("--tenants must not be negative"))
	}
	if c.usageDays < 1 {
		errs = append(errs, errors.New("--usage-days must be at least 1"))
	}
	return errors.Join(errs...)
}

// progress goes to stderr, so stdout holds only the report.
func progress(msg string) { fmt.Fprintf(os.Stderr, "billing-bench: %s\n", msg) }

func run(ctx context.Context, c *config) (err error) {
	started := time.Now()
	if _, err := os.Stat(c.serverBinary); err != nil {
		return fmt.Errorf("--server-binary: %w (make bench builds it)", err)
	}
	pgVersion, err := postgresVersion(ctx, c.databaseURL)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", redact(c.databaseURL), err)
	}
	db, err := createBenchDatabase(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	progress("created database " + db.Name)
	defer func() {
		if c.keep {
			progress("kept database " + db.Name + " (--keep)")
			return
		}
		// Dropped even when the run was interrupted, hence not ctx.
		dropCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if dropErr := db.Drop(dropCtx); dropErr != nil {
			err = errors.Join(err, fmt.Errorf("dropping %s: %w", db.Name, dropErr))
		}
	}()

	seedStart := time.Now()
	fixture, took, err := seedDatabase(ctx, db.URL, seedConfig{Tenants: c.tenants, Workers: seedWorkers, UsageHours: 24 * c.usageDays})
	if err != nil {
		return err
	}
	usageRecords := len(fixture.UsageSeries) * fixture.UsageHours
	progress(fmt.Sprintf("ingested %d usage records (%d series × %d hours) in %s: %.0f records/s", usageRecords,
		len(fixture.UsageSeries), fixture.UsageHours, took["usage"].Round(time.Millisecond), float64(usageRecords)/took["usage"].Seconds()))
	if err := seedBaseline(ctx, db.URL); err != nil {
		return fmt.Errorf("seeding the baseline table: %w", err)
	}
	copied, err := settleDatabase(ctx, db.URL)
	if err != nil {
		return fmt.Errorf("filling the baseline's usage table and analyzing: %w", err)
	}
	seedTime := time.Since(seedStart)
	progress(fmt.Sprintf("seeded %d tenants + %s, %d baseline rows and %d baseline usage records in %s",
		c.tenants, largeTenant, baselineRows, copied, seedTime.Round(time.Millisecond)))

	srv, base, err := startServers(c, db.URL, fixture)
	if err != nil {
		return err
	}
	var notes []string
	shared, why := startSharedServer(ctx, c, db.URL, srv.adminToken)
	if why != "" {
		notes = append(notes, why)
		progress(why)
	}
	stopped := false
	stopAll := func() {
		if !stopped {
			stopped = true
			srv.Stop()
			base.Stop()
			if shared != nil {
				shared.Stop()
			}
		}
	}
	defer stopAll()

	cfg := loadConfig{Concurrency: c.concurrency, Warmup: c.warmup, Duration: c.duration}
	ops, err := measure(ctx, c, cfg, fixture, srv, shared, base)
	if err != nil {
		return err
	}
	if shared != nil {
		notes = append(notes, sharedLimitsNote(ctx, shared))
	}
	rep := &Report{
		Summary: Summary,
		Config:  RunConfig{Concurrency: c.concurrency, Warmup: c.warmup.String(), Duration: c.duration.String(), Rounds: c.rounds},
		Machine: Machine{GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Postgres: pgVersion},
		DataSet: DataSet{Tenants: c.tenants, LargeTenant: largeTenant, ListObjects: listObjects, SeedSeconds: seedTime.Seconds(),
			UsageSeries: len(fixture.UsageSeries), UsageDays: c.usageDays, UsageRecords: usageRecords, UsageSeedSeconds: took["usage"].Seconds()},
		Operations: ops,
		Started:    started.UTC().Truncate(time.Second),
		Notes:      notes,
	}
	if bi, err := buildinfo.ReadFile(c.serverBinary); err == nil {
		rep.Machine.ServerGoVersion = bi.GoVersion
	}
	// Read while both still run: VmHWM is the peak over the process's life.
	for _, p := range []struct {
		proc *process
		dst  *int64
	}{{srv, &rep.PeakRSS.Server}, {base, &rep.PeakRSS.Baseline}} {
		if rss, err := peakRSS(p.proc.PID()); err == nil {
			*p.dst = rss
		} else {
			rep.Notes = append(rep.Notes, fmt.Sprintf("peak RSS of the %s: %v", p.proc.Name, err))
		}
	}
	stopAll()

	if err := rep.WriteText(os.Stdout); err != nil {
		return err
	}
	if c.jsonPath != "" {
		if err := rep.WriteJSONFile(c.jsonPath); err != nil {
			return err
		}
		progress("wrote " + c.jsonPath)
	}
	var failed []string
	for _, o := range rep.Operations {
		if o.Server.Failed() {
			failed = append(failed, o.Name+" (server)")
		}
		if o.Baseline.Failed() {
			failed = append(failed, o.Name+" (baseline)")
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("every request failed for %s", strings.Join(failed, ", "))
	}
	return nil
}

// seedDatabase migrates the bench database with server.Open, as the server
// will, and seeds it through the services.
func seedDatabase(ctx context.Context, dbURL string, cfg seedConfig) (Fixture, seedTimes, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	openAt := func(ctx context.Context, c clock.Clock) (*server.App, error) {
		return server.Open(ctx, server.Config{Store: store.Config{URL: dbURL}, Logger: log, Clock: c})
	}
	a, err := openAt(ctx, nil)
	if err != nil {
		return Fixture{}, nil, fmt.Errorf("opening the bench database: %w", err)
	}
	defer a.Close()
	return seed(ctx, a, openAt, cfg, progress)
}

// seedBaseline creates the baseline's table, which is not the service's
// data and so is written with plain SQL.
func seedBaseline(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return createBaselineTable(ctx, conn)
}

// settleDatabase copies the seeded usage records into the baseline's usage
// table (returning how many) and ANALYZEs the whole database: a database
// in service has statistics (autovacuum analyzes a table soon after a
// tenth of it changed), and without them the plans, and so the numbers,
// would depend on whether autovacuum reached the freshly seeded tables
// before the load did.
func settleDatabase(ctx context.Context, dbURL string) (int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	n, err := fillBaselineUsage(ctx, conn)
	if err != nil {
		return 0, err
	}
	_, err = conn.Exec(ctx, "ANALYZE")
	return n, err
}

// startServers starts the server binary and the baseline (this executable
// again, with the hidden baseline command, told the large tenant's id for
// the usage records it copies).
func startServers(c *config, dbURL string, f Fixture) (*process, *process, error) {
	env := cleanEnv()
	adminToken, err := randomHex(16)
	if err != nil {
		return nil, nil, err
	}
	// The load generator is one client address: lift the no-auth
	// operations' per-address limit out of the way, as the seed does the
	// tenant's api_limits.
	args := []string{"serve", "--listen", "127.0.0.1:0", "--shutdown-drain-delay", "0", "--public-rate", "1000000000"}
	if c.profileDir != "" {
		args = append(args, "--pprof")
	}
	srv, err := startProcess("server", c.serverBinary, args,
		append(env, "DATABASE_URL="+dbURL, "BILLING_ADMIN_TOKEN="+adminToken, "BILLING_LOG_LEVEL=warn"),
		serverBanner, startTimeout)
	if err != nil {
		return nil, nil, err
	}
	srv.adminToken = adminToken
	self, err := os.Executable()
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	base, err := startProcess("baseline", self,
		[]string{"baseline", "--listen", "127.0.0.1:0", "--database-url", dbURL, "--tenant", f.Tenant + "=" + f.TenantID.String()},
		env, baselineBanner, startTimeout)
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	progress(fmt.Sprintf("server on %s (pid %d), baseline on %s (pid %d)", srv.URL, srv.PID(), base.URL, base.PID()))
	return srv, base, nil
}

// startSharedServer starts a second server process on the same database
// whose rate-limit buckets are in c.redisURL (under a key prefix of this
// run's own), for the rows marked SharedLimits. Without a Redis that
// answers it starts nothing and says why.
func startSharedServer(ctx context.Context, c *config, dbURL, adminToken string) (*process, string) {
	if c.redisURL == "" {
		return nil, "no --redis-url: the rows with rate limits in Redis are left out"
	}
	opt, err := redis.ParseURL(c.redisURL)
	if err != nil {
		return nil, fmt.Sprintf("--redis-url: %v: the rows with rate limits in Redis are left out", err)
	}
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = rdb.Ping(pctx).Err()
	cancel()
	_ = rdb.Close()
	if err != nil {
		return nil, fmt.Sprintf("Redis at %s does not answer (%v): the rows with rate limits in Redis are left out", opt.Addr, err)
	}
	suffix, err := randomHex(6)
	if err != nil {
		return nil, err.Error()
	}
	args := []string{"serve", "--listen", "127.0.0.1:0", "--shutdown-drain-delay", "0", "--public-rate", "1000000000",
		"--invoice-scheduler=false", "--redis-url", c.redisURL, "--redis-key-prefix", "billing-bench:" + suffix + ":",
		// The load saturates the machine, where a 20 ms answer is the
		// scheduler's delay, not Redis's: a longer timeout keeps the row
		// measuring the round trip (the report's note counts fallbacks).
		"--redis-timeout", benchRedisTimeout}
	p, err := startProcess("server (Redis)", c.serverBinary, args,
		append(cleanEnv(), "DATABASE_URL="+dbURL, "BILLING_ADMIN_TOKEN="+adminToken, "BILLING_LOG_LEVEL=warn"),
		serverBanner, startTimeout)
	if err != nil {
		return nil, fmt.Sprintf("the server with --redis-url did not start (%v): its rows are left out", err)
	}
	p.adminToken = adminToken
	progress(fmt.Sprintf("server with rate limits in Redis %s on %s (pid %d)", opt.Addr, p.URL, p.PID()))
	return p, ""
}

// sharedLimitsNote says how many of the Redis server's rate-limit checks
// Redis did not answer in time (decided by the process's own buckets):
// its rows measure Redis only as far as that number is 0.
func sharedLimitsNote(ctx context.Context, p *process) string {
	t := newTarget(p.URL, 1, nil)
	body, err := t.fetch(ctx, http.MethodGet, "/metrics", nil)
	if err != nil {
		return "server (Redis): reading /metrics: " + err.Error()
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "billing_ratelimit_fallback_checks_total "); ok {
			return "server (Redis): " + v + " rate-limit checks fell back to the process's own buckets (Redis did not answer within --redis-timeout)"
		}
	}
	return "server (Redis): /metrics has no billing_ratelimit_fallback_checks_total"
}

// measure checks the operations and runs the rounds. In each round every
// operation runs its baseline counterpart and itself back to back, the
// order flipping from round to round, so drift in the machine's load hits
// both sides alike.
func measure(ctx context.Context, c *config, cfg loadConfig, f Fixture, srv, shared, base *process) ([]OpResult, error) {
	st := newTarget(srv.URL, c.concurrency, http.Header{"Authorization": {"APIToken " + f.Token}})
	ot := newTarget(srv.URL, c.concurrency, http.Header{"Authorization": {"Bearer " + srv.adminToken}})
	var sharedTarget *target
	if shared != nil {
		sharedTarget = newTarget(shared.URL, c.concurrency, http.Header{"Authorization": {"APIToken " + f.Token}})
	}
	serverTarget := func(op operation) *target {
		switch {
		case op.SharedLimits:
			return sharedTarget
		case op.Operator:
			return ot
		}
		return st
	}
	serverProcess := func(op operation) *process {
		if op.SharedLimits {
			return shared
		}
		return srv
	}
	bt := newTarget(base.URL, c.concurrency, nil)
	baseCfg := cfg
	baseCfg.CPU = func() (time.Duration, error) { return cpuTime(base.PID()) }
	ops := operations
	if shared == nil {
		ops = slices.DeleteFunc(slices.Clone(ops), func(op operation) bool { return op.SharedLimits })
	}
	if c.only != "" {
		re, err := regexp.Compile(c.only)
		if err != nil {
			return nil, fmt.Errorf("--only: %w", err)
		}
		ops = slices.DeleteFunc(slices.Clone(ops), func(op operation) bool { return !re.MatchString(op.Name) })
		if len(ops) == 0 {
			return nil, fmt.Errorf("--only %q matches no operation", c.only)
		}
	}
	if err := checkOperations(ctx, ops, f, serverTarget, bt); err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("checked the answers of %d operation(s) on both sides", len(ops)))
	serverRounds := make([][]phase, len(ops))
	baseRounds := make([][]phase, len(ops))
	for r := range c.rounds {
		for i, op := range ops {
			// Both sides build from the same fixture, with this round's phase.
			pf := f
			pf.Phase = fmt.Sprintf("r%d", r+1)
			runServer := func() {
				progress(fmt.Sprintf("round %d/%d: %s on the server", r+1, c.rounds, op.Name))
				p := serverProcess(op)
				phaseCfg := cfg
				phaseCfg.CPU = func() (time.Duration, error) { return cpuTime(p.PID()) }
				if c.profileDir != "" {
					path := filepath.Join(c.profileDir, fmt.Sprintf("%s-%d.pprof", op.Name, r+1))
					phaseCfg.OnMeasure = func(d time.Duration) {
						if err := p.cpuProfile(ctx, d, path); err != nil {
							progress("profile: " + err.Error())
						}
					}
				}
				serverRounds[i] = append(serverRounds[i], runPhase(ctx, serverTarget(op), func(n uint64) (string, string, []byte) {
					var body []byte
					if op.Body != nil {
						body = op.Body(&pf, n)
					}
					return op.Method, op.Path(&pf, n), body
				}, phaseCfg))
			}
			runBase := func() {
				progress(fmt.Sprintf("round %d/%d: %s on the baseline (%s)", r+1, c.rounds, op.Name, op.Baseline.Name))
				b := op.Baseline
				baseRounds[i] = append(baseRounds[i], runPhase(ctx, bt, func(n uint64) (string, string, []byte) {
					var body []byte
					if b.Body != nil {
						body = b.Body(&pf, n)
					}
					return b.Method, b.Path(&pf, n), body
				}, baseCfg))
			}
			if r%2 == 0 {
				runBase()
				runServer()
			} else {
				runServer()
				runBase()
			}
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("interrupted: %w", err)
			}
			if err := errors.Join(srv.Exited(), base.Exited()); err != nil {
				return nil, err
			}
			if shared != nil {
				if err := shared.Exited(); err != nil {
					return nil, err
				}
			}
		}
	}
	out := make([]OpResult, len(ops))
	for i, op := range ops {
		// The first request stands for all in the report.
		request := op.Method + " " + op.Path(&f, 0)
		out[i] = newOpResult(op.Name, summarize(request, serverRounds[i]), summarize(op.Baseline.Name, baseRounds[i])).
			withRecords(op.RecordsPerRequest)
	}
	return out, nil
}

// checkOperations sends each operation once to each side before anything is
// measured (in phase "check", so no measured write repeats it): both must
// answer 2xx, the server's answer must pass the operation's Check and the
// baseline's its counterpart's. It fails listing every operation that
// does not.
func checkOperations(ctx context.Context, ops []operation, f Fixture, serverTarget func(operation) *target, bt *target) error {
	f.Phase = "check"
	var errs []error
	for _, op := range ops {
		if err := checkRequest(ctx, serverTarget(op), &f, op.Method, op.Path, op.Body, op.Check); err != nil {
			errs = append(errs, fmt.Errorf("%s on the server: %w", op.Name, err))
		}
		b := op.Baseline
		if err := checkRequest(ctx, bt, &f, b.Method, b.Path, b.Body, b.Check); err != nil {
			errs = append(errs, fmt.Errorf("%s on the baseline (%s): %w", op.Name, b.Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the operations' answers before measuring: %w", errors.Join(errs...))
	}
	return nil
}

// checkRequest sends the first request of a phase once and vets the answer
// with check (when set).
func checkRequest(ctx context.Context, t *target, f *Fixture, method string, path func(*Fixture, uint64) string,
	body func(*Fixture, uint64) []byte, check func(*Fixture, []byte) error) error {
	var b []byte
	if body != nil {
		b = body(f, 0)
	}
	got, err := t.fetch(ctx, method, path(f, 0), b)
	if err != nil || check == nil {
		return err
	}
	return check(f, got)
}
