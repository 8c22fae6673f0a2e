package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"billing-api/server/fault"
	"billing-api/server/period"
)

// The invoicing jobs. Each only calls the invoice service's steps (see
// server/invoice/close.go); none holds a rule of its own.

// CloseDue queues every month that became due, and a collection for every
// invoice whose round is unfinished (a collection queued by a process
// without the engine, say). The leader inserts it every DueEvery.
type CloseDue struct{}

func (CloseDue) Kind() string { return "invoice.close_due" }

// CloseMonth closes one month for every tenant: it queues one CloseTenant
// per tenant still open, then waits (snoozing) until all are closed and
// records the month finished.
type CloseMonth struct {
	Period string `json:"period"`
}

func (CloseMonth) Kind() string { return "invoice.close_month" }

// CloseTenant closes one tenant's month: its invoice issued (or nothing to
// bill), its collection queued in the same transaction.
type CloseTenant struct {
	Tenant string `json:"tenant"`
	Period string `json:"period"`
}

func (CloseTenant) Kind() string { return "invoice.close_tenant" }

// Collect runs (or resumes) one collection round of an invoice. A provider
// error fails the attempt and River retries it with backoff; a decline is
// an outcome, not an error.
type Collect struct {
	TenantID string `json:"tenant_id"`
	Number   string `json:"number"`
	Round    int    `json:"round"`
}

func (Collect) Kind() string { return "invoice.collect" }

type closeDueWorker struct {
	river.WorkerDefaults[CloseDue]
	q *Queue
}

func (w *closeDueWorker) Work(ctx context.Context, _ *river.Job[CloseDue]) error {
	months, err := w.q.cfg.Invoices.Due(ctx)
	if err != nil {
		return err
	}
	for _, m := range months {
		if err := w.q.insert(ctx, CloseMonth{Period: m.String()}, once); err != nil {
			return err
		}
	}
	queued := make([]string, 0, len(months))
	for _, m := range months {
		queued = append(queued, m.String())
	}
	w.q.cfg.Log.InfoContext(ctx, "invoice months queued", "months", queued)
	stuck, err := w.q.cfg.Invoices.Collecting(ctx)
	if err != nil {
		return err
	}
	for _, inv := range stuck {
		if err := w.q.Collect(ctx, inv); err != nil {
			return err
		}
	}
	return nil
}

type closeMonthWorker struct {
	river.WorkerDefaults[CloseMonth]
	q *Queue
}

func (w *closeMonthWorker) Work(ctx context.Context, job *river.Job[CloseMonth]) error {
	m, err := period.Parse(job.Args.Period)
	if err != nil {
		return river.JobCancel(fmt.Errorf("period %q: %w", job.Args.Period, err))
	}
	open, err := w.q.cfg.Invoices.OpenMonth(ctx, m)
	if err != nil {
		return err
	}
	for _, t := range open {
		if err := w.q.insert(ctx, CloseTenant{Tenant: t.Name, Period: job.Args.Period}, once); err != nil {
			return err
		}
	}
	failed, err := w.q.failedCloses(ctx, job.Args.Period)
	if err != nil {
		return err
	}
	done, err := w.q.cfg.Invoices.FinishMonth(ctx, m, failed)
	if err != nil {
		return err
	}
	if !done {
		return river.JobSnooze(monthCheckEvery)
	}
	w.q.logClosed(ctx, m)
	return nil
}

// failedCloses counts the month's tenant closes whose last attempt failed.
func (q *Queue) failedCloses(ctx context.Context, month string) (int, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().Kinds(CloseTenant{}.Kind()).
		States(rivertype.JobStateRetryable, rivertype.JobStateDiscarded).First(10_000))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range res.Jobs {
		var a CloseTenant
		if json.Unmarshal(r.EncodedArgs, &a) == nil && a.Period == month {
			n++
		}
	}
	return n, nil
}

// logClosed logs a finished month with its run's counts.
func (q *Queue) logClosed(ctx context.Context, m period.Month) {
	runs, err := q.cfg.Invoices.Runs(ctx, 0)
	if err != nil {
		q.cfg.Log.WarnContext(ctx, "reading the invoice runs", "error", fault.Detail(err))
		return
	}
	for _, r := range runs {
		if r.Period != m {
			continue
		}
		attrs := []any{"period", m.String(), "issued", r.Issued, "started_by", r.Owner}
		if r.FinishedAt != nil {
			attrs = append(attrs, "took", r.FinishedAt.Sub(r.StartedAt).String())
		}
		q.cfg.Log.InfoContext(ctx, "invoice month closed", attrs...)
	}
}

type closeTenantWorker struct {
	river.WorkerDefaults[CloseTenant]
	q *Queue
}

func (w *closeTenantWorker) Work(ctx context.Context, job *river.Job[CloseTenant]) error {
	m, err := period.Parse(job.Args.Period)
	if err != nil {
		return river.JobCancel(fmt.Errorf("period %q: %w", job.Args.Period, err))
	}
	_, err = w.q.cfg.Invoices.CloseTenant(ctx, job.Args.Tenant, m)
	if fault.KindOf(err) == fault.KindNotFound {
		return river.JobCancel(err) // the tenant is gone: nothing to close
	}
	return err
}

type collectWorker struct {
	river.WorkerDefaults[Collect]
	q *Queue
}

func (w *collectWorker) Work(ctx context.Context, job *river.Job[Collect]) error {
	id, err := uuid.Parse(job.Args.TenantID)
	if err != nil {
		return river.JobCancel(fmt.Errorf("tenant id %q: %w", job.Args.TenantID, err))
	}
	_, err = w.q.cfg.Invoices.CollectRound(ctx, id, job.Args.Number, job.Args.Round)
	if fault.KindOf(err) == fault.KindNotFound {
		return river.JobCancel(err)
	}
	return err
}
