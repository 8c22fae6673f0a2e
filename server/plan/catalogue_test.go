package plan_test

import (
	"slices"
	"strings"
	"testing"

	"billing-api/server/plan"
	"billing-api/server/usage"
)

func TestEmbeddedCatalogueIsValid(t *testing.T) {
	t.Parallel()
	c, err := plan.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultPlan != "FREE" {
		t.Errorf("default plan %q, want FREE", c.DefaultPlan)
	}
	var names []string
	for _, p := range c.Plans {
		names = append(names, p.Name)
		if len(p.DefaultQuota.Objects) == 0 || len(p.DefaultQuota.APIs) == 0 {
			t.Errorf("%s has no default quota", p.Name)
		}
	}
	if want := []string{"FREE", "INDIVIDUAL", "TEAM", "ORGANIZATION"}; !slices.Equal(names, want) {
		t.Errorf("plans %v, want %v", names, want)
	}
}

func TestCatalogueLoaderReportsEveryBrokenRule(t *testing.T) {
	t.Parallel()
	bad := `
locale: en-US
currency: dollars
default_plan: GOLD
addons:
  - {name: f5xc_waap_standard, display_name: WAAP}
  - {name: f5xc_teleport, display_name: Nope}
plans:
  - name: FREE
    title: Free
    type: CHEAP
    tenant_type: FREEMIUM
    flat_price: -5
    renewal_period: PERIOD_MONTH
    trial: {length: 3, unit: PERIOD_UNKNOWN}
    allowed_addons: [f5xc_waap_advanced]
    included_addons: [f5xc_waap_standard]
    default_quota:
      objects: {"x": 1, http_loadbalancer: -2}
      resources: {storage_gib: .inf, egress_gib: .nan, cpu_hours: -0.5, ram_gib: -1}
      apis: {listQuotas: {rate: 0, unit: WEEK}}
    transition: {method: TRANSITION_METHOD_WIZARD, required_fields: [TRANSITION_REQUIRED_FIELD_SHOE_SIZE]}
`
	_, err := plan.Load([]byte(bad))
	if err == nil {
		t.Fatal("an invalid catalogue loaded")
	}
	if strings.Contains(err.Error(), "ram_gib") {
		t.Errorf("-1 (unlimited) was refused:\n%v", err)
	}
	for _, want := range []string{
		"currency", "default_plan", "addons[1].name", "plans[0].type", "plans[0].flat_price", "plans[0].trial",
		"plans[0].allowed_addons[0]", "plans[0].included_addons[0]", `default_quota.object_limits[x]`,
		`default_quota.object_limits[http_loadbalancer].maximum`, `default_quota.api_limits[listQuotas].rate`,
		`default_quota.api_limits[listQuotas].unit`, "required_fields[0]",
		`default_quota.resource_limits[storage_gib].maximum`, `default_quota.resource_limits[egress_gib].maximum`,
		`default_quota.resource_limits[cpu_hours].maximum`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

func TestCatalogueLoaderRejectsUnknownFields(t *testing.T) {
	t.Parallel()
	_, err := plan.Load([]byte("locale: en-US\ncurrency: USD\ndefault_plan: FREE\nplanz: []\n"))
	if err == nil || !strings.Contains(err.Error(), "planz") {
		t.Fatalf("unknown field accepted: %v", err)
	}
}

func TestRateCardsAreChecked(t *testing.T) {
	t.Parallel()
	c, err := plan.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	team, _ := c.Plan("TEAM")
	if r := team.Rates["lb_http_requests"]; r.UnitSize != 1_000_000*usage.QuantityScale || r.Included != 50_000_000*usage.QuantityScale ||
		r.Price != 50 || r.BillableUnit != "1M requests" {
		t.Fatalf("TEAM's request rate %+v", r)
	}
	if len(c.UsageTypes) < 5 || len(team.Coupons) != 1 || c.Pricing(team).FlatPrice != 4900 {
		t.Fatalf("usage types %v, coupons %v", c.UsageTypes, team.Coupons)
	}
	bad := `
locale: en-US
currency: USD
default_plan: FREE
usage_types:
  - {name: Requests, service: lb, display_name: Requests, unit: requests}
  - {name: gb, service: "", display_name: GB, unit: ""}
  - {name: gb, service: lb, display_name: GB, unit: GB}
plans:
  - name: FREE
    title: Free
    type: FREE
    tenant_type: FREEMIUM
    renewal_period: PERIOD_MONTH
    trial: {length: 0, unit: PERIOD_UNKNOWN}
    transition: {method: TRANSITION_METHOD_WIZARD}
    rate_card:
      teleports: {billable_unit: each, unit_size: 1, price: 1}
      gb: {billable_unit: "", unit_size: 0.5, included: "1.0000001", price: 2000000}
    coupons:
      - {title: "", type: PERCENTAGE, amount: 10001}
      - {title: x, type: BOGOF, amount: 1}
`
	_, err = plan.Load([]byte(bad))
	if err == nil {
		t.Fatal("an invalid rate card loaded")
	}
	for _, want := range []string{
		"usage_types[0].name", "usage_types[1].service", "usage_types[1].unit", "usage_types[2].name",
		"plans[0].rate_card[teleports]", "plans[0].rate_card[gb].billable_unit", "plans[0].rate_card[gb].unit_size",
		"plans[0].rate_card[gb].included", "plans[0].rate_card[gb].price", "plans[0].coupons[0].title",
		"plans[0].coupons[0].amount", "plans[0].coupons[1].type",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}

func TestTranslationsAreChecked(t *testing.T) {
	t.Parallel()
	c, err := plan.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	team, _ := c.Plan("TEAM")
	if !slices.Equal(c.Locales, []string{"en-US", "fr-FR"}) || team.In("fr-FR").Title != "Équipe" || team.In("de-DE").Title != "Team" {
		t.Fatalf("locales %v, TEAM in French %q", c.Locales, team.In("fr-FR").Title)
	}
	bad := `
locale: en-US
currency: USD
default_plan: FREE
plans:
  - {name: FREE, title: Free, type: FREE, tenant_type: FREEMIUM, renewal_period: PERIOD_MONTH, trial: {length: 0, unit: PERIOD_UNKNOWN}, transition: {method: TRANSITION_METHOD_WIZARD}}
  - {name: TEAM, title: Team, type: TEAM, tenant_type: FREEMIUM, renewal_period: PERIOD_MONTH, trial: {length: 0, unit: PERIOD_UNKNOWN}, transition: {method: TRANSITION_METHOD_WIZARD}}
translations:
  fr-FR:
    FREE: {subtitle: Essayer}
    GOLD: {title: Or}
  french: {}
`
	_, err = plan.Load([]byte(bad))
	if err == nil {
		t.Fatal("bad translations loaded")
	}
	for _, want := range []string{"translations[fr-FR][FREE].title", "translations[fr-FR][GOLD]", `has no texts for plan "TEAM"`, "translations[french]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}
