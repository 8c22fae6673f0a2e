package server

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"billing-api/gen/api"
	"billing-api/openapi"
	"billing-api/server/tenancy"
	"billing-api/store"
)

// seeded is a server whose tenant acme has data of every kind (quota
// objects in two namespaces, three payment methods, a finished plan
// transition, an add-on, metered usage, an issued invoice), beside a second
// tenant, globex, with data of its own; and the tokens the authorization
// matrix calls with. The clock stands at 1 Dec 2026 01:00, November closed.
type seeded struct {
	*env
	acme, globex uuid.UUID
	// Tokens of acme: admin, viewer, an admin limited to namespace shop,
	// and a revoked admin; globexAdmin is the other tenant's admin.
	admin, viewer, limited, revoked, globexAdmin string
	// acme's payment methods by role.
	primary, secondary, normal string
	invoice                    string // acme's November invoice number
	transition                 string // the id of acme's finished move to INDIVIDUAL
	breakdown                  string // an hourly_breakdown_query of acme's usage
	// secrets are strings only acme's data holds: none may reach globex.
	secrets []string
}

func newSeeded(t *testing.T) *seeded {
	t.Helper()
	v := newEnvWith(t, func(c *Config) { c.PublicRate = 10000 })
	s := &seeded{env: v}
	s.admin = v.tenant("acme", "shop", "lab")
	s.globexAdmin = v.tenant("globex")
	ctx := context.Background()
	for name, id := range map[string]*uuid.UUID{"acme": &s.acme, "globex": &s.globex} {
		tn, err := v.tenancy.Tenant(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		*id = tn.ID
		// Every case of a table runs on one tenant: no rate limit may
		// answer 429 in the middle of one.
		limits := map[string]any{}
		for id, op := range v.app.ops {
			if op.Access != AccessPublic {
				limits[id] = map[string]any{"rate": 1000000, "unit": "SECOND", "burst": 1000000}
			}
		}
		if res := v.admin(http.MethodPut, "/admin/v1/tenants/"+name+"/limit_overrides", map[string]any{"api_limits": limits}); res.Status != http.StatusOK {
			t.Fatalf("limit overrides: %d %s", res.Status, res.Body)
		}
	}

	// 26 Nov: both tenants move from FREE to INDIVIDUAL through the API,
	// with a primary payment method first.
	v.at(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	s.primary = v.addMethod(s.admin, "tok_visa_4242", "PRIMARY")
	v.addMethod(s.globexAdmin, "tok_visa_4000", "PRIMARY")
	for _, tok := range []string{s.admin, s.globexAdmin} {
		res := v.call(http.MethodPost, "/api/web/namespaces/system/billing/plan_transition", tok, `{"new_plan":"INDIVIDUAL"}`)
		if res.Status != http.StatusOK {
			t.Fatalf("transition: %d %s", res.Status, res.Body)
		}
		if tok == s.admin {
			var out api.PlanTransitionInitiatePlanTransitionRsp
			res.decode(t, &out)
			s.transition = out.Id
		}
	}
	s.secondary = v.addMethod(s.admin, "tok_mc_5555", "SECONDARY")
	s.normal = v.addMethod(s.admin, "tok_amex_3782", "")

	v.createQuota(s.admin, "system", `{"metadata":{"name":"acme-limits","labels":{"team":"acme-payments"},"description":"acme tenant-wide"},`+
		`"spec":{"object_limits":{"acme-widgets":{"maximum":7}},"resource_limits":{"storage_gib":{"maximum":50.5}}}}`)
	v.createQuota(s.admin, "shop", `{"metadata":{"name":"acme-shop-limits"},"spec":{"api_limits":{"listQuotas":{"rate":500,"unit":"SECOND"}}}}`)
	v.createQuota(s.globexAdmin, "system", `{"metadata":{"name":"globex-limits"},"spec":{"object_limits":{"globex-widgets":{"maximum":3}}}}`)

	v.at(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	if res := v.call(http.MethodPost, subscribePath, s.admin, `{"f5xc_waap_standard":{}}`); res.Status != http.StatusOK {
		t.Fatalf("subscribe: %d %s", res.Status, res.Body)
	}

	v.at(december.Add(time.Hour))
	day := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	v.ingestOK(append(reqs("acme", "shop", "acme-edge", day, 4_000_000, 2_500_000),
		append(reqs("acme", "system", "acme-dns", day, 7), reqs("globex", "system", "globex-edge", day, 9)...)...))
	closed := v.closeNovember("acme")
	if len(closed) != 1 || closed[0].Err != nil {
		t.Fatalf("closing November: %+v", closed)
	}
	s.invoice = closed[0].Invoice.Number

	lines := v.details(s.admin, "system", `{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}`)
	if len(lines) == 0 {
		t.Fatal("acme has no usage lines")
	}
	s.breakdown = lines[0].HourlyBreakdownQuery

	s.viewer = s.issue("viewer", tenancy.RoleViewer)
	s.limited = s.issue("shop-only", tenancy.RoleAdmin, "shop")
	s.revoked = s.issue("revoked", tenancy.RoleAdmin)
	toks, err := v.tenancy.ListTokens(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.Name == "revoked" {
			if _, err := v.tenancy.RevokeToken(ctx, "acme", tok.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.secrets = []string{"acme", s.primary, s.secondary, s.normal, s.invoice, s.transition}
	return s
}

// issue gives acme another token.
func (s *seeded) issue(name string, role tenancy.Role, namespaces ...string) string {
	s.t.Helper()
	_, secret, err := s.tenancy.IssueToken(context.Background(), tenancy.IssueTokenInput{
		TenantName: "acme", Name: name, Role: role, Namespaces: namespaces,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return secret
}

// request is one call to the tenant API; path may carry a query.
type request struct {
	method, path string
	body         string // "" for none
}

// validRequests is, for each operation of the tenant API, a request that
// succeeds for acme's admin on the seeded data (each on a fresh server:
// the writes change that data). Its path and body are what the hostile
// cases start from.
func (s *seeded) validRequests() map[string]request {
	const (
		quotas = "/api/web/namespaces/system/quotas"
		pm     = "/api/web/namespaces/system/billing/payment_method/"
	)
	contact := `{"contact_type":"BILLING","address1":"1 Main St","city":"Springfield","zip_code":"12345","country":"US"}`
	quota := func(name string) string {
		return `{"metadata":{"name":"` + name + `","namespace":"system","labels":{"team":"web"},"annotations":{"owner":"ops"},"description":"limits","disable":false},` +
			`"spec":{"object_limits":{"origin_pool":{"maximum":3}},"resource_limits":{"storage_gib":{"maximum":12.5}},"api_limits":{"listQuotas":{"rate":5,"unit":"MINUTE","burst":10}}}}`
	}
	return map[string]request{
		"createQuota":                {"POST", quotas, quota("new-limits")},
		"listQuotas":                 {"GET", quotas + "?label_filter=team%3Dacme-payments&report_fields=&report_status_fields=", ""},
		"getQuota":                   {"GET", quotas + "/acme-limits?response_format=GET_RSP_FORMAT_READ", ""},
		"replaceQuota":               {"PUT", quotas + "/acme-limits", quota("acme-limits")},
		"deleteQuota":                {"DELETE", quotas + "/acme-limits", `{"name":"acme-limits","namespace":"system","fail_if_referred":true}`},
		"getQuotaLimits":             {"GET", "/api/web/namespaces/system/quota/limits", ""},
		"getQuotaUsage":              {"GET", "/api/web/namespaces/system/quota/usage", ""},
		"listUsageDetails":           {"POST", "/api/web/namespaces/system/usage_details", `{"namespace":"system","from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}`},
		"listHourlyUsageDetails":     {"POST", "/api/web/namespaces/system/hourly_usage_details", `{"namespace":"system","query":"` + s.breakdown + `"}`},
		"listCurrentUsage":           {"POST", "/api/web/namespaces/system/current_usage", `{"namespace":"system","from":"2026-12-01T00:00:00Z","to":"2026-12-01T01:00:00Z"}`},
		"listMonthlyUsage":           {"POST", "/api/web/namespaces/system/monthly_usage", `{"namespace":"system"}`},
		"getUsageSummary":            {"POST", "/api/data/namespaces/system/billing/usage_summary", `{"start_time":"2026-11-01T00:00:00Z","end_time":"2026-12-01T00:00:00Z"}`},
		"listUsagePlans":             {"GET", "/api/web/namespaces/system/usage_plans/custom_list", ""},
		"getCurrentPlan":             {"GET", "/api/web/namespaces/system/usage_plans/current?locale=fr-FR", ""},
		"initiatePlanTransition":     {"POST", "/api/web/namespaces/system/billing/plan_transition", `{"namespace":"system","new_plan":"TEAM","payload":{"billing_address":` + contact + `,"subscribe_addon_services":["f5xc_waap_advanced"],"deletion_reason":"REASON_UNKNOWN"}}`},
		"getPlanTransition":          {"GET", "/no_auth/namespaces/system/billing/plan_transition?id=" + s.transition, ""},
		"subscribeAddon":             {"POST", subscribePath, `{"f5xc_content_delivery_network_standard":{}}`},
		"unsubscribeAddon":           {"POST", unsubscribePath, `{"f5xc_waap_standard":{}}`},
		"listSubscriptions":          {"GET", "/api/web/namespaces/system/subscriptions/custom_list?current=true", ""},
		"createPaymentMethod":        {"POST", pmPath, `{"namespace":"system","token":"tok_visa_1111","role":"PAYMENT_METHOD_ROLE_NORMAL","contact":` + contact + `}`},
		"deletePaymentMethod":        {"DELETE", pmPath + "/" + s.normal, ""},
		"makePaymentMethodPrimary":   {"POST", pm + s.secondary + "/primary", `{"namespace":"system","name":"` + s.secondary + `"}`},
		"makePaymentMethodSecondary": {"POST", pm + s.normal + "/secondary", `{"namespace":"system","name":"` + s.normal + `"}`},
		"swapPaymentMethodRole":      {"POST", pm + s.primary + "/swap-primary", `{"namespace":"system","name":"` + s.primary + `"}`},
		"listInvoices":               {"GET", invoicesPath + "?limit=12", ""},
		"downloadInvoicePdf":         {"GET", "/api/web/namespaces/system/usage/invoice_pdf?name=" + s.invoice, ""},
	}
}

// specOperations are the tenant API's operations as the spec declares them.
func specOperations(t *testing.T) map[string]operation {
	t.Helper()
	spec, err := loadSpec(openapi.BillingYAML)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := operations(spec)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// sortedIDs lists operation ids in order, for stable subtests.
func sortedIDs(ops map[string]operation) []string {
	ids := make([]string, 0, len(ops))
	for id := range ops {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// dbRows is the content of every table of the store, each row as text,
// sorted: two snapshots are equal exactly when no row was added, removed
// or changed.
type dbRows map[string][]string

// tableNames lists the store's tables (with PostgreSQL's partitions).
func tableNames(t testing.TB, db *store.DB) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if db.Dialect() == store.Postgres {
		q = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
	}
	rows, err := db.SQL().QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tenants", "api_tokens", "quota_objects", "payment_methods", "subscriptions", "plan_transitions", "usage_rollups", "invoices", "invoice_lines"} {
		if !slices.Contains(names, want) {
			t.Fatalf("the store's tables %v lack %s", names, want)
		}
	}
	return names
}

// snapshot reads every table; with a tenant, only that tenant's rows of
// the tables that name one (tenant_id, or id in tenants) and the others
// whole.
func snapshot(t testing.TB, db *store.DB, tenant uuid.UUID) dbRows {
	t.Helper()
	ctx := context.Background()
	out := dbRows{}
	for _, name := range tableNames(t, db) {
		q := `SELECT * FROM "` + name + `"`
		var args []any
		if tenant != uuid.Nil {
			switch {
			case name == "tenants":
				q, args = q+" WHERE id = $1", []any{tenant.String()}
			case hasColumn(t, db, name, "tenant_id"):
				q, args = q+" WHERE tenant_id = $1", []any{tenant.String()}
			}
		}
		rows, err := db.SQL().QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out[name] = readRows(t, rows)
	}
	return out
}

func hasColumn(t testing.TB, db *store.DB, table, column string) bool {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), `SELECT * FROM "`+table+`" WHERE 1 = 0`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(cols, column)
}

func readRows(t testing.TB, rows *sql.Rows) []string {
	t.Helper()
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, val := range vals {
			if b.Len() > 0 {
				b.WriteString(" | ")
			}
			if raw, ok := val.([]byte); ok {
				val = string(raw)
			}
			fmt.Fprintf(&b, "%s=%v", cols[i], val)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// changes names the tables whose rows differ, with their row counts.
func (before dbRows) changes(after dbRows) []string {
	var out []string
	for name, rows := range after {
		if !slices.Equal(before[name], rows) {
			out = append(out, fmt.Sprintf("%s (%d rows, was %d)", name, len(rows), len(before[name])))
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			out = append(out, name+" (gone)")
		}
	}
	sort.Strings(out)
	return out
}
