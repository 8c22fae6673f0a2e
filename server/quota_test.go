package server

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"billing-api/gen/admin"
	"billing-api/gen/api"
	"billing-api/server/tenancy"
)

func (v *env) createQuota(tok, ns, body string) api.QuotaCreateResponse {
	v.t.Helper()
	res := v.call(http.MethodPost, "/api/web/namespaces/"+ns+"/quotas", tok, body)
	if res.Status != http.StatusOK {
		v.t.Fatalf("create quota in %s: %d %s\n%s", ns, res.Status, res.Body, v.logs.String())
	}
	var out api.QuotaCreateResponse
	res.decode(v.t, &out)
	return out
}

func (v *env) limits(tok, ns string) api.QuotaGetQuotaLimitsResponse {
	v.t.Helper()
	res := v.call(http.MethodGet, "/api/web/namespaces/"+ns+"/quota/limits", tok, nil)
	if res.Status != http.StatusOK {
		v.t.Fatalf("limits of %s: %d %s", ns, res.Status, res.Body)
	}
	var out api.QuotaGetQuotaLimitsResponse
	res.decode(v.t, &out)
	return out
}

func (v *env) usage(tok, ns string) api.QuotaGetResponseType {
	v.t.Helper()
	res := v.call(http.MethodGet, "/api/web/namespaces/"+ns+"/quota/usage", tok, nil)
	if res.Status != http.StatusOK {
		v.t.Fatalf("usage of %s: %d %s", ns, res.Status, res.Body)
	}
	var out api.QuotaGetResponseType
	res.decode(v.t, &out)
	return out
}

func (v *env) listQuotas(tok, ns, query string) (int, []api.QuotaListResponseItem, response) {
	v.t.Helper()
	res := v.call(http.MethodGet, "/api/web/namespaces/"+ns+"/quotas"+query, tok, nil)
	if res.Status != http.StatusOK {
		return res.Status, nil, res
	}
	var out api.QuotaListResponse
	res.decode(v.t, &out)
	return res.Status, *out.Items, res
}

func names(items []api.QuotaListResponseItem) string {
	var out []string
	for _, it := range items {
		out = append(out, *it.Name)
	}
	return strings.Join(out, ",")
}

func TestQuotaObjectRoundTripsExactly(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	body := `{"metadata":{"name":"team-limits","namespace":"system","labels":{"team":"payments","app.kubernetes.io/name":"web"},
		"annotations":{"owner":"ops@example.com"},"description":"Limits für das Team"},
		"spec":{"object_limits":{"http_loadbalancer":{"maximum":20}},"api_limits":{"listQuotas":{"rate":7}}}}`
	created := v.createQuota(tok, "system", body)
	sm := created.SystemMetadata
	if sm == nil || sm.Uid == nil || *sm.Tenant != "acme" || *sm.CreatorId != "test-admin" || *sm.CreatorClass != "api-token" ||
		!sm.CreationTimestamp.Equal(v.app.Now()) || !sm.ModificationTimestamp.Equal(v.app.Now()) {
		t.Fatalf("system metadata %+v", sm)
	}

	res := v.call(http.MethodGet, "/api/web/namespaces/system/quotas/team-limits?response_format=GET_RSP_FORMAT_READ", tok, nil)
	var got map[string]any
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatal(err)
	}
	meta := got["metadata"].(map[string]any)
	spec := got["spec"].(map[string]any)
	// What was sent comes back as sent: no defaults filled into the spec, no
	// empty maps invented for what was not sent.
	want := `{"annotations":{"owner":"ops@example.com"},"description":"Limits für das Team","disable":false,"labels":{"app.kubernetes.io/name":"web","team":"payments"},"name":"team-limits","namespace":"system"}`
	if b, _ := json.Marshal(meta); string(b) != want {
		t.Errorf("metadata\n got %s\nwant %s", b, want)
	}
	wantSpec := `{"api_limits":{"listQuotas":{"rate":7}},"object_limits":{"http_loadbalancer":{"maximum":20}}}`
	if b, _ := json.Marshal(spec); string(b) != wantSpec {
		t.Errorf("spec\n got %s\nwant %s", b, wantSpec)
	}
	if _, ok := got["create_form"]; ok {
		t.Error("GET_RSP_FORMAT_READ filled create_form")
	}
}

