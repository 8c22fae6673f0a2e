package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"billing-api/openapi"
	"billing-api/server"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
	"billing-api/store/storetest"
)

func openApp(t *testing.T) *server.App {
	t.Helper()
	cfg := storetest.Config(t)
	a, err := server.Open(context.Background(), server.Config{Store: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// TestSeedShape checks the seeded data set through the services: the
// tenants, namespaces, tokens, quota objects, overrides and gauges the
// operations rely on.
func TestSeedShape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := openApp(t)
	const tenants = 3
	f, err := seed(ctx, a, seedConfig{Tenants: tenants, Workers: 4}, func(string) {})
	if err != nil {
		t.Fatal(err)
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
// it matches the spec's path.
func TestOperationsMatchTheSpec(t *testing.T) {
	t.Parallel()
	spec, err := openapi3.NewLoader().LoadFromData(openapi.BillingYAML)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fixture{ListNamespace: listNamespace, QuotaNames: []string{quotaName(0), quotaName(1)}}
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
		if (op.Body == nil) != (op.Baseline.Body == nil) {
			t.Errorf("%s: one side sends a body and the other does not", op.Name)
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
				re := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), "[^/]+") + "$")
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
