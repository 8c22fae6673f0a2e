package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"billing-api/server/tenancy"
)

// fuzzedOperation is one operation FuzzRequestDecoding sends raw bodies to.
// undo puts back what a 2xx changed, so every input meets the same state
// and a quota object a body created cannot tighten the limits the next
// input runs under.
type fuzzedOperation struct {
	method, path string
	// query, when set, names the query parameter the input is sent as
	// instead of a body.
	query string
	undo  func(ctx context.Context, v *env, p tenancy.Principal, body, answer []byte)
}

// The three writes with the richest bodies (maps, numbers, enums, allOf,
// min/maxProperties), the read whose body carries a signed breakdown query,
// and the list whose label_filter goes to the selector parser.
var fuzzedOperations = []fuzzedOperation{
	{http.MethodPost, "/api/web/namespaces/shop/quotas", "", func(ctx context.Context, v *env, p tenancy.Principal, _, answer []byte) {
		var created struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if json.Unmarshal(answer, &created) == nil {
			_ = v.quotas.Delete(ctx, p, "shop", created.Metadata.Name, false)
		}
	}},
	{http.MethodPost, "/api/web/namespaces/system/billing/payment_methods", "", func(ctx context.Context, v *env, p tenancy.Principal, _, answer []byte) {
		var created struct{ Name string }
		if json.Unmarshal(answer, &created) == nil {
			_ = v.app.Payments.Delete(ctx, p, created.Name)
		}
	}},
	{http.MethodPost, "/api/web/namespaces/system/addon/subscribe", "", func(ctx context.Context, v *env, p tenancy.Principal, body, _ []byte) {
		var addons map[string]json.RawMessage
		if json.Unmarshal(body, &addons) == nil {
			for addon := range addons {
				_ = v.app.Subscriptions.Unsubscribe(ctx, p, addon)
			}
		}
	}},
	{http.MethodPost, "/api/web/namespaces/shop/hourly_usage_details", "", nil},
	{http.MethodGet, "/api/web/namespaces/shop/quotas", "label_filter", nil},
}

