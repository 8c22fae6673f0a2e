package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"billing-api/openapi"
	"billing-api/server"
	"billing-api/server/clock"
	"billing-api/server/invoice"
	"billing-api/server/period"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
	"billing-api/server/usage"
	"billing-api/store/storetest"
)

// testAdminToken is the operator token of the apps the tests open.
const testAdminToken = "bench-test-operator-token"

// openApp opens the App on a fresh database private to t, and returns with
// it how to open another one on the same database on a clock of its own.
func openApp(t *testing.T) (*server.App, openAppAt) {
	t.Helper()
	cfg := storetest.Config(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := server.Open(context.Background(), server.Config{Store: cfg, AdminToken: testAdminToken, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a, func(ctx context.Context, c clock.Clock) (*server.App, error) {
		return server.Open(ctx, server.Config{Store: cfg, Logger: log, Clock: c})
	}
}

// TestSeedShape checks the seeded data set through the services: the
// tenants, namespaces, tokens, quota objects, overrides, gauges and usage
// the operations rely on.
func TestSeedShape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, openAt := openApp(t)
	const tenants = 3
	// A few hours of usage: on SQLite, ingestion costs more than
	// linearly in the rows per statement (the driver's parameter binding).
	const hours = 3
	f, took, err := seed(ctx, a, openAt, seedConfig{Tenants: tenants, Workers: 4, UsageHours: hours}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range seeders {
		if _, ok := took[s.domain]; !ok {
			t.Errorf("no seed time for %s", s.domain)
		}
	}

	all, err := a.Tenancy.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != tenants+1 {
		t.Fatalf("%d tenants, want %d", len(all), tenants+1)
	}
	for i := range tenants {
		name := smallTenantName(i)
		p := principalOf(t, a, name)
		assertNamespaces(t, a, name, []string{smallNamespace, tenancy.SystemNamespace})
		assertTokens(t, a, name, 1)
		for _, ns := range []string{tenancy.SystemNamespace, smallNamespace} {
			assertQuotaCount(t, a, p, ns, 1)
		}
	}

	// The large tenant: eleven namespaces, 50 objects where the load lists,
	// five everywhere else, and one token, the fixture's.
	p, err := a.Tenancy.Authenticate(ctx, f.Token)
	if err != nil || p.TenantName != largeTenant || p.TenantID != f.TenantID || p.Role != tenancy.RoleAdmin {
		t.Fatalf("the fixture's token: %+v, %v", p, err)
	}
	want := []string{}
	for i := range largeNamespaces {
		want = append(want, fmt.Sprintf("ns-%02d", i))
	}
	assertNamespaces(t, a, largeTenant, append(want, tenancy.SystemNamespace))
	assertTokens(t, a, largeTenant, 1)
	for _, ns := range append(want, tenancy.SystemNamespace) {
		n := otherObjects
		if ns == listNamespace {
			n = listObjects
		}
		assertQuotaCount(t, a, p, ns, n)
	}
	if f.ListNamespace != listNamespace || len(f.QuotaNames) != listObjects {
		t.Fatalf("fixture %+v", f)
	}
	for _, name := range f.QuotaNames {
		if _, err := a.Quotas.Get(ctx, p, f.ListNamespace, name); err != nil {
			t.Fatalf("fixture object %s: %v", name, err)
		}
	}

	// Nothing the load calls is rate limited, and the namespace may hold
	// any number of quota objects.
	eff, err := a.Quotas.EffectiveLimits(ctx, f.TenantID, f.ListNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if got := eff.Objects[quota.KindQuota]; got != quota.Unlimited {
		t.Fatalf("quota object limit %d, want unlimited", got)
	}
	for _, op := range operations {
		if op.OperationID == "" {
			continue
		}
		if rl, ok := eff.APIs[op.OperationID]; !ok || rl.Resolved().Rate != unlimitedRate || *rl.Resolved().Burst != unlimitedRate {
			t.Fatalf("%s: effective rate limit %+v (present %v), want the override", op.OperationID, rl, ok)
		}
	}

	// The gauges show in the usage the load reads.
	u, err := a.Quotas.Usage(ctx, f.TenantID, f.ListNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if u.Objects[quota.KindQuota] != listObjects || u.Objects["http_loadbalancer"] != 1 || u.Objects["origin_pool"] != 2 || u.Resources["storage_gib"] != 1.5 {
		t.Fatalf("usage of %s: objects %v resources %v", f.ListNamespace, u.Objects, u.Resources)
	}

	// Invoicing: the large tenant's invoiceMonths past months, each PAID
	// by the PRIMARY method, newest first, the oldest from its creation.
	invs, err := a.Invoices.Find(ctx, largeTenant, invoice.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) != invoiceMonths {
		t.Fatalf("%d invoices of %s, want %d", len(invs), largeTenant, invoiceMonths)
	}
	running := period.Of(a.Now())
	for i, inv := range invs {
		if month := running.Add(-1 - i); inv.Period != month || inv.Status != invoice.StatusPaid || inv.Total <= 0 {
			t.Fatalf("invoice %d: %s of %s, %s, total %d; want %s PAID", i, inv.Number, inv.Period, inv.Status, inv.Total, month)
		}
	}
	if tn, _ := a.Tenancy.Tenant(ctx, largeTenant); period.Of(tn.CreatedAt) != invs[invoiceMonths-1].Period {
		t.Fatalf("%s created %s, its first invoice is of %s", largeTenant, tn.CreatedAt, invs[invoiceMonths-1].Period)
	}

	// Metering: 200 series over the large tenant's namespaces, each with a
	// record per hour up to the current hour, the rollups summing exactly
	// what was ingested.
	if len(f.UsageSeries) != usageSeriesCount || f.UsageHours != hours || !f.UsageLast.Equal(a.Now().Truncate(time.Hour)) {
		t.Fatalf("usage fixture: %d series, %d hours up to %v", len(f.UsageSeries), f.UsageHours, f.UsageLast)
	}
	from, to := f.usageHour(0), f.usageWindowEnd()
	lines, err := a.Usage.Details(ctx, p, tenancy.SystemNamespace, &from, &to)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != usageSeriesCount {
		t.Fatalf("%d usage lines, want %d", len(lines), usageSeriesCount)
	}
	namespaces, types := map[string]bool{}, map[string]bool{}
	for i, s := range f.UsageSeries {
		namespaces[s.Namespace], types[s.UsageType] = true, true
		var want float64
		for j := range f.UsageHours {
			want += usageQuantity(s, i, int(f.usageHour(j).Unix()/3600))
		}
		k := slices.IndexFunc(lines, func(l usage.DetailLine) bool {
			return l.Namespace == s.Namespace && l.UsageType == s.UsageType && l.ObjectName == s.ObjectName
		})
		if k < 0 {
			t.Fatalf("series %+v: no usage line", s)
		}
		if microUnits(lines[k].Quantity.Units()) != microUnits(want) || lines[k].Unit != s.Unit {
			t.Fatalf("series %+v: line %+v, want %v", s, lines[k], want)
		}
	}
	if len(namespaces) != largeNamespaces || len(types) != len(usageKinds) {
		t.Fatalf("series over %d namespaces and %d usage types", len(namespaces), len(types))
	}
}

// microUnits rounds an amount of usage to the millionth the service keeps.
func microUnits(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// TestOperationsAnswer sends every operation of the table, built from a
// seeded fixture, once to the server's handler and checks the answer as
// the harness does before measuring: a 2xx, and what the operation's Check
// wants (200 usage lines, priced usage, a summary, a batch of new records).
func TestOperationsAnswer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, openAt := openApp(t)
	f, _, err := seed(ctx, a, openAt, seedConfig{Tenants: 1, Workers: 4, UsageHours: 2}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.HTTPHandler()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	st := newTarget(ts.URL, 1, http.Header{"Authorization": {"APIToken " + f.Token}})
	ot := newTarget(ts.URL, 1, http.Header{"Authorization": {"Bearer " + testAdminToken}})
	f.Phase = "check"
	for _, op := range operations {
		tg := st
		if op.Operator {
			tg = ot
		}
		if err := checkRequest(ctx, tg, &f, op.Method, op.Path, op.Body, op.Check); err != nil {
			t.Errorf("%s: %v", op.Name, err)
		}
	}
	// The same request again stores nothing: the phase and n are what
	// keep ingested records new (TestIngestBody).
	body, err := ot.fetch(ctx, http.MethodPost, "/admin/v1/usage_records", f.ingestBody(0))
	if err != nil || checkIngested(&f, body) == nil {
		t.Fatalf("a repeated batch: %s (%v), want all duplicates", body, err)
	}
}

func principalOf(t *testing.T, a *server.App, name string) tenancy.Principal {
	t.Helper()
	tn, err := a.Tenancy.Tenant(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return seededTenant{Tenant: tn}.principal()
}

func assertNamespaces(t *testing.T, a *server.App, tenant string, want []string) {
	t.Helper()
	nss, err := a.Tenancy.ListNamespaces(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ns := range nss {
		got = append(got, ns.Name)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: namespaces %v, want %v", tenant, got, want)
	}
}

func assertTokens(t *testing.T, a *server.App, tenant string, want int) {
	t.Helper()
	toks, err := a.Tenancy.ListTokens(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != want || toks[0].Role != tenancy.RoleAdmin {
		t.Fatalf("%s: tokens %+v, want %d admin", tenant, toks, want)
	}
}

func assertQuotaCount(t *testing.T, a *server.App, p tenancy.Principal, ns string, want int) {
	t.Helper()
	objs, err := a.Quotas.List(context.Background(), p, ns, quota.Selector{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != want {
		t.Fatalf("%s/%s: %d quota objects, want %d", p.TenantName, ns, len(objs), want)
	}
}

// TestOperationsMatchTheSpec keeps the table honest as rows are added:
// each operation id is the spec's, with its method, and the path built for
// it matches the spec's path; an operator operation's path and method are
// the operator API's. A body the baseline counterpart does not send is only
// allowed for reads (the usage queries take their window in a POST body).
func TestOperationsMatchTheSpec(t *testing.T) {
	t.Parallel()
	load := func(raw []byte) *openapi3.T {
		spec, err := openapi3.NewLoader().LoadFromData(raw)
		if err != nil {
			t.Fatal(err)
		}
		return spec
	}
	spec, adminSpec := load(openapi.BillingYAML), load(openapi.AdminYAML)
	f := &Fixture{ListNamespace: listNamespace, QuotaNames: []string{quotaName(0), quotaName(1)}}
	pathRE := func(tmpl string) *regexp.Regexp {
		return regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), "[^/]+") + "$")
	}
	names := map[string]bool{}
	for _, op := range operations {
		if names[op.Name] {
			t.Errorf("%s: listed twice", op.Name)
		}
		names[op.Name] = true
		if op.Baseline.Path == nil || op.Path == nil {
			t.Errorf("%s: no path or no baseline counterpart", op.Name)
			continue
		}
		if op.Body == nil && op.Baseline.Body != nil {
			t.Errorf("%s: the baseline sends a body and the server does not", op.Name)
		}
		if op.RecordsPerRequest > 0 && op.Baseline.Body == nil {
			t.Errorf("%s: stores batches, and its baseline stores none", op.Name)
		}
		if op.Operator {
			if op.OperationID != "" {
				t.Errorf("%s: an operator operation passes no tenant rate limit, so has no OperationID to lift", op.Name)
			}
			var found bool
			for tmpl, item := range adminSpec.Paths.Map() {
				if item.GetOperation(op.Method) != nil && pathRE(tmpl).MatchString(op.Path(f, 0)) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: %s %s is not in openapi/admin.yaml", op.Name, op.Method, op.Path(f, 0))
			}
			continue
		}
		if op.OperationID == "" {
			continue
		}
		var found bool
		for tmpl, item := range spec.Paths.Map() {
			for method, o := range item.Operations() {
				if o.OperationID != op.OperationID {
					continue
				}
				found = true
				if method != op.Method {
					t.Errorf("%s: method %s, the spec's is %s", op.Name, op.Method, method)
				}
				if op.Body != nil && op.Baseline.Body == nil && o.Extensions["x-billing-access"] != "read" {
					t.Errorf("%s: sends a body to a write, and its baseline counterpart does not", op.Name)
				}
				re := pathRE(tmpl)
				for n := range uint64(3) {
					if p := op.Path(f, n); !re.MatchString(p) {
						t.Errorf("%s: path %s does not match %s", op.Name, p, tmpl)
						break
					}
				}
			}
		}
		if !found {
			t.Errorf("%s: operation id %q is not in openapi/billing.yaml", op.Name, op.OperationID)
		}
	}
	if !names["healthz"] || operations[0].Method != http.MethodGet || !strings.HasPrefix(operations[0].Path(f, 0), "/healthz") {
		t.Errorf("the table should start with healthz, the no-database pair")
	}
}