// The vendor requires only metadata.name: a create or replace without spec
// is an object with no limits. It reads back with "spec":{} — the one
// representation of "no limits", the same as after sending "spec":{} — and
// its create and replace forms, sent back, change nothing.
func TestAQuotaObjectWithoutSpecSetsNoLimits(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	before := v.limits(tok, "shop")
	created := v.createQuota(tok, "shop", `{"metadata":{"name":"team-limits"}}`)
	if b, _ := json.Marshal(created.Spec); string(b) != `{}` {
		t.Fatalf("created spec %s, want {}", b)
	}
	read := func() map[string]any {
		t.Helper()
		res := v.call(http.MethodGet, "/api/web/namespaces/shop/quotas/team-limits", tok, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("read: %d %s", res.Status, res.Body)
		}
		var got map[string]any
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := read()
	for _, path := range [][]string{{"spec"}, {"create_form", "spec"}, {"replace_form", "spec"}} {
		var at any = got
		for _, k := range path {
			at = at.(map[string]any)[k]
		}
		if b, _ := json.Marshal(at); string(b) != `{}` {
			t.Errorf("%s reads back %s, want {}", strings.Join(path, "."), b)
		}
	}
	if after := v.limits(tok, "shop"); jsonOf(after) != jsonOf(before) {
		t.Fatalf("an object without spec changed the limits:\n%s\n%s", jsonOf(before), jsonOf(after))
	}
	// The replace form sends back as it reads.
	form, _ := json.Marshal(got["replace_form"])
	if res := v.call(http.MethodPut, "/api/web/namespaces/shop/quotas/team-limits", tok, string(form)); res.Status != http.StatusOK {
		t.Fatalf("re-sending the replace form: %d %s", res.Status, res.Body)
	}
	// A replace without spec drops the limits the object had.
	if res := v.call(http.MethodPut, "/api/web/namespaces/shop/quotas/team-limits", tok, `{"metadata":{"name":"team-limits"},"spec":{"object_limits":{"origin_pool":{"maximum":3}}}}`); res.Status != http.StatusOK {
		t.Fatalf("replace with a limit: %d %s", res.Status, res.Body)
	}
	if got := (*v.limits(tok, "shop").Objects)["origin_pool"].Maximum; got != 3 {
		t.Fatalf("origin_pool limit %d, want 3", got)
	}
	if res := v.call(http.MethodPut, "/api/web/namespaces/shop/quotas/team-limits", tok, `{"metadata":{"name":"team-limits"}}`); res.Status != http.StatusOK {
		t.Fatalf("replace without spec: %d %s", res.Status, res.Body)
	}
	if b, _ := json.Marshal(read()["spec"]); string(b) != `{}` {
		t.Fatalf("spec after a replace without one: %s", b)
	}
	if after := v.limits(tok, "shop"); jsonOf(after) != jsonOf(before) {
		t.Fatalf("the replaced object still limits:\n%s\n%s", jsonOf(before), jsonOf(after))
	}
}

// Every timestamp is kept at microsecond precision in UTC, so what a create
// answers is what any later read, from this or another replica, returns.
func TestTimestampsRoundTripAtMicrosecondPrecision(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	created := v.createQuota(tok, "system", `{"metadata":{"name":"q1"},"spec":{}}`)
	want := created.SystemMetadata.CreationTimestamp
	if want.Nanosecond()%1000 != 0 || want.Location() != time.UTC || want.Nanosecond() == 0 {
		t.Fatalf("creation timestamp %v is not a sub-second UTC time at microsecond precision", want)
	}
	// A second replica on the same database reads the same instant.
	other, err := Open(context.Background(), Config{Store: v.app.cfg.Store, Logger: v.app.Log})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	e, err := other.HTTPHandler()
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "APIToken "+tok)
	res := v.sr.do(t, e, http.MethodGet, "/api/web/namespaces/system/quotas/q1", nil, h)
	var got struct {
		SystemMetadata map[string]any `json:"system_metadata"`
	}
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatal(err)
	}
	createdJSON, _ := json.Marshal(created.SystemMetadata.CreationTimestamp)
	if fmt.Sprintf("%q", got.SystemMetadata["creation_timestamp"]) != string(createdJSON) ||
		got.SystemMetadata["creation_timestamp"] != got.SystemMetadata["modification_timestamp"] {
		t.Fatalf("the create answered %s, a read from another replica %v", createdJSON, got.SystemMetadata)
	}
}