// FuzzRequestDecoding sends raw bodies through the whole validating chain
// (body cap, text and JSON checks, kin-openapi, the generated strict
// handler's decoding, the domain rules) of a few operations. Whatever the
// body, the answer is never a 5xx (a panic is recovered into one), every
// 4xx is a schemaErrorType, and every answer keeps to the spec.
func FuzzRequestDecoding(f *testing.F) {
	var logs syncBuffer
	v := newEnvWith(f, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	tok := v.tenant("acme", "shop")
	v.setPlan("acme", "INDIVIDUAL") // a plan that allows add-ons
	// The clock stands still, so no token bucket refills: give the fuzzed
	// operations room for every input a long run makes.
	const room = `{"rate":2000000000,"burst":2000000000}`
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides",
		`{"api_limits":{"createQuota":`+room+`,"listQuotas":`+room+`,"createPaymentMethod":`+room+`,"subscribeAddon":`+room+`,"listHourlyUsageDetails":`+room+`}}`); res.Status != http.StatusOK {
		f.Fatalf("limit overrides: %d %s", res.Status, res.Body)
	}
	ctx := context.Background()
	p, err := v.tenancy.Authenticate(ctx, tok)
	if err != nil {
		f.Fatal(err)
	}
	// A real breakdown query, for the fuzzer to bend.
	v.ingestOK(reqs("acme", "shop", "web", testStart.Add(-2*time.Hour), 1, 2))
	lines := v.details(tok, "shop", `{}`)
	if len(lines) == 0 {
		f.Fatal("no usage line to take a breakdown query from")
	}
	query := lines[0].HourlyBreakdownQuery
	quota := func(meta, spec string) string {
		return `{"metadata":{"name":"q1"` + meta + `},"spec":{` + spec + `}}`
	}
	for op, bodies := range [][]string{
		{ // createQuota
			quota(`,"namespace":"shop","labels":{"team":"payments","app.kubernetes.io/name":"web"},"annotations":{"owner":"a@example.com"},"description":"Limits."`,
				`"object_limits":{"http_loadbalancer":{"maximum":20},"origin_pool":{"maximum":-1}},"resource_limits":{"storage_gib":{"maximum":512.5}},"api_limits":{"listQuotas":{"rate":10,"unit":"SECOND","burst":20}}`),
			quota("", ""),
			quota(`,"description":"a\u0000b"`, ""),
			quota(",\"description\":\"caf\xe9\"", ""),
			quota(`,"description":"\udc00x"`, ""),
			`{"metadata":{"name":"q1","name":"q2"},"spec":{}}`,
			quota("", `"object_limits":{"origin_pool":{"maximum":3000000000}}`),
			quota("", `"object_limits":{"origin_pool":{"maximum":2.0}}`),
			quota("", `"resource_limits":{"gib":{"maximum":1e400}}`),
			quota("", `"resource_limits":{"gib":{"maximum":-0.5}}`),
			quota("", `"api_limits":{"listQuotas":{"rate":1,"unit":"WEEK"}}`),
			quota("", `"api_limits":{"listQuotas":{"rate":1},"ves.io.schema.quota.API.List":{"rate":2}}`),
			quota(`,"labels":{"Bad Key":"v"}`, ""),
			quota(`,"namespace":"system"`, ""),
			quota("", "") + ` {}`,
			`{"metadata":{"name":"` + strings.Repeat("q", 300) + `"},"spec":{}}`,
			`{"metadata":{"name":"q1"},"spec":{},"extra":1}`,
			strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200),
			`[]`, `null`, `""`, `{}`, `{`, ``, `   `, "\xef\xbb\xbf{}",
		},
		{ // createPaymentMethod
			`{"token":"tok_visa_4242"}`,
			`{"namespace":"system","token":"tok_visa_4242","role":"PAYMENT_METHOD_ROLE_PRIMARY","contact":{"contact_type":"BILLING","address1":"1 Main St","city":"Springfield","country":"US","zip_code":"12345"}}`,
			`{"token":"tok_decline_insufficient_funds","role":"PAYMENT_METHOD_ROLE_SECONDARY"}`,
			`{"token":""}`, `{"token":"-bad"}`, `{"token":1}`, `{"token":"tok_1","role":"NOPE"}`,
			`{"token":"tok_1","contact":{"contact_type":"NOPE"}}`, `{"token":"tok_1","namespace":"shop"}`,
		},
		{ // subscribeAddon
			`{"f5xc_waap_standard":{}}`, `{"f5xc_appstack_standard":{}}`, `{}`,
			`{"f5xc_waap_standard":{},"f5xc_waap_advanced":{}}`, `{"f5xc_waap_standard":{"x":1}}`,
			`{"f5xc_waap_standard":null}`, `{"no_such_addon":{}}`,
		},
		{ // listHourlyUsageDetails
			`{"query":"` + query + `"}`,
			`{"namespace":"system","query":"` + query + `"}`,
			`{"query":"` + query[:len(query)-1] + `"}`,
			`{"query":"` + strings.Replace(query, ".", "..", 1) + `"}`,
			`{"query":"eyJ2IjoxfQ.AAAAAAAAAAAAAAAAAAAAAA"}`,
			`{"query":""}`, `{"query":"."}`, `{"query":"` + strings.Repeat("A", 5000) + `"}`,
		},
		{ // listQuotas?label_filter=
			"", "team", "!team", "team=payments", "team!=web,env in (prod,dev)", "env notin (prod)",
			"app.kubernetes.io/name=web", "env gt 3", "a in (b", "team=web\x00", "team=\xff", "a=" + strings.Repeat("v", 64),
		},
	} {
		for _, body := range bodies {
			f.Add(uint8(op), []byte(body))
		}
	}
	header := http.Header{"Authorization": {"APIToken " + tok}}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		op := fuzzedOperations[int(which)%len(fuzzedOperations)]
		logs.mu.Lock()
		logs.b.Reset()
		logs.mu.Unlock()
		path, send := op.path, any(body)
		if op.query != "" {
			path, send = path+"?"+url.Values{op.query: {string(body)}}.Encode(), nil
		}
		res := v.sr.do(t, v.e, op.method, path, send, header) // fails on an answer the spec does not allow
		switch {
		case res.Status >= 500:
			t.Fatalf("%s %s with %q: %d %s\n%s", op.method, path, body, res.Status, res.Body, logs.String())
		case res.Status >= 400:
			res.errorBody(t) // fails unless a schemaErrorType with code and message
		case op.undo != nil:
			op.undo(ctx, v, p, body, res.Body)
		}
	})
}
