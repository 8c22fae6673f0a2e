package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/invoice"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
	"billing-api/server/transition"
	"billing-api/server/usage"
)

// The shape of the seeded data set. The large tenant is the one the load
// runs as; the small ones are there so every table holds many tenants' rows,
// as a shared production database does.
const (
	largeTenant = "bench-large"
	// listNamespace is the large tenant's namespace the operations read:
	// listQuotas answers listObjects objects from it.
	listNamespace = "ns-00"
	listObjects   = 50
	// largeNamespaces are the large tenant's namespaces besides system;
	// all but listNamespace hold otherObjects quota objects, and so does system.
	largeNamespaces = 10
	otherObjects    = 5
	// smallNamespace is each small tenant's namespace besides system.
	smallNamespace = "apps"
	// unlimitedRate lifts an api_limits entry out of the way of the load.
	unlimitedRate = 1_000_000_000
	// invoiceMonths is how many closed months of invoices the large tenant
	// has: it was created that many months before the running one.
	invoiceMonths = 12
)

// openAppAt opens another App on the bench database, reading clock c: the
// large tenant's past is played on one whose clock is set back.
type openAppAt func(ctx context.Context, c clock.Clock) (*server.App, error)

// seedConfig sizes the data set.
type seedConfig struct {
	// Tenants is the number of small tenants (the large one comes on top).
	Tenants int
	// Workers is how many tenants are seeded at once; the services'
	// transactions are short, so a few in flight keep the database busy.
	Workers int
	// UsageHours is how many hourly usage records each of the large
	// tenant's usageSeriesCount series gets (at least 1; --usage-days × 24).
	UsageHours int
}

// seededTenant is a tenant as the seeders made it.
type seededTenant struct {
	tenancy.Tenant
	// Namespaces are its namespaces besides system.
	Namespaces []string
}

// principal is the operator acting for the tenant while seeding.
func (t seededTenant) principal() tenancy.Principal {
	return tenancy.Principal{TenantID: t.ID, TenantName: t.Name, TokenName: "bench-seed", Role: tenancy.RoleAdmin, Operator: true}
}

// Fixture is what the operations' requests are built from.
type Fixture struct {
	Tenant   string
	TenantID uuid.UUID
	// Token is the secret of the large tenant's admin API token.
	Token string
	// ListNamespace holds QuotaNames, the objects the quota operations touch.
	ListNamespace string
	QuotaNames    []string
	// UsageSeries are the large tenant's metered series; each has a record
	// for each of the UsageHours hours up to and including the one starting
	// at UsageLast, the hour the seed ran in.
	UsageSeries []usageSeries
	UsageHours  int
	UsageLast   time.Time
	// TransitionID is the large tenant's finished plan transition (the
	// no-auth status operation reads it).
	TransitionID uuid.UUID
	// Phase names the phase a request is built for (measure sets it per
	// round), so the ids of ingested records never repeat from one phase
	// to the next: the sequence number n starts from 0 in every phase.
	Phase string
}

// dataset is what one seeder hands to the next.
type dataset struct {
	cfg     seedConfig
	small   []seededTenant
	large   seededTenant
	fixture Fixture
	// now is when the seed started; past is an App on the same database
	// whose clock, pastClock, starts invoiceMonths months back and moves
	// forward up to now: what the large tenant did before now is done
	// through it, when it would have happened.
	now       time.Time
	past      *server.App
	pastClock *clock.Manual
}

// seeders fill the bench database, one per domain, in this order, each
// through its domain's service (so the rows are what the API would have
// written). A later domain appends its own here.
var seeders = []struct {
	domain string
	seed   func(ctx context.Context, a *server.App, d *dataset) error
}{
	{"tenancy", seedTenancy},
	{"quotas", seedQuotas},
	{"usage", seedUsage},
	{"accounts", seedAccounts},
	{"invoices", seedInvoices},
}

// seedTimes is how long each domain's seeding took, by domain.
type seedTimes map[string]time.Duration

