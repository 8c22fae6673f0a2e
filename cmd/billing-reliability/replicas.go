package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"billing-api/server/payment"
	"billing-api/server/tenancy"
	"billing-api/server/usage"
)

// replicaState is the worst the checker saw across its checks.
type replicaState struct {
	Checks                                         int
	MaxPrimary, MaxSecondary, MaxOpen, MaxInvoices int
}

// replicasHammered runs two servers on one database and, at once, from
// several clients spread over both: payment-method role changes, plan
// transitions needing approval (rejected again by the operator), closes of
// last month, and the same usage batches sent to both. A checker reads the
// database throughout: at no check may a tenant have two PRIMARY or two
// SECONDARY methods, two open transitions or two invoices for a month.
// Afterwards every record is stored once and the rollups equal the raw sums.
func replicasHammered(ctx context.Context, r *runner) ([]figure, error) {
	dbURL, err := r.database(ctx)
	if err != nil {
		return nil, err
	}
	nTenants := r.cfg.scale(3, 6)
	names, err := r.seedBilled(ctx, dbURL, "rel-replica", nTenants, func(int) []string { return []string{"tok_visa_4242", "tok_visa_1881"} })
	if err != nil {
		return nil, err
	}
	a, err := r.app(ctx, dbURL, nil)
	if err != nil {
		return nil, err
	}
	db := a.DB.SQL()
	secrets := map[string]string{}
	methods := map[string][]string{}
	for _, name := range names {
		t, err := a.Tenancy.Tenant(ctx, name)
		if err != nil {
			return nil, err
		}
		_, secret, err := a.Tenancy.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: name, Name: "reliability", Role: tenancy.RoleAdmin})
		if err != nil {
			return nil, err
		}
		secrets[name] = secret
		if err := liftLimits(ctx, a, t.ID, "createPaymentMethod", "initiatePlanTransition", "makePaymentMethodPrimary",
			"makePaymentMethodSecondary", "swapPaymentMethodRole"); err != nil {
			return nil, err
		}
		for _, tok := range []string{"tok_visa_5556", "tok_mc_4444"} {
			if err := addMethod(ctx, a, t, tok, payment.RoleNormal); err != nil {
				return nil, err
			}
		}
		ms, err := a.Payments.Methods(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			methods[name] = append(methods[name], m.Name)
		}
	}
	srvA, err := r.server("replica-a", dbURL)
	if err != nil {
		return nil, err
	}
	srvB, err := r.server("replica-b", dbURL)
	if err != nil {
		return nil, err
	}
	bases := []string{srvA.URL, srvB.URL}

	// The checker.
	var state replicaState
	var checkErr error
	stopCheck := make(chan struct{})
	checked := make(chan struct{})
	m := lastMonth()
	go func() {
		defer close(checked)
		for {
			for _, c := range []struct {
				dst *int
				q   string
			}{
				{&state.MaxPrimary, `SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM payment_methods WHERE role = 'PRIMARY' GROUP BY tenant_id) c`},
				{&state.MaxSecondary, `SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM payment_methods WHERE role = 'SECONDARY' GROUP BY tenant_id) c`},
				{&state.MaxOpen, `SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM plan_transitions WHERE state IN ('CREATING', 'WAITING_FOR_APPROVAL') GROUP BY tenant_id) c`},
				{&state.MaxInvoices, `SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM invoices GROUP BY tenant_id, period_start) c`},
			} {
				n, err := count(ctx, db, c.q)
				if err != nil {
					checkErr = err
					return
				}
				*c.dst = max(*c.dst, n)
			}
			state.Checks++
			select {
			case <-stopCheck:
				return
			case <-time.After(20 * time.Millisecond): // the checker's pace
			}
		}
	}()

	hammer := r.cfg.duration(3*time.Second, 10*time.Second)
	deadline := time.Now().Add(hammer)
	var wg sync.WaitGroup
	var fivexx, requests atomic.Int64
	var firstBadMu sync.Mutex
	var firstBad []string
	note := func(a answer) {
		requests.Add(1)
		if a.Status >= 500 || a.Status == 0 {
			fivexx.Add(1)
			firstBadMu.Lock()
			if len(firstBad) < 3 {
				firstBad = append(firstBad, fmt.Sprintf("%d %s %v", a.Status, a.Body, a.Err))
			}
			firstBadMu.Unlock()
		}
	}
	// Payment-method roles: 4 clients per tenant, alternating replicas.
	for ti, name := range names {
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
					op := []string{"primary", "secondary", "swap-primary"}[(w+i)%3]
					pm := methods[name][(w*7+i+ti)%len(methods[name])]
					note(call(ctx, http.MethodPost, bases[(w+i)%2]+"/api/web/namespaces/system/billing/payment_method/"+pm+"/"+op, tokenAuth(secrets[name]), `{}`))
				}
			}()
		}
	}
	// Plan transitions that wait for approval, from both replicas at once;
	// the operator rejects whichever opened, so another can open.
	transition := `{"namespace":"system","new_plan":"ORGANIZATION","payload":{"domain":"example.com","billing_address":{"address1":"1 Main St","city":"Springfield","zip_code":"12345","country":"US"}}}`
	var opened atomic.Int64
	for _, name := range names {
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) && ctx.Err() == nil {
					ans := call(ctx, http.MethodPost, bases[w]+"/api/web/namespaces/system/billing/plan_transition", tokenAuth(secrets[name]), transition)
					note(ans)
					var tr struct{ ID string }
					if ans.Status == http.StatusOK && json.Unmarshal(ans.Body, &tr) == nil && tr.ID != "" {
						opened.Add(1)
						note(call(ctx, http.MethodPost, bases[1-w]+"/admin/v1/plan_transitions/"+tr.ID+"/reject", opsAuth, `{"reason":"reliability run"}`))
					}
				}
			}()
		}
	}
	// Closing last month, from both replicas at once, again and again.
	var closes atomic.Int64
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				ans := call(ctx, http.MethodPost, bases[w]+"/admin/v1/invoices/close", opsAuth, fmt.Sprintf(`{"period":%q}`, m))
				note(ans)
				if ans.Status == http.StatusOK {
					closes.Add(1)
				}
			}
		}()
	}
	// Overlapping ingestion: every batch to both replicas at once.
	t0, err := a.Tenancy.Tenant(ctx, names[0])
	if err != nil {
		return nil, err
	}
	var batchesMu sync.Mutex
	sentTotal, sentRecords := int64(0), 0
	now := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
			b := newUsageBatch(names[0], fmt.Sprintf("overlap%d", i), 200, now)
			var bw sync.WaitGroup
			for _, base := range bases {
				bw.Add(1)
				go func() {
					defer bw.Done()
					note(call(ctx, http.MethodPost, base+"/admin/v1/usage_records", opsAuth, b.Body))
				}()
			}
			bw.Wait()
			batchesMu.Lock()
			sentTotal += b.Total
			sentRecords += b.Size
			batchesMu.Unlock()
		}
	}()
	wg.Wait()
	close(stopCheck)
	<-checked
	if checkErr != nil {
		return nil, checkErr
	}
	stored, err := count(ctx, db, `SELECT COUNT(*) FROM usage_records WHERE tenant_id = $1`, t0.ID)
	if err != nil {
		return nil, err
	}
	mismatches, raw, err := rollupMismatches(ctx, db, t0.ID)
	if err != nil {
		return nil, err
	}
	h, err := checkInvoices(ctx, db, m, nTenants)
	if err != nil {
		return nil, err
	}
	return []figure{
		measured("load", fmt.Sprintf("2 servers, %d tenants, %s: %d requests (%d role changes' clients, %d transitions opened and rejected, %d closes of %s answered 200)",
			nTenants, hammer, requests.Load(), 4*nTenants, opened.Load(), closes.Load(), m)),
		mustBe("5xx answers or transport errors", int(fivexx.Load()), 0, fmt.Sprintf("of %d%s", requests.Load(), badDetail(firstBad, srvA.Logs.String()+srvB.Logs.String()))),
		measured("database checks during the run", fmt.Sprint(state.Checks)),
		atMost("most PRIMARY methods of one tenant at any check", state.MaxPrimary, 1),
		atMost("most SECONDARY methods of one tenant at any check", state.MaxSecondary, 1),
		atMost("most open plan transitions of one tenant at any check", state.MaxOpen, 1),
		atMost("most invoices of one tenant for one month at any check", state.MaxInvoices, 1),
		mustBe("billed tenants without their invoice", h.Missing, 0, fmt.Sprintf("of %d", nTenants)),
		mustBe("payments charged twice", h.ChargedTwice, 0, ""),
		mustBe("usage records stored (each batch sent to both replicas at once)", stored, sentRecords, "distinct records sent"),
		mustBe("quantity stored minus the distinct records' total (millionths)", int(raw-sentTotal*usage.QuantityScale), 0, ""),
		mustBe("rollups disagreeing with their raw records", mismatches, 0, ""),
	}, nil
}

// badDetail describes the first failed answers and the servers' logged
// failures, for a figure that must be 0 and is not.
func badDetail(answers []string, logs string) string {
	if len(answers) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s; server log: %s)", strings.Join(answers, " | "), failures(logs, 3))
}