func TestQuotaCreateReplaceGetDeleteRules(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	created := v.createQuota(tok, "shop", `{"metadata":{"name":"q1","labels":{"a":"1"}},"spec":{"object_limits":{"origin_pool":{"maximum":4}}}}`)

	res := v.call(http.MethodPost, "/api/web/namespaces/shop/quotas", tok, `{"metadata":{"name":"q1"},"spec":{}}`)
	if res.Status != http.StatusConflict || res.errorBody(t).Code != api.EEXISTS {
		t.Fatalf("duplicate create: %d %s", res.Status, res.Body)
	}
	res = v.call(http.MethodPost, "/api/web/namespaces/shop/quotas", tok, `{"metadata":{"name":"q2","namespace":"system"},"spec":{}}`)
	if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, "metadata.namespace") {
		t.Fatalf("namespace disagreement: %d %s", res.Status, res.Body)
	}
	res = v.call(http.MethodPut, "/api/web/namespaces/shop/quotas/missing", tok, `{"metadata":{"name":"missing"},"spec":{}}`)
	if res.Status != http.StatusNotFound || res.errorBody(t).Code != api.ENOTFOUND {
		t.Fatalf("replace of a missing object: %d %s", res.Status, res.Body)
	}
	res = v.call(http.MethodPut, "/api/web/namespaces/shop/quotas/q1", tok, `{"metadata":{"name":"other"},"spec":{}}`)
	if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, "metadata.name") {
		t.Fatalf("name disagreement: %d %s", res.Status, res.Body)
	}

	v.clock.Advance(time.Minute)
	res = v.call(http.MethodPut, "/api/web/namespaces/shop/quotas/q1", tok, `{"metadata":{"name":"q1","namespace":"shop","labels":{"b":"2"},"disable":true},"spec":{"object_limits":{"origin_pool":{"maximum":9}}}}`)
	if res.Status != http.StatusOK || string(res.Body) != "{}\n" {
		t.Fatalf("replace: %d %q", res.Status, res.Body)
	}
	var got api.QuotaGetResponse
	v.call(http.MethodGet, "/api/web/namespaces/shop/quotas/q1", tok, nil).decode(t, &got)
	if *got.SystemMetadata.Uid != *created.SystemMetadata.Uid || !got.SystemMetadata.CreationTimestamp.Equal(*created.SystemMetadata.CreationTimestamp) {
		t.Error("replace changed the uid or the creation time")
	}
	if !got.SystemMetadata.ModificationTimestamp.Equal(v.app.Now()) {
		t.Errorf("modification time %v, want %v", got.SystemMetadata.ModificationTimestamp, v.app.Now())
	}
	if (*got.Metadata.Labels)["b"] != "2" || (*got.Metadata.Labels)["a"] != "" || !*got.Metadata.Disable {
		t.Errorf("replaced metadata %+v", got.Metadata)
	}
	// A replace without labels, annotations or description reads back
	// without them (not as empty values), and keeps what it does send.
	res = v.call(http.MethodPut, "/api/web/namespaces/shop/quotas/q1", tok, `{"metadata":{"name":"q1"},"spec":{"api_limits":{"listQuotas":{"rate":3}}}}`)
	if res.Status != http.StatusOK {
		t.Fatalf("bare replace: %d %s", res.Status, res.Body)
	}
	var bare map[string]any
	_ = json.Unmarshal(v.call(http.MethodGet, "/api/web/namespaces/shop/quotas/q1?response_format=GET_RSP_FORMAT_READ", tok, nil).Body, &bare)
	if b, _ := json.Marshal(bare["metadata"]); string(b) != `{"disable":false,"name":"q1","namespace":"shop"}` {
		t.Errorf("bare replace read back metadata %s", b)
	}
	if b, _ := json.Marshal(bare["spec"]); string(b) != `{"api_limits":{"listQuotas":{"rate":3}}}` {
		t.Errorf("bare replace read back spec %s", b)
	}
	res = v.call(http.MethodPut, "/api/web/namespaces/shop/quotas/q1", tok, `{"metadata":{"name":"q1","namespace":"shop","labels":{"b":"2"},"disable":true},"spec":{"object_limits":{"origin_pool":{"maximum":9}}}}`)
	if res.Status != http.StatusOK {
		t.Fatal(res.Status)
	}
	v.call(http.MethodGet, "/api/web/namespaces/shop/quotas/q1", tok, nil).decode(t, &got)
	// The default format carries both forms, ready to re-send.
	if got.CreateForm == nil || got.CreateForm.Metadata.Name != "q1" || got.ReplaceForm == nil ||
		(*got.ReplaceForm.Spec.ObjectLimits)["origin_pool"].Maximum != 9 || got.Status == nil || got.ReferringObjects == nil {
		t.Errorf("default format %+v", got)
	}
	for format, want := range map[string][]string{
		"GET_RSP_FORMAT_FOR_CREATE":        {"create_form"},
		"GET_RSP_FORMAT_FOR_REPLACE":       {"replace_form"},
		"GET_RSP_FORMAT_STATUS":            {"status"},
		"GET_RSP_FORMAT_REFERRING_OBJECTS": {"metadata", "referring_objects"},
		"GET_RSP_FORMAT_BROKEN_REFERENCES": {"deleted_referred_objects", "disabled_referred_objects", "metadata"},
		"GET_RSP_FORMAT_READ":              {"metadata", "spec", "system_metadata"},
	} {
		var m map[string]any
		_ = json.Unmarshal(v.call(http.MethodGet, "/api/web/namespaces/shop/quotas/q1?response_format="+format, tok, nil).Body, &m)
		if fmt.Sprint(sortedKeys(m)) != fmt.Sprint(want) {
			t.Errorf("%s filled %v, want %v", format, sortedKeys(m), want)
		}
	}

	// Delete: a body naming another object is refused; no body (as real
	// clients send) deletes; a second delete is 404.
	res = v.call(http.MethodDelete, "/api/web/namespaces/shop/quotas/q1", tok, `{"name":"q9","namespace":"shop"}`)
	if res.Status != http.StatusBadRequest {
		t.Fatalf("delete with a mismatched body: %d %s", res.Status, res.Body)
	}
	res = v.call(http.MethodDelete, "/api/web/namespaces/shop/quotas/q1", tok, nil)
	if res.Status != http.StatusOK || string(res.Body) != "{}\n" {
		t.Fatalf("delete: %d %q", res.Status, res.Body)
	}
	res = v.call(http.MethodDelete, "/api/web/namespaces/shop/quotas/q1", tok, `{"fail_if_referred":true}`)
	if res.Status != http.StatusNotFound {
		t.Fatalf("second delete: %d %s", res.Status, res.Body)
	}
	v.createQuota(tok, "shop", `{"metadata":{"name":"q3"},"spec":{}}`)
	res = v.call(http.MethodDelete, "/api/web/namespaces/shop/quotas/q3", tok, `{"name":"q3","namespace":"shop","fail_if_referred":true}`)
	if res.Status != http.StatusOK {
		t.Fatalf("delete with fail_if_referred of an unreferred object: %d %s", res.Status, res.Body)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestQuotaFieldRulesTheSpecCannotExpress(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	longDesc := strings.Repeat("ü", 601) // 601 characters, 1202 bytes
	body := fmt.Sprintf(`{"metadata":{"name":"q1","labels":{"bad key!":"x","ok":"not valid!"},"annotations":{"%s":"v"},"description":"%s"},
		"spec":{"object_limits":{"a":{"maximum":1},"9lives":{"maximum":1}},"api_limits":{"listQuotas":{"rate":1}}}}`,
		strings.Repeat("k", 65), longDesc)
	res := v.call(http.MethodPost, "/api/web/namespaces/system/quotas", tok, body)
	if res.Status != http.StatusBadRequest {
		t.Fatalf("status %d: %s", res.Status, res.Body)
	}
	msg := res.errorBody(t).Message
	for _, want := range []string{
		`metadata.labels["bad key!"]`, `metadata.labels[ok]`, `metadata.annotations[kkkk`, "metadata.description", "1202",
		`spec.object_limits[a]`, `spec.object_limits[9lives]`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message does not name %s: %s", want, msg)
		}
	}
	if _, items, _ := v.listQuotas(tok, "system", ""); len(items) != 0 {
		t.Fatal("a rejected create left an object behind")
	}
}

