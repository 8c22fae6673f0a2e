// Package jobs runs the service's background work on River
// (github.com/riverqueue/river), the one job engine of billing-api: closing
// due months, collecting invoices and retrying collections that failed.
//
// Jobs live in the service's own database (River's tables, created by the
// store's migrations), on PostgreSQL through River's database/sql driver and
// on SQLite through its SQLite driver, so a job is stored in the same
// transaction as the change that calls for it (store.SQLTx). Every replica
// works jobs; the periodic one (closing due months) is inserted by River's
// elected leader only. A replica that stops in the middle of a job leaves it
// running until the leader rescues it (RescueAfter) and another replica runs
// it again: every job is idempotent, because what must happen once is
// decided by the database's unique indexes (one invoice per tenant and
// month, one successful payment per invoice), never by the queue.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"riverqueue.com/riverui"

	"billing-api/server/invoice"
	"billing-api/store"
)

// Timing of the engine. A job may run for Timeout; one still marked running
// RescueAfter after it started (its replica stopped) is made available
// again by the leader, which checks every 30 s (River's rescuer interval),
// so a month's close that a stopped replica held is finished elsewhere
// within about RescueAfter + 30 s + the leader's 15 s term.
const (
	Timeout     = 30 * time.Second
	RescueAfter = 45 * time.Second
	// DueEvery is how often the leader looks for months that became due.
	DueEvery = time.Minute
	// monthCheckEvery is how often a month's job checks whether every
	// tenant's close has finished.
	monthCheckEvery = 2 * time.Second
	// DefaultWorkers is how many jobs a replica works at once.
	DefaultWorkers = 4
)

// Config wires the engine.
type Config struct {
	DB       *store.DB
	Invoices *invoice.Service
	Log      *slog.Logger
	// ID names this replica in River's records (leader, job attempts).
	ID string
}

// Queue inserts jobs; after Start it also works them.
type Queue struct {
	cfg    Config
	driver riverdriver.Driver[*sql.Tx]
	// client inserts and reads jobs (it never works them); worker, once
	// started, works them.
	client *river.Client[*sql.Tx]
	worker *river.Client[*sql.Tx]
}

// New returns a queue that inserts jobs and lets operators see them.
func New(cfg Config) (*Queue, error) {
	if cfg.DB == nil || cfg.Invoices == nil {
		return nil, errors.New("jobs: DB and Invoices are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	q := &Queue{cfg: cfg}
	if cfg.DB.Dialect() == store.Postgres {
		q.driver = riverdatabasesql.New(cfg.DB.SQL())
	} else {
		q.driver = riversqlite.New(cfg.DB.SQL())
	}
	var err error
	q.client, err = river.NewClient(q.driver, q.riverConfig(nil))
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return q, nil
}

// WorkOptions says what a working replica does.
type WorkOptions struct {
	// Workers is how many jobs run at once (default DefaultWorkers).
	Workers int
	// Schedule inserts the periodic job that closes due months (on the
	// elected leader only, whichever replica that is).
	Schedule bool
}

// riverConfig is the engine's configuration; with workers it works jobs.
func (q *Queue) riverConfig(w *river.Workers) *river.Config {
	c := &river.Config{
		ID:                   q.cfg.ID,
		Logger:               q.cfg.Log.With("component", "jobs"),
		JobTimeout:           Timeout,
		RescueStuckJobsAfter: RescueAfter,
		// The database/sql driver cannot LISTEN: replicas poll for jobs.
		PollOnly: true,
	}
	if w != nil {
		c.Workers = w
	}
	return c
}

// Start works jobs until Stop: every kind of job, opts.Workers at a time.
func (q *Queue) Start(ctx context.Context, opts WorkOptions) error {
	if q.worker != nil {
		return errors.New("jobs: already started")
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &closeDueWorker{q: q})
	river.AddWorker(workers, &closeMonthWorker{q: q})
	river.AddWorker(workers, &closeTenantWorker{q: q})
	river.AddWorker(workers, &collectWorker{q: q})
	cfg := q.riverConfig(workers)
	cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}}
	if opts.Schedule {
		cfg.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(DueEvery),
			// Not unique by period: a replica elected after another stopped
			// looks at once instead of waiting out the minute the other one
			// last looked in. Two looks are harmless: each month's job is
			// unique by its arguments, and the database allows one invoice
			// per tenant and month.
			func() (river.JobArgs, *river.InsertOpts) { return CloseDue{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true, ID: "close_due"})}
	}
	worker, err := river.NewClient(q.driver, cfg)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	if err := worker.Start(ctx); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	q.worker = worker
	q.cfg.Log.Info("job engine started", "workers", opts.Workers, "schedule", opts.Schedule)
	return nil
}

