package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/invoice"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
	"billing-api/server/transition"
	"billing-api/server/usage"
)

const demoTenant = "demo"

// demoAddon is the add-on the demo tenant subscribes to (its plan allows it).
const demoAddon = "f5xc_waap_standard"

// The demo tenant's payment methods: the card it started with, which the
// provider declines, and the two it has now.
const (
	demoDeclinedToken  = "tok_decline_insufficient_funds"
	demoPrimaryToken   = "tok_visa_4242"
	demoSecondaryToken = "tok_mastercard_5555"
)

// demoClosedMonths is how many months of invoices the demo tenant has.
const demoClosedMonths = 3

// openAppAt opens another App on the serving App's store, reading clock c.
type openAppAt func(ctx context.Context, c clock.Clock) (*server.App, error)

// seedDemo creates the demo tenant with its history (once) and issues a
// fresh demo token on every start, revoking the previous ones so only the
// printed one works. The history is played on an App that openAt opens on
// the same store with a clock set back, so everything in it happened when
// it says it did.
func seedDemo(ctx context.Context, a *server.App, openAt openAppAt) (string, error) {
	_, err := a.Tenancy.Tenant(ctx, demoTenant)
	if fault.KindOf(err) == fault.KindNotFound {
		err = playDemoHistory(ctx, a.Now(), openAt)
	}
	if err != nil {
		return "", err
	}
	old, err := a.Tenancy.ListTokens(ctx, demoTenant)
	if err != nil {
		return "", err
	}
	for _, tok := range old {
		if tok.Name == "demo" && !tok.Revoked() {
			if _, err := a.Tenancy.RevokeToken(ctx, demoTenant, tok.ID); err != nil {
				return "", err
			}
		}
	}
	_, secret, err := a.Tenancy.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: demoTenant, Name: "demo", Role: tenancy.RoleAdmin})
	return secret, err
}

// demoReplay is the demo tenant's past being played on a clock set back.
type demoReplay struct {
	app   *server.App
	clock *clock.Manual
	seed  tenancy.Principal
	// recs are the demo usage records up to the real now, oldest first;
	// next is the first not ingested yet.
	recs []usage.RecordInput
	next int
}

// playDemoHistory plays the demo tenant's last three months up to now, on
// a clock that starts on the 2nd of the month three months back (or at the
// first demo usage record, when that is earlier):
//   - the tenant starts on FREE with a PRIMARY card the provider declines
//     and a SECONDARY one; three days later it moves to INDIVIDUAL, and in
//     the middle of the month subscribes to an add-on;
//   - usage arrives as the clock passes each hour;
//   - two days into each month the month before closes into an invoice:
//     the first is declined on the PRIMARY and paid by the SECONDARY, after
//     which the tenant adds a new PRIMARY card and deletes the declined one,
//     which pays the next two (the last closing at now, when that comes
//     before the two days);
//   - the clock reaches now and the running month's usage arrives.
//
// A tenant created meanwhile by another process is left to it.
func playDemoHistory(ctx context.Context, now time.Time, openAt openAppAt) error {
	first := period.Of(now).Add(-demoClosedMonths)
	c := clock.NewManual(first.Start().AddDate(0, 0, 1).Add(9 * time.Hour))
	h, err := openAt(ctx, c.Now)
	if err != nil {
		return err
	}
	defer h.Close()
	recs, err := demoUsageRecords(h.Usage.Types(), now)
	if err != nil {
		return err
	}
	slices.SortStableFunc(recs, func(a, b usage.RecordInput) int { return a.Timestamp.Compare(b.Timestamp) })
	if recs[0].Timestamp.Before(c.Now()) {
		c.Set(recs[0].Timestamp)
	}
	r := &demoReplay{app: h, clock: c, recs: recs}

	t, err := h.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: demoTenant, DisplayName: "Demo Corporation"})
	if errors.Is(err, fault.ErrConflict) {
		return nil
	}
	if err != nil {
		return err
	}
	r.seed = tenancy.Principal{TenantID: t.ID, TenantName: t.Name, TokenName: "demo-seed", Role: tenancy.RoleAdmin, Operator: true}
	if err := r.setUp(ctx); err != nil {
		return err
	}
	if err := r.ingestDue(ctx); err != nil {
		return err
	}

	// Onto the billed plan through a (self-service) plan transition, which
	// stays in the tenant's history; its flow needs the PRIMARY method.
	if err := r.until(ctx, first.Start().AddDate(0, 0, 4).Add(10*time.Hour)); err != nil {
		return err
	}
	if _, err := h.Transitions.Initiate(ctx, r.seed, demoPlan, transition.Payload{}); err != nil {
		return fmt.Errorf("moving the demo tenant to %s: %w", demoPlan, err)
	}
	if err := r.until(ctx, first.Start().AddDate(0, 0, 14).Add(14*time.Hour)); err != nil {
		return err
	}
	if _, err := h.Subscriptions.Subscribe(ctx, r.seed, demoAddon); err != nil {
		return fmt.Errorf("subscribing the demo tenant to %s: %w", demoAddon, err)
	}

	for i := range demoClosedMonths {
		month := first.Add(i)
		closeAt := month.End().Add(invoice.DefaultGrace)
		if closeAt.After(now) {
			closeAt = now
		}
		if err := r.until(ctx, closeAt); err != nil {
			return err
		}
		if err := r.closeMonth(ctx, month); err != nil {
			return err
		}
		if i == 0 {
			// The declined card is replaced a few hours later.
			if err := r.until(ctx, closeAt.Add(3*time.Hour)); err != nil {
				return err
			}
			if err := r.replaceDeclinedCard(ctx); err != nil {
				return err
			}
		}
	}
	if err := r.until(ctx, now); err != nil {
		return err
	}
	return r.recordGauges(ctx, now)
}