func TestTwoTenantsMayUseTheSameQuotaName(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	acme := v.tenant("acme")
	globex := v.tenant("globex")
	a := v.createQuota(acme, "system", `{"metadata":{"name":"limits"},"spec":{"object_limits":{"origin_pool":{"maximum":1}}}}`)
	g := v.createQuota(globex, "system", `{"metadata":{"name":"limits"},"spec":{"object_limits":{"origin_pool":{"maximum":2}}}}`)
	if *a.SystemMetadata.Uid == *g.SystemMetadata.Uid || *a.SystemMetadata.Tenant != "acme" || *g.SystemMetadata.Tenant != "globex" {
		t.Fatal("the two objects are not distinct")
	}
	if l := v.limits(acme, "system"); (*l.Objects)["origin_pool"].Maximum != 1 {
		t.Errorf("acme sees origin_pool %d", (*l.Objects)["origin_pool"].Maximum)
	}
	if l := v.limits(globex, "system"); (*l.Objects)["origin_pool"].Maximum != 2 {
		t.Errorf("globex sees origin_pool %d", (*l.Objects)["origin_pool"].Maximum)
	}
	// Deleting one leaves the other.
	if res := v.call(http.MethodDelete, "/api/web/namespaces/system/quotas/limits", acme, nil); res.Status != http.StatusOK {
		t.Fatal(res.Status)
	}
	if res := v.call(http.MethodGet, "/api/web/namespaces/system/quotas/limits", globex, nil); res.Status != http.StatusOK {
		t.Fatalf("globex's object went with acme's: %d", res.Status)
	}
}

func TestLabelSelectors(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	for name, labels := range map[string]string{
		"alpha": `{"team":"web","env":"prod"}`,
		"beta":  `{"team":"web","env":"staging"}`,
		"gamma": `{"team":"data","env":"prod","tier":"gold"}`,
		"delta": `{}`,
	} {
		v.createQuota(tok, "system", fmt.Sprintf(`{"metadata":{"name":%q,"labels":%s},"spec":{}}`, name, labels))
	}
	for filter, want := range map[string]string{
		"":                                   "alpha,beta,delta,gamma",
		"team=web":                           "alpha,beta",
		"team==web":                          "alpha,beta",
		"team!=web":                          "delta,gamma",
		"env in (prod,dev)":                  "alpha,gamma",
		"env notin (prod)":                   "beta,delta",
		"tier":                               "gamma",
		"!tier":                              "alpha,beta,delta",
		"team=web,env=prod":                  "alpha",
		"team in (web,data),env!=staging,!x": "alpha,gamma",
	} {
		status, items, res := v.listQuotas(tok, "system", "?label_filter="+url.QueryEscape(filter))
		if status != http.StatusOK {
			t.Errorf("%q: %d %s", filter, status, res.Body)
			continue
		}
		if got := names(items); got != want {
			t.Errorf("%q selected %s, want %s", filter, got, want)
		}
	}
	for _, bad := range []string{"env in (prod", "a,,b", "=web", "env>3", "env gt 3", "a b", "!"} {
		status, _, res := v.listQuotas(tok, "system", "?label_filter="+url.QueryEscape(bad))
		if status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, "label_filter") {
			t.Errorf("malformed %q answered %d %s", bad, status, res.Body)
		}
	}
}

func TestListReportFields(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.createQuota(tok, "system", `{"metadata":{"name":"q1","description":"d"},"spec":{"object_limits":{"origin_pool":{"maximum":4}}}}`)
	_, items, _ := v.listQuotas(tok, "system", "")
	if len(items) != 1 || items[0].Metadata != nil || items[0].GetSpec != nil || *items[0].Description != "d" || *items[0].Tenant != "acme" {
		t.Fatalf("summary item %+v", items[0])
	}
	status, items, res := v.listQuotas(tok, "system", "?report_fields=&report_status_fields=")
	if status != http.StatusOK {
		t.Fatalf("report_fields: %d %s", status, res.Body)
	}
	it := items[0]
	if it.Metadata == nil || it.SystemMetadata == nil || it.GetSpec == nil || (*it.GetSpec.ObjectLimits)["origin_pool"].Maximum != 4 || it.StatusSet == nil {
		t.Fatalf("full item %+v", it)
	}
}