// Stop stops working jobs: those running get until ctx ends to finish, then
// are cancelled (and retried later, here or on another replica).
func (q *Queue) Stop(ctx context.Context) error {
	if q.worker == nil {
		return nil
	}
	err := q.worker.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = q.worker.StopAndCancel(context.WithoutCancel(ctx))
	}
	q.cfg.Log.Info("job engine stopped")
	return err
}

// insert stores a job: in the store transaction ctx carries, if any.
func (q *Queue) insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	var err error
	if tx, ok := store.SQLTx(ctx); ok {
		_, err = q.client.InsertTx(ctx, tx, args, opts)
	} else {
		_, err = q.client.Insert(ctx, args, opts)
	}
	if err != nil {
		return fmt.Errorf("queueing %s: %w", args.Kind(), err)
	}
	return nil
}

// once makes a job unique by its arguments while one with them is waiting,
// running or done (River keeps done jobs a day): inserting it again is a
// no-op.
var once = &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}

// Collect queues the collection of the invoice's current round
// (invoice.Later).
func (q *Queue) Collect(ctx context.Context, inv invoice.Invoice) error {
	return q.insert(ctx, Collect{TenantID: inv.TenantID.String(), Number: inv.Number, Round: inv.Round}, once)
}

var _ invoice.Later = (*Queue)(nil)

// ---- what operators see

// Job is a job as operators see it.
type Job struct {
	ID          int64
	Kind        string
	State       rivertype.JobState
	Args        string
	Attempt     int
	MaxAttempts int
	CreatedAt   time.Time
	// ScheduledAt is when it runs (next, for a retrying job).
	ScheduledAt time.Time
	AttemptedAt *time.Time
	FinishedAt  *time.Time
	// LastError is the last attempt's error, if it failed.
	LastError string
	// AttemptedBy names the replicas that ran it.
	AttemptedBy []string
}

// States operators ask about by default: what is running, waiting for a
// retry or gave up.
var DefaultStates = []rivertype.JobState{rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateDiscarded}

// List returns up to limit jobs in the given states (DefaultStates when
// none), newest first.
func (q *Queue) List(ctx context.Context, limit int, states ...rivertype.JobState) ([]Job, error) {
	if len(states) == 0 {
		states = DefaultStates
	}
	if limit <= 0 {
		limit = 100
	}
	res, err := q.client.JobList(ctx, river.NewJobListParams().States(states...).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit))
	if err != nil {
		return nil, err
	}
	out := make([]Job, 0, len(res.Jobs))
	for _, r := range res.Jobs {
		out = append(out, jobOf(r))
	}
	return out, nil
}

func jobOf(r *rivertype.JobRow) Job {
	j := Job{
		ID: r.ID, Kind: r.Kind, State: r.State, Args: string(r.EncodedArgs), Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		CreatedAt: r.CreatedAt.UTC(), ScheduledAt: r.ScheduledAt.UTC(), AttemptedBy: r.AttemptedBy,
	}
	if r.AttemptedAt != nil {
		t := r.AttemptedAt.UTC()
		j.AttemptedAt = &t
	}
	if r.FinalizedAt != nil {
		t := r.FinalizedAt.UTC()
		j.FinishedAt = &t
	}
	if n := len(r.Errors); n > 0 {
		j.LastError = r.Errors[n-1].Error
	}
	return j
}

// Retry makes a job that failed, gave up or was cancelled run again now.
func (q *Queue) Retry(ctx context.Context, id int64) (Job, error) {
	r, err := q.client.JobRetry(ctx, id)
	if err != nil {
		return Job{}, notFound(id, err)
	}
	return jobOf(r), nil
}

// Cancel stops a job from running again; a running one is cancelled when
// its replica next looks.
func (q *Queue) Cancel(ctx context.Context, id int64) (Job, error) {
	r, err := q.client.JobCancel(ctx, id)
	if err != nil {
		return Job{}, notFound(id, err)
	}
	return jobOf(r), nil
}

func notFound(id int64, err error) error {
	if errors.Is(err, river.ErrNotFound) {
		return fmt.Errorf("no job %d: %w", id, err)
	}
	return err
}

// UI is River's own web interface (riverui) over this queue's jobs, served
// under prefix: job lists by state with their errors, a job's attempts,
// queues, and the retry, cancel and delete actions. Its background work
// (the counts it caches) runs until ctx ends. Who may reach it is the
// caller's concern: the server puts it behind the operator token.
func (q *Queue) UI(ctx context.Context, prefix string) (http.Handler, error) {
	h, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(q.client, nil),
		Logger:    q.cfg.Log.With("component", "jobs-ui"),
		Prefix:    prefix,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: the web UI: %w", err)
	}
	if err := h.Start(ctx); err != nil {
		return nil, fmt.Errorf("jobs: the web UI: %w", err)
	}
	return h, nil
}