// seed builds the whole data set through a, and the large tenant's past
// through an App that openAt opens on the same database, and returns what
// the load needs.
func seed(ctx context.Context, a *server.App, openAt openAppAt, cfg seedConfig, progress func(string)) (Fixture, seedTimes, error) {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.UsageHours < 1 {
		return Fixture{}, nil, fmt.Errorf("the usage data set needs at least one hour, not %d", cfg.UsageHours)
	}
	d := &dataset{cfg: cfg, now: a.Now()}
	d.pastClock = clock.NewManual(period.Of(d.now).Add(-invoiceMonths).Start().Add(9 * time.Hour))
	past, err := openAt(ctx, d.pastClock.Now)
	if err != nil {
		return Fixture{}, nil, fmt.Errorf("opening the bench database on a clock set back: %w", err)
	}
	defer past.Close()
	d.past = past
	took := seedTimes{}
	for _, s := range seeders {
		start := time.Now()
		if err := s.seed(ctx, a, d); err != nil {
			return Fixture{}, nil, fmt.Errorf("seeding %s: %w", s.domain, err)
		}
		took[s.domain] = time.Since(start)
		progress(fmt.Sprintf("seeded %s in %s", s.domain, took[s.domain].Round(time.Millisecond)))
	}
	return d.fixture, took, nil
}

// eachTenant runs fn for every small tenant, cfg.Workers at a time.
func (d *dataset) eachTenant(ctx context.Context, fn func(ctx context.Context, i int, t *seededTenant) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.Workers)
	for i := range d.small {
		g.Go(func() error { return fn(ctx, i, &d.small[i]) })
	}
	return g.Wait()
}

func smallTenantName(i int) string { return fmt.Sprintf("bench-%04d", i) }

// seedTenancy creates the tenants (each with its system namespace), their
// other namespaces and an admin API token each; the large tenant's token is
// the one the load uses. The large tenant and its namespaces are created
// invoiceMonths months back.
func seedTenancy(ctx context.Context, a *server.App, d *dataset) error {
	d.small = make([]seededTenant, d.cfg.Tenants)
	err := d.eachTenant(ctx, func(ctx context.Context, i int, st *seededTenant) error {
		t, err := a.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: smallTenantName(i), DisplayName: fmt.Sprintf("Bench tenant %d", i)})
		if err != nil {
			return err
		}
		if _, err := a.Tenancy.CreateNamespace(ctx, t.Name, smallNamespace); err != nil {
			return err
		}
		if _, _, err := a.Tenancy.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: t.Name, Name: "ci", Role: tenancy.RoleAdmin}); err != nil {
			return err
		}
		*st = seededTenant{Tenant: t, Namespaces: []string{smallNamespace}}
		return nil
	})
	if err != nil {
		return err
	}

	t, err := d.past.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: largeTenant, DisplayName: "Bench large tenant"})
	if err != nil {
		return err
	}
	d.large = seededTenant{Tenant: t}
	for i := range largeNamespaces {
		ns := fmt.Sprintf("ns-%02d", i)
		if _, err := d.past.Tenancy.CreateNamespace(ctx, t.Name, ns); err != nil {
			return err
		}
		d.large.Namespaces = append(d.large.Namespaces, ns)
	}
	_, secret, err := a.Tenancy.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: t.Name, Name: "bench", Role: tenancy.RoleAdmin})
	if err != nil {
		return err
	}
	d.fixture = Fixture{Tenant: t.Name, TenantID: t.ID, Token: secret, ListNamespace: listNamespace}
	return nil
}

// benchOverrides lifts the large tenant's limits on what the load touches:
// every rate-limited operation of the table (so a later domain's rows are
// covered by adding them) and the number of quota objects per namespace.
func benchOverrides() quota.Limits {
	l := quota.Limits{Objects: map[string]int32{quota.KindQuota: quota.Unlimited}, APIs: map[string]quota.RateLimit{}}
	burst := int32(unlimitedRate)
	for _, op := range operations {
		if op.OperationID != "" {
			l.APIs[op.OperationID] = quota.RateLimit{Rate: unlimitedRate, Unit: quota.Second, Burst: &burst}
		}
	}
	return l
}

