package server

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"billing-api/gen/admin"
	"billing-api/gen/api"
	"billing-api/server/transition"
)

const (
	waapStandard = "f5xc_waap_standard"
	waapAdvanced = "f5xc_waap_advanced"
	synthetic    = "f5xc_synthetic_monitoring_standard"
	cdnStandard  = "f5xc_content_delivery_network_standard"
	meshAdvanced = "f5xc_securemesh_advanced"
)

// onIndividualWith puts tenant acme on INDIVIDUAL with a PRIMARY payment
// method and active subscriptions to addons; it returns the admin token.
func (v *env) onIndividualWith(addons ...string) string {
	v.t.Helper()
	tok := v.tenant("acme")
	v.addMethod(tok, "tok_visa", "")
	v.setPlan("acme", "INDIVIDUAL")
	for _, a := range addons {
		if res := v.call(http.MethodPost, subscribePath, tok, `{"`+a+`":{}}`); res.Status != http.StatusOK {
			v.t.Fatalf("subscribe to %s: %d %s", a, res.Status, res.Body)
		}
	}
	return tok
}

// activeAddons are the add-ons tenant acme has an active (stored)
// subscription to, sorted.
func (v *env) activeAddons() []string {
	v.t.Helper()
	acme, err := v.tenancy.Tenant(context.Background(), "acme")
	if err != nil {
		v.t.Fatal(err)
	}
	subs, err := v.app.Subscriptions.All(context.Background(), acme.ID)
	if err != nil {
		v.t.Fatal(err)
	}
	active := map[string]bool{}
	for _, s := range subs {
		if s.Active() {
			active[s.Addon] = true
		}
	}
	return slices.Sorted(maps.Keys(active))
}

// adminTransitions lists tenant acme's transitions through the operator API.
func (v *env) adminTransitions() []admin.PlanTransition {
	v.t.Helper()
	res := v.admin(http.MethodGet, "/admin/v1/plan_transitions?tenant=acme", nil)
	if res.Status != http.StatusOK {
		v.t.Fatalf("list transitions: %d %s", res.Status, res.Body)
	}
	var out struct {
		Transitions []admin.PlanTransition `json:"transitions"`
	}
	if err := json.Unmarshal(res.Body, &out); err != nil {
		v.t.Fatal(err)
	}
	return out.Transitions
}

func (v *env) limitSubscriptions(n int) {
	v.t.Helper()
	body := map[string]any{"object_limits": map[string]any{"subscription": map[string]any{"maximum": n}}}
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", body); res.Status != http.StatusOK {
		v.t.Fatalf("limit overrides: %d %s", res.Status, res.Body)
	}
}