func TestEffectiveLimitsLayerPlanSystemAndNamespace(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop", "lab")
	var cur api.PlanLocalizedPlan
	v.call(http.MethodGet, "/api/web/namespaces/system/usage_plans/current", tok, nil).decode(t, &cur)
	if p := (*cur.Plans)[0]; *p.Name != "FREE" || !*p.Current {
		t.Fatalf("a new tenant is on %s", *p.Name)
	}
	free := v.limits(tok, "shop")
	if (*free.Objects)["http_loadbalancer"].Maximum != 5 || (*free.Resources)["storage_gib"].Maximum != 10 {
		t.Fatalf("plan defaults %+v", free)
	}

	// Tenant objects cannot lift the plan's limits: -1 or a bigger number
	// leaves the plan's value, a smaller one tightens it.
	v.createQuota(tok, "system", `{"metadata":{"name":"lift"},"spec":{"object_limits":{"http_loadbalancer":{"maximum":-1},"origin_pool":{"maximum":1000}},"resource_limits":{"storage_gib":{"maximum":-1}}}}`)
	if l := v.limits(tok, "shop"); (*l.Objects)["http_loadbalancer"].Maximum != 5 || (*l.Objects)["origin_pool"].Maximum != 10 || (*l.Resources)["storage_gib"].Maximum != 10 {
		t.Fatalf("a tenant object lifted the plan's limits: %+v %+v", *l.Objects, *l.Resources)
	}
	// The operator raises the ceiling for this tenant.
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{"object_limits":{"http_loadbalancer":{"maximum":20}}}`); res.Status != http.StatusOK {
		t.Fatalf("overrides: %d %s", res.Status, res.Body)
	}
	if l := v.limits(tok, "shop"); (*l.Objects)["http_loadbalancer"].Maximum != 20 {
		t.Fatalf("the override did not raise the ceiling: %+v", *l.Objects)
	}

	v.createQuota(tok, "system", `{"metadata":{"name":"tenant"},"spec":{"object_limits":{"http_loadbalancer":{"maximum":8},"vk8s":{"maximum":2}}}}`)
	v.createQuota(tok, "shop", `{"metadata":{"name":"shop"},"spec":{"object_limits":{"http_loadbalancer":{"maximum":3}},"resource_limits":{"storage_gib":{"maximum":0.5}}}}`)
	v.createQuota(tok, "shop", `{"metadata":{"name":"off","disable":true},"spec":{"object_limits":{"http_loadbalancer":{"maximum":1}}}}`)

	check := func(ns string, lb, vk8s int32, storage float64) {
		t.Helper()
		l := v.limits(tok, ns)
		o, r := *l.Objects, *l.Resources
		if o["http_loadbalancer"].Maximum != lb || o["vk8s"].Maximum != vk8s || r["storage_gib"].Maximum != storage || o["origin_pool"].Maximum != 10 {
			t.Errorf("%s: lb %d vk8s %d storage %v origin_pool %d", ns, o["http_loadbalancer"].Maximum, o["vk8s"].Maximum, r["storage_gib"].Maximum, o["origin_pool"].Maximum)
		}
		// The deprecated maps repeat the current ones.
		if jsonOf(*l.QuotaUsage) != jsonOf(o) || jsonOf(*l.FloatQuotaUsage) != jsonOf(r) || jsonOf(*l.ApiLimits) != jsonOf(*l.Apis) {
			t.Errorf("%s: deprecated fields differ", ns)
		}
	}
	check("shop", 3, 2, 0.5) // namespace under system under the ceiling; the disabled object counts for nothing
	check("lab", 8, 2, 10)   // system under the ceiling
	check("system", 8, 2, 10)

	// Within one level the newer object wins, even when looser (never past
	// the level above); deleting falls back.
	v.clock.Advance(time.Second)
	v.createQuota(tok, "shop", `{"metadata":{"name":"shop-2"},"spec":{"object_limits":{"http_loadbalancer":{"maximum":4}}}}`)
	check("shop", 4, 2, 0.5)
	v.clock.Advance(time.Second)
	v.createQuota(tok, "shop", `{"metadata":{"name":"shop-3"},"spec":{"object_limits":{"http_loadbalancer":{"maximum":50}}}}`)
	check("shop", 8, 2, 0.5)
	for _, name := range []string{"shop-3", "shop-2", "shop"} {
		v.call(http.MethodDelete, "/api/web/namespaces/shop/quotas/"+name, tok, nil)
	}
	check("shop", 8, 2, 10)

	// Without the override the plan's 5 is the ceiling again, at once.
	if res := v.admin(http.MethodDelete, "/admin/v1/tenants/acme/limit_overrides", nil); res.Status != http.StatusOK {
		t.Fatalf("clear overrides: %d %s", res.Status, res.Body)
	}
	check("shop", 5, 2, 10)
}

func TestQuotaUsageCombinesGaugesAndOwnObjects(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	v.createQuota(tok, "shop", `{"metadata":{"name":"q1"},"spec":{}}`)
	v.createQuota(tok, "shop", `{"metadata":{"name":"q2"},"spec":{}}`)
	v.createQuota(tok, "system", `{"metadata":{"name":"q3"},"spec":{}}`)

	gauges := `{"object_counts":[
		{"tenant":"acme","namespace":"shop","kind":"http_loadbalancer","count":4,"observed_at":"2026-11-25T10:00:00Z"},
		{"tenant":"acme","namespace":"system","kind":"http_loadbalancer","count":1,"observed_at":"2026-11-25T10:00:00Z"}],
		"resource_amounts":[{"tenant":"acme","namespace":"shop","resource":"storage_gib","amount":2.75,"observed_at":"2026-11-25T10:00:00Z"}]}`
	res := v.admin(http.MethodPost, "/admin/v1/gauges", gauges)
	var applied admin.GaugeResult
	res.decode(t, &applied)
	if res.Status != http.StatusOK || applied.ObjectCountsApplied != 2 || applied.ResourceAmountsApplied != 1 {
		t.Fatalf("gauges: %d %s", res.Status, res.Body)
	}
	// A replay changes nothing; an older observation never wins.
	v.admin(http.MethodPost, "/admin/v1/gauges", gauges).decode(t, &applied)
	if applied.ObjectCountsApplied != 0 || applied.ResourceAmountsApplied != 0 {
		t.Fatalf("replay applied %+v", applied)
	}
	v.admin(http.MethodPost, "/admin/v1/gauges", `{"object_counts":[{"tenant":"acme","namespace":"shop","kind":"http_loadbalancer","count":99,"observed_at":"2026-11-25T09:00:00Z"}]}`).decode(t, &applied)
	if applied.ObjectCountsApplied != 0 {
		t.Fatal("an older gauge was applied")
	}

	for i := 0; i < 3; i++ {
		v.listQuotas(tok, "shop", "")
	}
	u := v.usage(tok, "shop")
	objects, resources, apis := *u.Objects, *u.Resources, *u.Apis
	if got := objects["http_loadbalancer"]; got.Usage.Current != 4 || got.Limit.Maximum != 5 {
		t.Errorf("http_loadbalancer %+v", got)
	}
	if got := objects["quota"]; got.Usage.Current != 2 || got.Limit.Maximum != 10 {
		t.Errorf("quota objects in shop %+v (live count)", got)
	}
	if got := resources["storage_gib"]; got.Usage.Current != 2.75 || got.Limit.Maximum != 10 {
		t.Errorf("storage_gib %+v", got)
	}
	if got := apis["listQuotas"]; got.Usage.Current != 3 || got.Limit.Rate != 10 || *got.Limit.Burst != 20 {
		t.Errorf("listQuotas %+v", got)
	}
	if got := objects["origin_pool"]; got.Usage.Current != 0 {
		t.Errorf("origin_pool without a gauge %+v", got)
	}
	if jsonOf(*u.QuotaUsage) != jsonOf(objects) || jsonOf(*u.FloatQuotaUsage) != jsonOf(resources) || jsonOf(*u.ApiLimits) != jsonOf(apis) {
		t.Error("deprecated usage fields differ from the current ones")
	}
	if got := (*v.usage(tok, "system").Objects)["quota"]; got.Usage.Current != 1 {
		t.Errorf("quota objects in system %+v", got)
	}
}

func TestGaugeBatchesAreCheckedAsAWhole(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	for body, want := range map[string]int{
		`{"object_counts":[{"tenant":"acme","namespace":"shop","kind":"origin_pool","count":1,"observed_at":"2026-11-25T10:00:00Z"},{"tenant":"nobody","namespace":"shop","kind":"origin_pool","count":1,"observed_at":"2026-11-25T10:00:00Z"}]}`: http.StatusNotFound,
		`{"object_counts":[{"tenant":"acme","namespace":"shop","kind":"origin_pool","count":1,"observed_at":"2026-11-25T10:00:00Z"},{"tenant":"acme","namespace":"nope","kind":"origin_pool","count":1,"observed_at":"2026-11-25T10:00:00Z"}]}`:   http.StatusNotFound,
		`{"object_counts":[{"tenant":"acme","namespace":"shop","kind":"origin_pool","count":1,"observed_at":"2026-11-25T10:00:00Z"},{"tenant":"acme","namespace":"shop","kind":"quota","count":1,"observed_at":"2026-11-25T10:00:00Z"}]}`:         http.StatusBadRequest,
		`{"object_counts":[{"tenant":"acme","namespace":"shop","kind":"origin_pool","count":-1,"observed_at":"2026-11-25T10:00:00Z"}]}`:                                                                                                           http.StatusBadRequest,
		`{"object_counts":[{"tenant":"acme","namespace":"shop","kind":"origin_pool","count":1}]}`:                                                                                                                                                 http.StatusBadRequest,
	} {
		if res := v.admin(http.MethodPost, "/admin/v1/gauges", body); res.Status != want {
			t.Errorf("%s answered %d, want %d: %s", body, res.Status, want, res.Body)
		}
	}
	// Nothing of the refused batches was applied.
	if got := (*v.usage(tok, "shop").Objects)["origin_pool"]; got.Usage.Current != 0 {
		t.Fatalf("a refused batch left a gauge: %+v", got)
	}
	// Tenant tokens may not ingest.
	h := http.Header{}
	h.Set("Authorization", "APIToken "+tok)
	if res := v.sr.do(t, v.e, http.MethodPost, "/admin/v1/gauges", `{}`, h); res.Status != http.StatusUnauthorized {
		t.Fatalf("tenant token on ingestion: %d", res.Status)
	}
}

func TestQuotaCheckAnswersAllowedOrDenied(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	v.admin(http.MethodPost, "/admin/v1/gauges", `{"object_counts":[{"tenant":"acme","namespace":"shop","kind":"http_loadbalancer","count":3,"observed_at":"2026-11-25T10:00:00Z"}]}`)
	check := func(query string) admin.QuotaCheck {
		t.Helper()
		res := v.admin(http.MethodGet, "/admin/v1/tenants/acme/namespaces/shop/quota_check?"+query, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", query, res.Status, res.Body)
		}
		var c admin.QuotaCheck
		res.decode(t, &c)
		return c
	}
	if c := check("kind=http_loadbalancer&count=2"); !c.Allowed || c.Limit != 5 || c.Usage != 3 || c.Remaining != 2 || !c.Limited {
		t.Errorf("2 more of 5 with 3 used: %+v", c)
	}
	if c := check("kind=http_loadbalancer&count=3"); c.Allowed || c.Remaining != 2 {
		t.Errorf("3 more of 5 with 3 used: %+v", c)
	}
	if c := check("kind=http_loadbalancer"); !c.Allowed || c.Requested != 1 {
		t.Errorf("default count: %+v", c)
	}
	if c := check("kind=unknown_kind&count=1000"); !c.Allowed || c.Limited || c.Limit != -1 || c.Remaining != -1 {
		t.Errorf("a kind without a limit: %+v", c)
	}
	// quota_check uses the effective limits: a tenant object cannot lift
	// them, an operator override can.
	v.createQuota(tok, "shop", `{"metadata":{"name":"q"},"spec":{"object_limits":{"http_loadbalancer":{"maximum":-1}}}}`)
	if c := check("kind=http_loadbalancer&count=1000000"); c.Allowed || c.Limit != 5 {
		t.Errorf("a tenant object lifted the limit: %+v", c)
	}
	v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{"object_limits":{"http_loadbalancer":{"maximum":-1}}}`)
	if c := check("kind=http_loadbalancer&count=1000000"); !c.Allowed || c.Limited {
		t.Errorf("unlimited by an operator override: %+v", c)
	}
	// No overflow at the top of the range: the spec bounds count, and the
	// comparison cannot wrap.
	v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{}`)
	if res := v.admin(http.MethodGet, "/admin/v1/tenants/acme/namespaces/shop/quota_check?kind=http_loadbalancer&count=9223372036854775807", nil); res.Status != http.StatusBadRequest ||
		!strings.Contains(res.errorBody(t).Message, "query parameter count") {
		t.Errorf("count=MaxInt64: %d %s", res.Status, res.Body)
	}
	if c := check("kind=http_loadbalancer&count=1000000"); c.Allowed {
		t.Errorf("a million more of 5: %+v", c)
	}
	if c := check("kind=quota"); c.Usage != 1 || c.Limit != 10 {
		t.Errorf("the service's own quota objects: %+v", c)
	}
	if res := v.admin(http.MethodGet, "/admin/v1/tenants/acme/namespaces/nope/quota_check?kind=x1", nil); res.Status != http.StatusNotFound {
		t.Errorf("missing namespace: %d", res.Status)
	}
}

func TestQuotaObjectCountIsEnforced(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	v.createQuota(tok, "system", `{"metadata":{"name":"few"},"spec":{"object_limits":{"quota":{"maximum":2}}}}`)
	v.createQuota(tok, "shop", `{"metadata":{"name":"a"},"spec":{}}`)
	v.createQuota(tok, "shop", `{"metadata":{"name":"b"},"spec":{}}`)
	res := v.call(http.MethodPost, "/api/web/namespaces/shop/quotas", tok, `{"metadata":{"name":"c"},"spec":{}}`)
	if res.Status != http.StatusConflict || !strings.Contains(res.errorBody(t).Message, "quota exceeded") {
		t.Fatalf("third object past a limit of 2: %d %s", res.Status, res.Body)
	}
	_, items, _ := v.listQuotas(tok, "shop", "")
	if len(items) != 2 {
		t.Fatalf("%d objects after a refused create", len(items))
	}
}

func TestRateLimitAnswers429ThenRecovers(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	other := v.tenant("globex")
	// The operator's ceiling for listQuotas is high; the tenant's object
	// tightens it, and the change takes effect on the very next request.
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{"api_limits":{"listQuotas":{"rate":100,"burst":100}}}`); res.Status != http.StatusOK {
		t.Fatalf("overrides: %d %s", res.Status, res.Body)
	}
	v.createQuota(tok, "system", `{"metadata":{"name":"slow"},"spec":{"api_limits":{"listQuotas":{"rate":2,"unit":"MINUTE","burst":2}}}}`)
	list := func(token, ns string) response {
		return v.call(http.MethodGet, "/api/web/namespaces/"+ns+"/quotas", token, nil)
	}
	for i := 0; i < 2; i++ {
		if res := list(tok, "system"); res.Status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, res.Status)
		}
	}
	res := list(tok, "system")
	if res.Status != http.StatusTooManyRequests {
		t.Fatalf("third request in a minute: %d", res.Status)
	}
	if eb := res.errorBody(t); eb.Code != api.EPERMS || !strings.Contains(eb.Message, "listQuotas") {
		t.Errorf("429 body %+v", eb)
	}
	if ra := res.Header.Get("Retry-After"); ra != "30" {
		t.Errorf("Retry-After %q, want 30 (one request every 30s)", ra)
	}
	// The bucket is the tenant's: another namespace shares it (the limit is
	// tenant-wide), another tenant does not.
	if res := list(tok, "shop"); res.Status != http.StatusTooManyRequests {
		t.Errorf("shop shares the tenant-wide bucket, got %d", res.Status)
	}
	if res := list(other, "system"); res.Status != http.StatusOK {
		t.Errorf("another tenant is limited too: %d", res.Status)
	}
	// Other operations keep their own buckets.
	if res := v.call(http.MethodGet, limitsPath, tok, nil); res.Status != http.StatusOK {
		t.Errorf("another operation is limited too: %d", res.Status)
	}
	// The operator is never limited.
	for i := 0; i < 30; i++ {
		if res := v.admin(http.MethodGet, "/admin/v1/tenants", nil); res.Status != http.StatusOK {
			t.Fatalf("operator request %d: %d", i, res.Status)
		}
	}

	v.clock.Advance(30 * time.Second)
	if res := list(tok, "system"); res.Status != http.StatusOK {
		t.Fatalf("after Retry-After: %d", res.Status)
	}
	if res := list(tok, "system"); res.Status != http.StatusTooManyRequests {
		t.Fatalf("only one request refilled, got %d", res.Status)
	}

	// Raising the limit (up to the ceiling) takes effect at once and keeps
	// the bucket's state.
	res = v.call(http.MethodPut, "/api/web/namespaces/system/quotas/slow", tok, `{"metadata":{"name":"slow"},"spec":{"api_limits":{"listQuotas":{"rate":100,"unit":"SECOND","burst":100}}}}`)
	if res.Status != http.StatusOK {
		t.Fatal(res.Status)
	}
	v.clock.Advance(time.Second)
	for i := 0; i < 50; i++ {
		if res := list(tok, "system"); res.Status != http.StatusOK {
			t.Fatalf("after raising the limit, request %d: %d", i, res.Status)
		}
	}
}

