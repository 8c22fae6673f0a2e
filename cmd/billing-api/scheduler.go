package main

import (
	"context"
	"log/slog"
	"time"

	"billing-api/server"
	"billing-api/server/fault"
	"billing-api/server/invoice"
	"billing-api/server/period"
)

// The invoice scheduler wakes when the next month becomes due, but at
// least hourly (a clock step or a month closed meanwhile by an operator
// costs at most an hour), and a few minutes after a run that failed.
const (
	schedulerMaxSleep   = time.Hour
	schedulerRetryDelay = 5 * time.Minute
)

// dueMonths is what the scheduler needs of invoicing.
type dueMonths interface {
	RunDue(ctx context.Context) ([]period.Month, error)
	NextDue() time.Time
	Now() time.Time
	Runs(ctx context.Context, limit int) ([]invoice.Run, error)
}

var _ dueMonths = (*invoice.Service)(nil)

// invoiceScheduler closes due months from inside serve (never from the
// one-shot commands): at start-up, so months missed while no server ran
// are caught up, and then whenever the next month becomes due. Every
// replica runs one; the months' leases in the database let one close each.
type invoiceScheduler struct {
	invoices dueMonths
	log      *slog.Logger
	// after is the timer; tests replace it to step the loop by hand.
	after func(d time.Duration) <-chan time.Time
}

func newInvoiceScheduler(a *server.App) *invoiceScheduler {
	return &invoiceScheduler{invoices: a.Invoices, log: a.Log, after: time.After}
}

// run closes due months until ctx ends. A run in progress when ctx ends
// stops at the next tenant: what it committed stays, and an interrupted
// charge is resumed by the next run with its idempotency key.
func (s *invoiceScheduler) run(ctx context.Context) {
	s.log.Info("invoice scheduler started")
	defer s.log.Info("invoice scheduler stopped")
	for {
		wait := s.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.log.Debug("invoice scheduler sleeping", "for", wait.String(), "next_due", s.invoices.NextDue().Format(time.RFC3339))
		select {
		case <-ctx.Done():
			return
		case <-s.after(wait):
		}
	}
}

// runOnce closes what is due, logs each month closed, and returns how long
// to sleep before the next run.
func (s *invoiceScheduler) runOnce(ctx context.Context) time.Duration {
	months, err := s.invoices.RunDue(ctx)
	if len(months) > 0 {
		s.logClosed(ctx, months)
	}
	switch {
	case ctx.Err() != nil:
		return 0
	case err != nil:
		s.log.ErrorContext(ctx, "invoice scheduler run failed", "error", fault.Detail(err), "retry_in", schedulerRetryDelay.String())
		return schedulerRetryDelay
	}
	s.log.InfoContext(ctx, "invoice scheduler run finished", "months_closed", len(months))
	return min(max(s.invoices.NextDue().Sub(s.invoices.Now()), time.Second), schedulerMaxSleep)
}

// logClosed logs every month this run closed with its run's counts.
func (s *invoiceScheduler) logClosed(ctx context.Context, months []period.Month) {
	runs, err := s.invoices.Runs(ctx, 0)
	if err != nil {
		s.log.WarnContext(ctx, "invoice scheduler: reading the runs", "error", fault.Detail(err))
	}
	byPeriod := make(map[period.Month]invoice.Run, len(runs))
	for _, r := range runs {
		byPeriod[r.Period] = r
	}
	for _, m := range months {
		r := byPeriod[m]
		attrs := []any{"period", m.String(), "issued", r.Issued, "failed", r.Failed, "owner", r.Owner}
		if r.FinishedAt != nil {
			attrs = append(attrs, "took", r.FinishedAt.Sub(r.StartedAt).String())
		}
		s.log.InfoContext(ctx, "invoice month closed", attrs...)
	}
}
