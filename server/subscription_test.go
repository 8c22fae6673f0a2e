package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"billing-api/gen/api"
)

const (
	subscribePath   = "/api/web/namespaces/system/addon/subscribe"
	unsubscribePath = "/api/web/namespaces/system/addon/unsubscribe"
	subsPath        = "/api/web/namespaces/system/subscriptions/custom_list"
)

func (v *env) subscriptions(tok, query string) []api.SubscriptionSubscriptionType {
	v.t.Helper()
	res := v.call(http.MethodGet, subsPath+query, tok, nil)
	if res.Status != http.StatusOK {
		v.t.Fatalf("custom_list: %d %s", res.Status, res.Body)
	}
	var out api.SubscriptionListSubscriptionsRsp
	res.decode(v.t, &out)
	return *out.Subscriptions
}

func TestAddonSubscriptions(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	expect := func(path, body string, status int, inMessage string) {
		t.Helper()
		res := v.call(http.MethodPost, path, tok, body)
		if res.Status != status {
			t.Fatalf("%s %s: %d %s, want %d", path, body, res.Status, res.Body, status)
		}
		if status == http.StatusOK && string(res.Body) != "{}\n" {
			t.Fatalf("%s answered %q, want {}", path, res.Body)
		}
		if inMessage != "" && !strings.Contains(res.errorBody(t).Message, inMessage) {
			t.Fatalf("%s: %s does not say %q", path, res.Body, inMessage)
		}
	}
	// FREE allows no add-on: 403 naming the plans that do.
	expect(subscribePath, `{"f5xc_waap_standard":{}}`, http.StatusForbidden, "INDIVIDUAL, TEAM")
	v.setPlan("acme", "TEAM")
	expect(subscribePath, `{}`, http.StatusBadRequest, "allowed: f5xc_appstack_standard")
	expect(subscribePath, `{"f5xc_waap_advanced":{},"f5xc_appstack_standard":{}}`, http.StatusBadRequest, "given: f5xc_appstack_standard, f5xc_waap_advanced")
	expect(subscribePath, `{"f5xc_securemesh_advanced":{}}`, http.StatusForbidden, "ORGANIZATION")
	expect(subscribePath, `{"f5xc_content_delivery_network_standard":{}}`, http.StatusOK, "")
	expect(subscribePath, `{"f5xc_content_delivery_network_standard":{}}`, http.StatusOK, "") // idempotent
	expect(subscribePath, `{"f5xc_waap_standard":{}}`, http.StatusOK, "")                     // included: nothing to do
	expect(unsubscribePath, `{"f5xc_waap_standard":{}}`, http.StatusConflict, "included")
	expect(unsubscribePath, `{"f5xc_synthetic_monitoring_standard":{}}`, http.StatusNotFound, "")

	subs := v.subscriptions(tok, "")
	if len(subs) != 2 || *subs[0].Name != "f5xc_waap_standard" || subs[0].StartDate != nil ||
		*subs[1].Name != "f5xc_content_delivery_network_standard" || !*subs[1].Current || subs[1].StartDate == nil ||
		subs[1].LastBillingPeriodStartDate == nil || !subs[1].LastBillingPeriodEndDate.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("subscriptions %s", jsonOf(subs))
	}
	// A month later the first period is behind it; cancel, and it stays listed.
	v.clock.Advance(31 * 24 * time.Hour)
	expect(unsubscribePath, `{"f5xc_content_delivery_network_standard":{}}`, http.StatusOK, "")
	expect(unsubscribePath, `{"f5xc_content_delivery_network_standard":{}}`, http.StatusNotFound, "")
	subs = v.subscriptions(tok, "")
	cdn := subs[1]
	if len(subs) != 2 || *cdn.Current || !*cdn.Cancelled || cdn.CancellationDate == nil || len(*cdn.PreviousBillingPeriods) != 1 ||
		!cdn.LastBillingPeriodEndDate.Equal(*cdn.CancellationDate) {
		t.Fatalf("after cancelling %s", jsonOf(subs))
	}
	if cur := v.subscriptions(tok, "?current=true"); len(cur) != 1 || *cur[0].Name != "f5xc_waap_standard" {
		t.Fatalf("current only %s", jsonOf(cur))
	}
	// Subscribing again starts a new subscription; the old one stays.
	expect(subscribePath, `{"f5xc_content_delivery_network_standard":{}}`, http.StatusOK, "")
	if subs := v.subscriptions(tok, ""); len(subs) != 3 || !*subs[1].Current || *subs[2].Current {
		t.Fatalf("resubscribed %s", jsonOf(subs))
	}
	if got := (*v.usage(tok, "system").Objects)["subscription"]; got.Usage.Current != 1 {
		t.Fatalf("subscription usage %+v", got)
	}
	// Another tenant sees none of it.
	if subs := v.subscriptions(v.tenant("other"), ""); len(subs) != 0 {
		t.Fatalf("another tenant sees %s", jsonOf(subs))
	}
}

func TestSubscriptionsAreCountedObjects(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.setPlan("acme", "INDIVIDUAL")
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{"object_limits":{"subscription":{"maximum":1}}}`); res.Status != http.StatusOK {
		t.Fatalf("override: %d %s", res.Status, res.Body)
	}
	if res := v.call(http.MethodPost, subscribePath, tok, `{"f5xc_waap_standard":{}}`); res.Status != http.StatusOK {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if res := v.call(http.MethodPost, subscribePath, tok, `{"f5xc_synthetic_monitoring_standard":{}}`); res.Status != http.StatusConflict {
		t.Fatalf("past the subscription limit: %d %s", res.Status, res.Body)
	}
	// Already active: still fine at the limit.
	if res := v.call(http.MethodPost, subscribePath, tok, `{"f5xc_waap_standard":{}}`); res.Status != http.StatusOK {
		t.Fatalf("an active one at the limit: %d %s", res.Status, res.Body)
	}
}
