package server

import (
	"net/http"
	"strings"
	"testing"

	"billing-api/gen/api"
)

func TestRequestValidationNamesEveryBrokenField(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	body := `{
		"metadata": {"name": "Bad_Name", "labels": {"team": 7}},
		"spec": {"object_limits": {"http_loadbalancer": {"maximum": -5}}, "objcet_limits": {}}
	}`
	res := v.call(http.MethodPost, "/api/web/namespaces/system/quotas", tok, body)
	if res.Status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", res.Status, res.Body)
	}
	eb := res.errorBody(t)
	if eb.Code != api.EBADINPUT {
		t.Errorf("code %s, want EBADINPUT", eb.Code)
	}
	for _, want := range []string{
		"metadata.name", "(pattern)",
		"metadata.labels[team]", "(type)",
		"spec.object_limits[http_loadbalancer].maximum", "(minimum)",
		`"objcet_limits" is unsupported`,
	} {
		if !strings.Contains(eb.Message, want) {
			t.Errorf("message %q does not mention %q", eb.Message, want)
		}
	}
	if strings.Contains(eb.Message, "Schema:") || strings.Contains(eb.Message, "\n") {
		t.Errorf("message leaks kin-openapi's raw dump: %q", eb.Message)
	}
}

func TestRequestValidationRejectsBadParameters(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	cases := []struct {
		name, method, path, body, want string
	}{
		{"limit below minimum", http.MethodGet, "/api/web/namespaces/system/usage/invoices/custom_list?limit=0", "", "query parameter limit"},
		{"limit not a number", http.MethodGet, "/api/web/namespaces/system/usage/invoices/custom_list?limit=ten", "", "query parameter limit"},
		{"enum query", http.MethodGet, "/api/web/namespaces/system/quotas/q1?response_format=BOGUS", "", "query parameter response_format"},
		{"namespace pattern", http.MethodGet, "/api/web/namespaces/Not_A_Label/quota/limits", "", "path parameter namespace"},
		{"system only", http.MethodPost, "/api/web/namespaces/shop/billing/payment_methods", `{"token":"tok_1"}`, "path parameter namespace"},
		{"missing required query", http.MethodGet, "/no_auth/namespaces/system/billing/plan_transition", "", "query parameter id: is required"},
		{"uuid format", http.MethodGet, "/no_auth/namespaces/system/billing/plan_transition?id=nope", "", "query parameter id"},
		{"one value given twice", http.MethodGet, "/api/web/namespaces/system/usage/invoices/custom_list?limit=5&limit=6", "", "query parameter limit: must be given once, not 2 times"},
		{"one value given twice, both valid", http.MethodGet, "/api/web/namespaces/system/subscriptions/custom_list?current=true&current=true", "", "query parameter current: must be given once"},
		{"missing body", http.MethodPost, "/api/web/namespaces/system/quotas", "", "request body"},
		{"invalid json", http.MethodPost, "/api/web/namespaces/system/quotas", `{"metadata":`, "not valid JSON"},
		{"two add-ons at once", http.MethodPost, "/api/web/namespaces/system/addon/subscribe", `{"f5xc_waap_standard":{},"f5xc_waap_advanced":{}}`, "maxProperties"},
		{"no add-on", http.MethodPost, "/api/web/namespaces/system/addon/subscribe", `{}`, "minProperties"},
		{"const namespace in body", http.MethodPost, "/api/web/namespaces/system/current_usage", `{"namespace":"shop"}`, "namespace"},
		{"timestamps are RFC 3339", http.MethodPost, "/api/web/namespaces/system/usage_details", `{"from":"yesterday"}`, "from"},
		{"read-only field in a request", http.MethodPost, "/api/web/namespaces/system/billing/plan_transition", `{"new_plan":"TEAM","payload":{"tp_subscription_id":"x"}}`, "tp_subscription_id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			res := v.call(tc.method, tc.path, tok, body)
			if res.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", res.Status, res.Body)
			}
			if msg := res.errorBody(t).Message; !strings.Contains(msg, tc.want) {
				t.Errorf("message %q does not name %q", msg, tc.want)
			}
		})
	}
}

func TestUnknownPathAndTooLargeBody(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	res := v.call(http.MethodGet, "/api/web/namespaces/system/nothing-here", tok, nil)
	if res.Status != http.StatusNotFound || res.errorBody(t).Code != api.ENOTFOUND {
		t.Fatalf("unknown path answered %d %s", res.Status, res.Body)
	}
	res = v.call(http.MethodPatch, "/api/web/namespaces/system/quotas", tok, nil)
	if res.Status != http.StatusMethodNotAllowed || res.errorBody(t).Code != api.EUNKNOWN {
		t.Fatalf("wrong method answered %d %s", res.Status, res.Body)
	}
	big := `{"metadata":{"name":"a","description":"` + strings.Repeat("x", maxBodyBytes) + `"},"spec":{}}`
	res = v.call(http.MethodPost, "/api/web/namespaces/system/quotas", tok, big)
	if res.Status != http.StatusRequestEntityTooLarge || res.errorBody(t).Code != api.EBADINPUT {
		t.Fatalf("oversized body answered %d %s", res.Status, res.Body)
	}
}
