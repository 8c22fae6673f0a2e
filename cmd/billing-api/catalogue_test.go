package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestServeRefusesAnInvalidCatalogue(t *testing.T) {
	t.Parallel()
	env := storeEnv(t)
	path := filepath.Join(t.TempDir(), "plans.yaml")
	if err := os.WriteFile(path, []byte("locale: en-US\ncurrency: USD\ndefault_plan: GOLD\nplans: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := run(t, env, "serve", "--listen", "127.0.0.1:0", "--plan-catalogue", path)
	if err == nil || !strings.Contains(errOut, "default_plan") {
		t.Fatalf("invalid catalogue accepted: %v %q", err, errOut)
	}
}

func TestServeRefusesACatalogueWithoutTheTenantsPlans(t *testing.T) {
	t.Parallel()
	env := storeEnv(t)
	mustRun(t, env, "tenant", "create", "acme") // starts on FREE
	path := filepath.Join(t.TempDir(), "plans.yaml")
	only := `locale: en-US
currency: USD
default_plan: TEAM
addons: []
plans:
  - name: TEAM
    title: Team
    type: TEAM
    tenant_type: ENTERPRISE
    flat_price: 4900
    renewal_period: PERIOD_MONTH
    trial: {length: 0, unit: PERIOD_UNKNOWN}
    default_quota: {objects: {quota: 5}}
    transition: {method: TRANSITION_METHOD_WIZARD}
`
	if err := os.WriteFile(path, []byte(only), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := run(t, env, "serve", "--listen", "127.0.0.1:0", "--plan-catalogue", path)
	if err == nil || !strings.Contains(errOut, `"FREE"`) {
		t.Fatalf("catalogue without FREE accepted while a tenant is on it: %v %q", err, errOut)
	}
}

// make run's server: the demo tenant has quota objects and usage gauges, and
// the printed token reads them.
func TestDemoTenantShowsRealLimitsAndUsage(t *testing.T) {
	t.Parallel()
	env := storeEnv(t)
	base, cmd, _, banner := startServerWithBanner(t, env, "--demo")
	defer func() { _ = cmd.Process.Kill() }()
	secret, ok := banner.waitForPrefix("  demo token:  ")
	if !ok {
		t.Fatal("no demo token printed")
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/web/namespaces/shop/quota/usage", nil)
	req.Header.Set("Authorization", "APIToken "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("usage: %d %s", res.StatusCode, body)
	}
	var u struct {
		Objects map[string]struct {
			Limit struct{ Maximum int32 }
			Usage struct{ Current int32 }
		}
	}
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatal(err)
	}
	// The binary's /metrics also carries the database pool statistics.
	mres, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mres.Body)
	mres.Body.Close()
	for _, want := range []string{"go_sql_max_open_connections", "go_sql_in_use_connections", `billing_http_requests_total{method="GET",operation="getQuotaUsage",status="200"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	lb, pool := u.Objects["http_loadbalancer"], u.Objects["origin_pool"]
	if lb.Limit.Maximum != 4 || lb.Usage.Current != 3 || pool.Limit.Maximum != 4 || pool.Usage.Current != 2 || u.Objects["quota"].Usage.Current != 1 {
		t.Fatalf("demo usage %s", body)
	}

	// The seeded metering covers the whole of last month (90 days back),
	// billed on INDIVIDUAL beyond its flat 1900 cents.
	req, _ = http.NewRequest(http.MethodPost, base+"/api/web/namespaces/system/monthly_usage", strings.NewReader(`{"namespace":"system"}`))
	req.Header.Set("Authorization", "APIToken "+secret)
	req.Header.Set("Content-Type", "application/json")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ = io.ReadAll(res.Body)
	var monthly struct {
		Items []struct{ Amount string } `json:"monthly_usage_items"`
	}
	if err := json.Unmarshal(body, &monthly); err != nil || res.StatusCode != http.StatusOK || len(monthly.Items) == 0 {
		t.Fatalf("monthly usage: %d %s (%v)", res.StatusCode, body, err)
	}
	if cents, err := strconv.Atoi(monthly.Items[0].Amount); err != nil || cents <= 1900 {
		t.Fatalf("last month of the demo tenant came to %q cents, want usage billed beyond the flat price: %s", monthly.Items[0].Amount, body)
	}
}
