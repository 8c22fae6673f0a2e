package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/riverqueue/river/rivertype"

	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/invoice"
	"billing-api/server/jobs"
	"billing-api/server/money"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/tenancy"
	"billing-api/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }

// flakyProvider fails the first charge of every idempotency key with a
// provider error (not a decline), then charges it.
type flakyProvider struct {
	payment.TestProvider
	mu    sync.Mutex
	calls map[string]int
}

var errProviderDown = errors.New("the payment provider answered 503")

func (p *flakyProvider) Charge(ctx context.Context, token string, amount money.Amount, currency, key string) (payment.Charge, error) {
	p.mu.Lock()
	p.calls[key]++
	n := p.calls[key]
	p.mu.Unlock()
	if n == 1 {
		return payment.Charge{}, errProviderDown
	}
	return p.TestProvider.Charge(ctx, token, amount, currency, key)
}

func (p *flakyProvider) callsOf(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[key]
}

// A working replica closes every month that became due since the tenants
// were created — each tenant invoiced once per month — and collects each
// invoice, retrying the collection that the provider failed: the jobs
// queued in the close's transaction, worked by River.
func TestTheJobsCloseDueMonthsAndRetryFailedCollections(t *testing.T) {
	ctx := context.Background()
	cfg := storetest.Config(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	first := period.Of(time.Now()).Add(-3)
	since := first.Start().AddDate(0, 0, 2)
	seed, err := server.Open(ctx, server.Config{Store: cfg, Clock: clock.NewManual(since).Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"acme", "beta", "gamma"}
	nameOf := map[uuid.UUID]string{}
	for _, name := range names {
		tn, err := seed.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		nameOf[tn.ID] = name
		if err := seed.Plans.AssignPlan(ctx, tn.ID, "INDIVIDUAL"); err != nil {
			t.Fatal(err)
		}
		p := tenancy.Principal{TenantID: tn.ID, TenantName: name, TokenName: "seed", Role: tenancy.RoleAdmin}
		if _, err := seed.Payments.Create(ctx, p, payment.CreateInput{Token: "tok_visa_4242", Role: payment.RolePrimary}); err != nil {
			t.Fatal(err)
		}
	}
	_ = seed.Close()

	provider := &flakyProvider{calls: map[string]int{}}
	a, err := server.Open(ctx, server.Config{Store: cfg, Logger: quiet, PaymentProvider: provider, ReplicaName: "replica-a"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if err := a.Jobs.Start(ctx, jobs.WorkOptions{Workers: 4, Schedule: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := a.Jobs.Stop(stop); err != nil {
			t.Error(err)
		}
	})

	// The first two months ended long ago whatever today is; the month just
	// ended may still be in its grace period.
	months := []period.Month{first, first.Next()}
	deadline := time.Now().Add(90 * time.Second)
	for {
		runs, err := a.Invoices.Runs(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		finished := map[period.Month]invoice.Run{}
		for _, r := range runs {
			if r.FinishedAt != nil {
				finished[r.Period] = r
			}
		}
		paid := 0
		for _, m := range months {
			invs, err := a.Invoices.Find(ctx, "", invoice.Filter{Period: &m})
			if err != nil {
				t.Fatal(err)
			}
			for _, inv := range invs {
				if inv.Status == invoice.StatusPaid {
					paid++
				}
			}
		}
		if paid == len(names)*len(months) && len(finished) >= len(months) {
			for _, m := range months {
				if r := finished[m]; r.Issued != len(names) || r.Failed != 0 || r.Owner != "replica-a" {
					t.Errorf("run of %s: %+v, want %d issued by replica-a", m, r, len(names))
				}
			}
			break
		}
		if time.Now().After(deadline) {
			list, _ := a.Jobs.List(ctx, 50)
			t.Fatalf("after 90 s: %d of %d invoices paid, runs %+v; jobs %+v", paid, len(names)*len(months), runs, list)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// One invoice per tenant and month, paid by one successful charge after
	// a retried provider error.
	var numbers []string
	for _, m := range months {
		invs, err := a.Invoices.Find(ctx, "", invoice.Filter{Period: &m})
		if err != nil {
			t.Fatal(err)
		}
		if len(invs) != len(names) {
			t.Fatalf("%s has %d invoices, want %d", m, len(invs), len(names))
		}
		for _, inv := range invs {
			numbers = append(numbers, inv.TenantID.String()+" "+inv.Number)
			detail, err := a.Invoices.Detail(ctx, nameOf[inv.TenantID], inv.Number)
			if err != nil {
				t.Fatal(err)
			}
			succeeded := 0
			for _, p := range detail.Payments {
				if p.Outcome == invoice.OutcomeSucceeded {
					succeeded++
					if n := provider.callsOf(p.IdempotencyKey); n != 2 {
						t.Errorf("%s: the provider was called %d times with %s, want 2 (a failure, then the retry)", inv.Number, n, p.IdempotencyKey)
					}
				}
			}
			if succeeded != 1 {
				t.Errorf("%s has %d successful charges", inv.Number, succeeded)
			}
		}
	}
	// Each collection that failed once is a retried job, completed (River
	// records completions shortly after the work is done).
	var retried map[string]bool
	for {
		done, err := a.Jobs.List(ctx, 1000, rivertype.JobStateCompleted)
		if err != nil {
			t.Fatal(err)
		}
		retried = map[string]bool{}
		for _, j := range done {
			var args jobs.Collect
			if j.Kind == args.Kind() && j.Attempt == 2 && strings.Contains(j.LastError, errProviderDown.Error()) &&
				json.Unmarshal([]byte(j.Args), &args) == nil {
				retried[args.TenantID+" "+args.Number] = true
			}
		}
		missing := slices.DeleteFunc(slices.Clone(numbers), func(n string) bool { return retried[n] })
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no completed, once retried collection of %v: %+v", missing, done)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