// A self-service move applies the add-ons it asks for in the transaction
// that switches the plan, and keeps what it asks the operator.
func TestASelfServiceMoveChangesTheAddonsItAsksFor(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.onIndividualWith(waapStandard, synthetic)
	body := `{"new_plan":"TEAM","payload":{"billing_address":` + billingAddress + `,` +
		`"subscribe_addon_services":["` + waapAdvanced + `","f5xc_appstack_standard"],` +
		`"unsubscribe_addon_services":["` + synthetic + `","` + cdnStandard + `"],` +
		`"create_support_ticket":true,"support_ticket_info":"Please move our WAAP policies.",` +
		`"deletion_reason":"REASON_NOT_JUSTIFY_COSTS","deletion_feedback":"INDIVIDUAL was too small."}}`
	res := v.call(http.MethodPost, transitionPath, tok, body)
	if res.Status != http.StatusOK {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	// Subscribed to both, synthetic monitoring cancelled, CDN (never
	// subscribed) a no-op, WAAP Standard kept (TEAM includes it, and it was
	// not asked to go).
	want := []string{"f5xc_appstack_standard", waapAdvanced, waapStandard}
	if got := v.activeAddons(); !slices.Equal(got, want) || v.currentPlanName(tok) != "TEAM" {
		t.Fatalf("after the move: %v on %s, want %v on TEAM", got, v.currentPlanName(tok), want)
	}
	ts := v.adminTransitions()
	if len(ts) != 1 {
		t.Fatalf("%d transitions", len(ts))
	}
	got := ts[0]
	if got.State != admin.TransitionState(transition.Finished) ||
		!slices.Equal(got.SubscribeAddonServices, []string{waapAdvanced, "f5xc_appstack_standard"}) ||
		!slices.Equal(got.UnsubscribeAddonServices, []string{synthetic, cdnStandard}) ||
		!got.CreateSupportTicket || got.SupportTicketInfo != "Please move our WAAP policies." ||
		got.DeletionReason != "REASON_NOT_JUSTIFY_COSTS" || got.DeletionFeedback != "INDIVIDUAL was too small." {
		t.Fatalf("the operator sees %+v", got)
	}
}

// At initiate, an add-on the new plan does not allow, or includes, is a 400
// naming it; so is one asked to be both subscribed and cancelled. Nothing is
// stored.
func TestAMoveRefusesAddonsTheNewPlanDoesNotOffer(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.onIndividualWith(waapStandard)
	for body, want := range map[string][]string{
		`{"new_plan":"TEAM","payload":{"billing_address":` + billingAddress + `,"subscribe_addon_services":["` + waapAdvanced + `","` + waapStandard + `"]}}`: {
			"payload.subscribe_addon_services[1]: plan TEAM includes add-on f5xc_waap_standard"},
		`{"new_plan":"FREE","payload":{"subscribe_addon_services":["` + synthetic + `"]}}`: {
			"payload.subscribe_addon_services[0]: plan FREE does not allow add-on f5xc_synthetic_monitoring_standard; plans that allow it: INDIVIDUAL, TEAM, ORGANIZATION"},
		`{"new_plan":"TEAM","payload":{"billing_address":` + billingAddress + `,"subscribe_addon_services":["` + waapAdvanced + `"],"unsubscribe_addon_services":["` + synthetic + `","` + waapAdvanced + `"]}}`: {
			"payload.unsubscribe_addon_services[1]: add-on f5xc_waap_advanced is in subscribe_addon_services too"},
	} {
		res := v.call(http.MethodPost, transitionPath, tok, body)
		if res.Status != http.StatusBadRequest {
			t.Fatalf("%s: %d %s", body, res.Status, res.Body)
		}
		for _, w := range want {
			if msg := res.errorBody(t).Message; !strings.Contains(msg, w) || strings.Count(msg, "payload.") != 1 {
				t.Errorf("%s:\n%s\ndoes not name only %q", body, msg, w)
			}
		}
	}
	if got := v.activeAddons(); !slices.Equal(got, []string{waapStandard}) || v.currentPlanName(tok) != "INDIVIDUAL" || len(v.adminTransitions()) != 0 {
		t.Fatalf("refused moves changed something: %v on %s, %d transitions", got, v.currentPlanName(tok), len(v.adminTransitions()))
	}
}

// A self-service move whose add-ons the subscription limit has no room for
// fails whole with 409: the plan, the subscriptions (cancellations included)
// and the payment methods (its card included) stay as they were, the
// transition is FAILED with the reason, and the tenant may try again.
func TestAMoveWhoseAddonsDoNotFitChangesNothing(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.onIndividualWith(waapStandard, synthetic)
	v.limitSubscriptions(2)
	methods := v.roles("acme")
	body := `{"new_plan":"TEAM","payload":{"payment_provider_token":"tok_mc_5555","billing_address":` + billingAddress + `,` +
		`"subscribe_addon_services":["` + waapAdvanced + `","f5xc_appstack_standard"],"unsubscribe_addon_services":["` + synthetic + `"]}}`
	res := v.call(http.MethodPost, transitionPath, tok, body)
	if res.Status != http.StatusConflict || !strings.Contains(res.errorBody(t).Message, "subscription") {
		t.Fatalf("%d %s, want 409 about the subscription limit", res.Status, res.Body)
	}
	if got := v.activeAddons(); !slices.Equal(got, []string{synthetic, waapStandard}) {
		t.Fatalf("subscriptions %v after a failed move", got)
	}
	if v.currentPlanName(tok) != "INDIVIDUAL" || len(v.roles("acme")) != len(methods) {
		t.Fatalf("a failed move left the tenant on %s with methods %v (was %v)", v.currentPlanName(tok), v.roles("acme"), methods)
	}
	var out api.PlanTransitionInitiatePlanTransitionRsp
	ts := v.adminTransitions()
	if len(ts) != 1 || ts[0].State != admin.TransitionState(transition.Failed) || !strings.Contains(ts[0].Reason, "the add-ons could not be changed") {
		t.Fatalf("transitions %+v", ts)
	}
	// With room (one cancelled, one added) the same move goes through.
	body = `{"new_plan":"TEAM","payload":{"billing_address":` + billingAddress + `,` +
		`"subscribe_addon_services":["` + waapAdvanced + `"],"unsubscribe_addon_services":["` + synthetic + `"]}}`
	res = v.call(http.MethodPost, transitionPath, tok, body)
	if res.Status != http.StatusOK {
		t.Fatalf("after the failure: %d %s", res.Status, res.Body)
	}
	res.decode(t, &out)
	if got := v.activeAddons(); !slices.Equal(got, []string{waapAdvanced, waapStandard}) || v.currentPlanName(tok) != "TEAM" {
		t.Fatalf("after the move: %v on %s", got, v.currentPlanName(tok))
	}
}

// A move that waits for approval keeps what it asks for with it: nothing
// changes until the operator approves, who sees the request; approving
// applies the add-ons with the plan. When the subscription limit has no room
// for them by then, approving answers 409 and the transition fails, changing
// nothing else.
func TestAnApprovedMoveChangesTheAddonsItAskedFor(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.onIndividualWith(waapStandard, synthetic)
	move := func() api.PlanTransitionInitiatePlanTransitionRsp {
		t.Helper()
		body := `{"new_plan":"ORGANIZATION","payload":{"domain":"acme.example.com","billing_address":` + billingAddress + `,` +
			`"subscribe_addon_services":["` + meshAdvanced + `"],"unsubscribe_addon_services":["` + waapStandard + `"],` +
			`"create_support_ticket":true,"support_ticket_info":"Call us about the contract.","deletion_reason":"REASON_UNKNOWN"}}`
		res := v.call(http.MethodPost, transitionPath, tok, body)
		var out api.PlanTransitionInitiatePlanTransitionRsp
		if res.Status != http.StatusOK {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		res.decode(t, &out)
		if !*out.RequiresManualApproval {
			t.Fatal("ORGANIZATION did not wait for approval")
		}
		return out
	}

	// The limit has no room by the time the operator approves.
	v.limitSubscriptions(2)
	first := move()
	if got := v.activeAddons(); !slices.Equal(got, []string{synthetic, waapStandard}) {
		t.Fatalf("subscriptions changed before approval: %v", got)
	}
	if res := v.call(http.MethodPost, subscribePath, tok, `{"`+cdnStandard+`":{}}`); res.Status != http.StatusConflict {
		t.Fatalf("a third subscription under a limit of 2: %d %s", res.Status, res.Body)
	}
	v.limitSubscriptions(1) // the operator tightens it meanwhile
	res := v.admin(http.MethodPost, "/admin/v1/plan_transitions/"+first.Id+"/approve", nil)
	if res.Status != http.StatusConflict || !strings.Contains(string(res.Body), "subscription") {
		t.Fatalf("approving a move whose add-ons do not fit: %d %s", res.Status, res.Body)
	}
	if got := v.activeAddons(); !slices.Equal(got, []string{synthetic, waapStandard}) || v.currentPlanName(tok) != "INDIVIDUAL" {
		t.Fatalf("a refused approval changed %v on %s", got, v.currentPlanName(tok))
	}
	if _, state := v.transitionState(first.Id); state != "STATE_FAILED" {
		t.Fatalf("the refused transition is %s", state)
	}

	// With room, approval applies them: WAAP Standard cancelled as asked,
	// Secure Mesh Advanced subscribed, synthetic monitoring kept.
	v.limitSubscriptions(2)
	second := move()
	var waiting admin.PlanTransition
	for _, tr := range v.adminTransitions() {
		if tr.Id.String() == second.Id {
			waiting = tr
		}
	}
	if waiting.State != admin.TransitionState(transition.WaitingForApproval) || !slices.Equal(waiting.SubscribeAddonServices, []string{meshAdvanced}) ||
		!slices.Equal(waiting.UnsubscribeAddonServices, []string{waapStandard}) || !waiting.CreateSupportTicket ||
		waiting.SupportTicketInfo != "Call us about the contract." || waiting.DeletionReason != "" {
		t.Fatalf("the operator sees %+v", waiting)
	}
	if res := v.admin(http.MethodPost, "/admin/v1/plan_transitions/"+second.Id+"/approve", nil); res.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", res.Status, res.Body)
	}
	if got := v.activeAddons(); !slices.Equal(got, []string{meshAdvanced, synthetic}) || v.currentPlanName(tok) != "ORGANIZATION" {
		t.Fatalf("after approval: %v on %s", got, v.currentPlanName(tok))
	}
}