func TestRateLimitByVendorNameAndNamespaceScope(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop", "lab")
	// The vendor's RPC name works as a key too; a namespace's own limit has
	// its own bucket and does not touch other namespaces.
	v.createQuota(tok, "shop", `{"metadata":{"name":"strict"},"spec":{"api_limits":{"ves.io.schema.quota.API.List":{"rate":1,"unit":"HOUR"}}}}`)
	list := func(ns string) int {
		return v.call(http.MethodGet, "/api/web/namespaces/"+ns+"/quotas", tok, nil).Status
	}
	if list("shop") != http.StatusOK || list("shop") != http.StatusTooManyRequests {
		t.Fatal("the vendor-named limit is not enforced in shop")
	}
	for i := 0; i < 5; i++ {
		if s := list("lab"); s != http.StatusOK {
			t.Fatalf("lab is limited by shop's object: %d", s)
		}
	}
	res := v.call(http.MethodGet, "/api/web/namespaces/shop/quotas", tok, nil)
	if ra := res.Header.Get("Retry-After"); ra != "3600" {
		t.Errorf("Retry-After %q, want 3600", ra)
	}
}

func TestViewerTokenIsLimitedLikeItsTenant(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	admin := v.tenant("acme")
	viewer := v.token("acme", tenancy.RoleViewer)
	v.createQuota(admin, "system", `{"metadata":{"name":"slow"},"spec":{"api_limits":{"getQuotaLimits":{"rate":1,"unit":"DAY"}}}}`)
	if res := v.call(http.MethodGet, limitsPath, viewer, nil); res.Status != http.StatusOK {
		t.Fatal(res.Status)
	}
	if res := v.call(http.MethodGet, limitsPath, admin, nil); res.Status != http.StatusTooManyRequests {
		t.Fatalf("a second token of the tenant got %d; the bucket is per tenant", res.Status)
	}
}