// demoContact is the billing address of the demo tenant's payment methods.
var demoContact = &payment.Contact{Type: "BILLING", Address1: "1 Demo Way", City: "Seattle", State: "Washington", StateCode: "WA", ZipCode: "98101", Country: "US"}

// setUp gives the new demo tenant a second namespace, quota objects at both
// levels and its first two payment methods.
func (r *demoReplay) setUp(ctx context.Context) error {
	a := r.app
	if _, err := a.Tenancy.CreateNamespace(ctx, demoTenant, "shop"); err != nil {
		return err
	}
	desc := "Tenant-wide limits for the demo."
	burst := int32(10)
	if _, err := a.Quotas.Create(ctx, r.seed, tenancy.SystemNamespace, quota.ObjectInput{
		Name: "tenant-defaults", Labels: map[string]string{"team": "platform"}, Description: &desc,
		Spec: quota.Limits{
			Objects: map[string]int32{"http_loadbalancer": 4},
			APIs:    map[string]quota.RateLimit{"listQuotas": {Rate: 5, Unit: quota.Second, Burst: &burst}},
		},
	}); err != nil {
		return err
	}
	shopDesc := "Limits of the shop namespace."
	if _, err := a.Quotas.Create(ctx, r.seed, "shop", quota.ObjectInput{
		Name: "shop-limits", Labels: map[string]string{"team": "web", "env": "prod"}, Description: &shopDesc,
		Spec: quota.Limits{Objects: map[string]int32{"origin_pool": 4}, Resources: map[string]float64{"storage_gib": 20}},
	}); err != nil {
		return err
	}
	for _, in := range []payment.CreateInput{
		{Token: demoDeclinedToken, Role: payment.RolePrimary, Contact: demoContact},
		{Token: demoSecondaryToken, Role: payment.RoleSecondary, Contact: demoContact},
	} {
		if _, err := a.Payments.Create(ctx, r.seed, in); err != nil {
			return fmt.Errorf("seeding demo payment methods: %w", err)
		}
	}
	return nil
}

// replaceDeclinedCard adds the new PRIMARY card (the declined one becomes
// NORMAL) and deletes the declined one.
func (r *demoReplay) replaceDeclinedCard(ctx context.Context) error {
	a := r.app
	if _, err := a.Payments.Create(ctx, r.seed, payment.CreateInput{Token: demoPrimaryToken, Role: payment.RolePrimary, Contact: demoContact}); err != nil {
		return fmt.Errorf("adding the demo tenant's new card: %w", err)
	}
	methods, err := a.Payments.Methods(ctx, r.seed.TenantID)
	if err != nil {
		return err
	}
	for _, m := range methods {
		if m.Token == demoDeclinedToken {
			if err := a.Payments.Delete(ctx, r.seed, m.Name); err != nil {
				return fmt.Errorf("deleting the demo tenant's declined card: %w", err)
			}
		}
	}
	return nil
}

// closeMonth closes the demo tenant's month; it must come out as an
// invoice.
func (r *demoReplay) closeMonth(ctx context.Context, month period.Month) error {
	res, err := r.app.Invoices.ClosePeriod(ctx, month, demoTenant)
	if err != nil {
		return fmt.Errorf("closing %s for the demo tenant: %w", month, err)
	}
	if len(res) != 1 || res[0].Err != nil || res[0].Outcome != invoice.ClosedIssued {
		return fmt.Errorf("closing %s for the demo tenant: %+v, want an invoice issued", month, res)
	}
	return nil
}

// recordGauges observes the demo tenant's objects and storage at now.
func (r *demoReplay) recordGauges(ctx context.Context, now time.Time) error {
	id := r.seed.TenantID
	_, _, err := r.app.Quotas.RecordGauges(ctx,
		[]quota.ObjectCount{
			{TenantID: id, Namespace: "shop", Kind: "http_loadbalancer", Count: 3, ObservedAt: now},
			{TenantID: id, Namespace: "shop", Kind: "origin_pool", Count: 2, ObservedAt: now},
			{TenantID: id, Namespace: tenancy.SystemNamespace, Kind: "http_loadbalancer", Count: 1, ObservedAt: now},
		},
		[]quota.ResourceAmount{{TenantID: id, Namespace: "shop", Resource: "storage_gib", Amount: 4.5, ObservedAt: now}},
	)
	return err
}

// until moves the clock forward to t a day at a time, each step ingesting
// the usage of the hours begun by then: a record never lies ahead of the
// clock, and each month's usage is in before the month closes.
func (r *demoReplay) until(ctx context.Context, t time.Time) error {
	for now := r.clock.Now(); now.Before(t); now = r.clock.Now() {
		next := now.Add(24 * time.Hour)
		if next.After(t) {
			next = t
		}
		r.clock.Set(next)
		if err := r.ingestDue(ctx); err != nil {
			return err
		}
	}
	return nil
}

// ingestDue ingests the records of the hours begun by the clock's reading.
func (r *demoReplay) ingestDue(ctx context.Context) error {
	now := r.app.Now()
	end := r.next
	for end < len(r.recs) && !r.recs[end].Timestamp.After(now) {
		end++
	}
	_, err := ingestDemoUsage(ctx, r.app, r.recs[r.next:end])
	r.next = end
	return err
}