// quotaInput is the i-th quota object of a namespace: a spread of labels
// and limits, none of them on the kinds or operations the load needs.
func quotaInput(name string, i int) quota.ObjectInput {
	desc := fmt.Sprintf("Seeded limits %d.", i)
	return quota.ObjectInput{
		Name:        name,
		Labels:      map[string]string{"team": []string{"web", "data", "ops"}[i%3], "env": []string{"prod", "staging"}[i%2]},
		Annotations: map[string]string{"owner": fmt.Sprintf("team-%d@example.com", i%7)},
		Description: &desc,
		Spec: quota.Limits{
			Objects:   map[string]int32{"origin_pool": int32(100 + i), "http_loadbalancer": int32(50 + i)},
			Resources: map[string]float64{"storage_gib": float64(500 + i)},
		},
	}
}

func quotaName(i int) string { return fmt.Sprintf("q-%02d", i) }

// seedQuotas gives every small tenant a tenant-wide and a namespace quota
// object, and the large tenant its overrides, its objects and usage gauges.
func seedQuotas(ctx context.Context, a *server.App, d *dataset) error {
	err := d.eachTenant(ctx, func(ctx context.Context, i int, st *seededTenant) error {
		p := st.principal()
		if _, err := a.Quotas.Create(ctx, p, tenancy.SystemNamespace, quotaInput("tenant-defaults", i)); err != nil {
			return err
		}
		_, err := a.Quotas.Create(ctx, p, smallNamespace, quotaInput("apps-limits", i))
		return err
	})
	if err != nil {
		return err
	}

	lt := d.large
	// First, or listNamespace could not hold more objects than the plan allows.
	if _, err := a.Quotas.SetLimitOverrides(ctx, lt.ID, benchOverrides()); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.Workers)
	for _, ns := range append([]string{tenancy.SystemNamespace}, lt.Namespaces...) {
		n := otherObjects
		if ns == listNamespace {
			n = listObjects
		}
		for i := range n {
			g.Go(func() error {
				in := quotaInput(quotaName(i), i)
				if ns == tenancy.SystemNamespace {
					// Tenant-wide objects also limit an operation the load does not call.
					in.Spec.APIs = map[string]quota.RateLimit{"deleteQuota": {Rate: int32(100 + i), Unit: quota.Minute}}
				}
				_, err := a.Quotas.Create(gctx, lt.principal(), ns, in)
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i := range listObjects {
		d.fixture.QuotaNames = append(d.fixture.QuotaNames, quotaName(i))
	}

	now := a.Now()
	var counts []quota.ObjectCount
	var amounts []quota.ResourceAmount
	for i, ns := range append([]string{tenancy.SystemNamespace}, lt.Namespaces...) {
		counts = append(counts,
			quota.ObjectCount{TenantID: lt.ID, Namespace: ns, Kind: "http_loadbalancer", Count: int64(i % 5), ObservedAt: now},
			quota.ObjectCount{TenantID: lt.ID, Namespace: ns, Kind: "origin_pool", Count: int64(2 * (i % 5)), ObservedAt: now},
		)
		amounts = append(amounts, quota.ResourceAmount{TenantID: lt.ID, Namespace: ns, Resource: "storage_gib", Amount: 1.5 * float64(i), ObservedAt: now})
	}
	_, _, err = a.Quotas.RecordGauges(ctx, counts, amounts)
	return err
}

// seedUsage gives the large tenant its metered usage: a record per series
// and hour over the last cfg.UsageHours hours, ending at the current hour,
// ingested through the service in batches of seedBatchRecords, so the
// records, their ids and the hour, day and month rollups the usage queries
// read are what the operator API would have stored. The records go series
// by series, so batches in flight at once share at most the day and month
// rollups of the one series at their boundary; the first batch, which
// starts with a whole series (up to 10,000 hours) and so creates every
// month's partition of usage_records, runs alone.
func seedUsage(ctx context.Context, a *server.App, d *dataset) error {
	units := map[string]string{}
	for name, t := range a.Usage.Types() {
		units[name] = t.Unit
	}
	series, err := newUsageSeries(d.large.Namespaces, units)
	if err != nil {
		return err
	}
	f := &d.fixture
	f.UsageSeries, f.UsageHours, f.UsageLast = series, d.cfg.UsageHours, a.Now().Truncate(time.Hour)
	total := len(series) * f.UsageHours
	ingest := func(ctx context.Context, b int) error {
		in := make([]usage.RecordInput, 0, seedBatchRecords)
		for k := b * seedBatchRecords; k < min((b+1)*seedBatchRecords, total); k++ {
			i, at := k/f.UsageHours, f.usageHour(k%f.UsageHours)
			s := series[i]
			in = append(in, usage.RecordInput{
				ID: seedRecordID(i, at), Tenant: f.Tenant, Namespace: s.Namespace, UsageType: s.UsageType,
				ObjectName: s.ObjectName, Unit: s.Unit, Quantity: usageQuantity(s, i, int(at.Unix()/3600)), Timestamp: at,
			})
		}
		res, err := a.Usage.Ingest(ctx, in, false)
		if err == nil && res.Accepted != len(in) {
			err = fmt.Errorf("usage batch %d: %d of %d records accepted", b, res.Accepted, len(in))
		}
		return err
	}
	if err := ingest(ctx, 0); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.Workers)
	for b := 1; b*seedBatchRecords < total; b++ {
		g.Go(func() error { return ingest(gctx, b) })
	}
	return g.Wait()
}

// benchAddons are the add-ons the large tenant subscribes to (its plan,
// TEAM, allows them); the last two are cancelled again, so the list holds
// history too.
var benchAddons = []string{
	"f5xc_waap_advanced", "f5xc_content_delivery_network_standard", "f5xc_synthetic_monitoring_standard",
	"f5xc_web_app_scanning_standard", "f5xc_appstack_standard",
}

// seedAccounts gives the large tenant, an hour after it was created, two
// payment methods, moves it to TEAM through a plan transition and
// subscribes it to add-ons, two of which it cancels ten days later (so the
// list holds history too).
func seedAccounts(ctx context.Context, _ *server.App, d *dataset) error {
	a, p := d.past, d.large.principal()
	d.pastClock.Set(d.large.CreatedAt.Add(time.Hour))
	contact := &payment.Contact{Address1: "1 Bench Way", City: "Seattle", ZipCode: "98101", Country: "US"}
	for i, role := range []payment.Role{payment.RolePrimary, payment.RoleSecondary} {
		if _, err := a.Payments.Create(ctx, p, payment.CreateInput{Token: fmt.Sprintf("tok_bench_%d", i), Role: role, Contact: contact}); err != nil {
			return err
		}
	}
	tr, err := a.Transitions.Initiate(ctx, p, "TEAM", transition.Payload{BillingAddress: contact})
	if err != nil {
		return err
	}
	d.fixture.TransitionID = tr.ID
	for _, addon := range benchAddons {
		if _, err := a.Subscriptions.Subscribe(ctx, p, addon); err != nil {
			return err
		}
	}
	d.pastClock.Set(d.large.CreatedAt.AddDate(0, 0, 10))
	for _, addon := range benchAddons[len(benchAddons)-2:] {
		if err := a.Subscriptions.Unsubscribe(ctx, p, addon); err != nil {
			return err
		}
	}
	return nil
}

// seedInvoices closes the large tenant's invoiceMonths past months, each two
// days after it ended (the grace period; the last one at the seed's start
// when that comes first), and each invoice is collected from its PRIMARY
// method. The usage seeded before is billed in the months it falls in.
func seedInvoices(ctx context.Context, _ *server.App, d *dataset) error {
	first := period.Of(d.large.CreatedAt)
	for i := range invoiceMonths {
		month := first.Add(i)
		at := month.End().Add(invoice.DefaultGrace)
		if at.After(d.now) {
			at = d.now
		}
		d.pastClock.Set(at)
		res, err := d.past.Invoices.ClosePeriod(ctx, month, largeTenant)
		if err != nil {
			return err
		}
		if len(res) != 1 || res[0].Err != nil || res[0].Invoice == nil || res[0].Invoice.Status != invoice.StatusPaid {
			return fmt.Errorf("closing %s: %+v, want a PAID invoice", month, res)
		}
	}
	return nil
}