// Concurrent creates never push a namespace past its limit of quota objects.
func TestConcurrentCreatesRespectTheQuotaObjectLimit(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{"api_limits":{"createQuota":{"rate":1000,"burst":1000}}}`)
	v.createQuota(tok, "shop", `{"metadata":{"name":"cap"},"spec":{"object_limits":{"quota":{"maximum":5}}}}`)
	const workers = 12
	statuses := make(chan int, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			res := v.call(http.MethodPost, "/api/web/namespaces/shop/quotas", tok, fmt.Sprintf(`{"metadata":{"name":"q%d"},"spec":{}}`, i))
			statuses <- res.Status
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusOK] != 4 || counts[http.StatusConflict] != workers-4 {
		t.Fatalf("statuses %v, want 4 created and %d refused\n%s", counts, workers-4, v.logs.String())
	}
	if _, items, _ := v.listQuotas(tok, "shop", ""); len(items) != 5 {
		t.Fatalf("%d objects, want exactly the limit of 5", len(items))
	}
}

// Spelling an operation by its vendor RPC name instead of its operation id
// is the same limit: it cannot escape the plan's.
func TestVendorSpellingCannotEscapeThePlansLimit(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	// The plan allows listQuotas 10 per second with a burst of 20.
	v.createQuota(tok, "system", `{"metadata":{"name":"lift"},"spec":{"api_limits":{"ves.io.schema.quota.API.List":{"rate":100000,"burst":100000}}}}`)
	if got := (*v.limits(tok, "shop").Apis)["listQuotas"]; got.Rate != 10 || *got.Burst != 20 {
		t.Fatalf("listQuotas %+v, want the plan's 10/s burst 20", got)
	}
	statuses := map[int]int{}
	for range 25 {
		statuses[v.call(http.MethodGet, "/api/web/namespaces/shop/quotas", tok, nil).Status]++
	}
	if statuses[http.StatusOK] != 20 || statuses[http.StatusTooManyRequests] != 5 {
		t.Fatalf("25 requests at once: %v, want 20 served and 5 refused", statuses)
	}
	// Both spellings in one object are refused: which would win is unclear.
	res := v.call(http.MethodPost, "/api/web/namespaces/system/quotas", tok,
		`{"metadata":{"name":"both"},"spec":{"api_limits":{"listQuotas":{"rate":1},"ves.io.schema.quota.API.List":{"rate":2}}}}`)
	if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, "names the same operation") {
		t.Fatalf("both spellings: %d %s", res.Status, res.Body)
	}
}

// A request takes a token from the tenant-wide bucket and from its
// namespace's own, so no mix of namespaces gets past the tenant's limit;
// a request refused by one bucket takes nothing from the other.
func TestRequestsTakeFromTheTenantAndTheNamespaceBucket(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop", "lab")
	v.createQuota(tok, "system", `{"metadata":{"name":"tenant"},"spec":{"api_limits":{"listQuotas":{"rate":4,"unit":"HOUR"}}}}`)
	v.createQuota(tok, "shop", `{"metadata":{"name":"shop"},"spec":{"api_limits":{"ves.io.schema.quota.API.List":{"rate":3,"unit":"HOUR"}}}}`)
	v.createQuota(tok, "lab", `{"metadata":{"name":"lab"},"spec":{"api_limits":{"listQuotas":{"rate":3,"unit":"HOUR"}}}}`)
	list := func(ns string) int {
		return v.call(http.MethodGet, "/api/web/namespaces/"+ns+"/quotas", tok, nil).Status
	}
	var got []int
	for _, ns := range []string{"shop", "shop", "shop", "shop", "lab", "lab", "system"} {
		got = append(got, list(ns))
	}
	// shop: 3 served (its own bucket is then empty), the 4th refused without
	// spending the tenant's 4th token; lab gets that one, then the tenant's
	// bucket is empty for everyone, lab's own bucket notwithstanding.
	want := []int{200, 200, 200, 429, 200, 429, 429}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	// quota/usage shows each namespace's own bucket, and the tenant's
	// elsewhere.
	if u := (*v.usage(tok, "shop").Apis)["listQuotas"]; u.Usage.Current != 3 || u.Limit.Rate != 3 {
		t.Errorf("shop's listQuotas usage %+v", u)
	}
	if u := (*v.usage(tok, "system").Apis)["listQuotas"]; u.Usage.Current != 4 || u.Limit.Rate != 4 {
		t.Errorf("system's listQuotas usage %+v", u)
	}
}
