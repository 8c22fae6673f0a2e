package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"billing-api/gen/api"
	"billing-api/server/payment"
	"billing-api/server/transition"
)

const transitionPath = "/api/web/namespaces/system/billing/plan_transition"

const billingAddress = `{"address1":"1 Main St","city":"Springfield","zip_code":"12345","country":"US"}`

func (v *env) currentPlanName(tok string) string {
	v.t.Helper()
	res := v.call(http.MethodGet, "/api/web/namespaces/system/usage_plans/current", tok, nil)
	var p api.PlanLocalizedPlan
	res.decode(v.t, &p)
	return *(*p.Plans)[0].Name
}

func (v *env) transitionState(id string) (int, string) {
	v.t.Helper()
	res := v.call(http.MethodGet, "/no_auth/namespaces/system/billing/plan_transition?id="+id, "", nil)
	var out api.PlanTransitionGetPlanTransitionRsp
	if res.Status == http.StatusOK {
		res.decode(v.t, &out)
	}
	return res.Status, string(out.State)
}

func TestSelfServiceTransitionsFinishAtOnce(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	expect := func(body string, status int, inMessage string) api.PlanTransitionInitiatePlanTransitionRsp {
		t.Helper()
		res := v.call(http.MethodPost, transitionPath, tok, body)
		if res.Status != status {
			t.Fatalf("%s: %d %s, want %d", body, res.Status, res.Body, status)
		}
		var out api.PlanTransitionInitiatePlanTransitionRsp
		if status == http.StatusOK {
			res.decode(t, &out)
		} else if inMessage != "" && !strings.Contains(res.errorBody(t).Message, inMessage) {
			t.Fatalf("%s: %s does not say %q", body, res.Body, inMessage)
		}
		return out
	}
	expect(`{"new_plan":"GOLD"}`, http.StatusBadRequest, "new_plan")
	expect(`{"new_plan":"FREE"}`, http.StatusConflict, "already on plan FREE")
	// TEAM needs a PRIMARY payment method (or a token) and a billing address.
	expect(`{"new_plan":"TEAM"}`, http.StatusBadRequest, "payload.payment_provider_token")
	expect(`{"new_plan":"TEAM","payload":{"payment_provider_token":"tok_visa"}}`, http.StatusBadRequest, "payload.billing_address")
	if v.currentPlanName(tok) != "FREE" {
		t.Fatal("a refused transition changed the plan")
	}
	out := expect(`{"new_plan":"TEAM","payload":{"payment_provider_token":"tok_visa","billing_address":`+billingAddress+`}}`, http.StatusOK, "")
	if *out.RequiresManualApproval || out.Id == "" {
		t.Fatalf("%+v", out)
	}
	if status, state := v.transitionState(out.Id); status != http.StatusOK || state != "STATE_FINISHED" {
		t.Fatalf("state %d %s", status, state)
	}
	if v.currentPlanName(tok) != "TEAM" {
		t.Fatal("the plan did not switch")
	}
	if got := v.roles("acme"); len(got) != 1 {
		t.Fatalf("the token did not become a payment method: %v", got)
	}
	// TEAM's default quota applies at once.
	if got := (*v.limits(tok, "system").Objects)["http_loadbalancer"]; got.Maximum <= 5 {
		t.Fatalf("limits still FREE's: %+v", got)
	}
	// Back to INDIVIDUAL: the PRIMARY method satisfies its flow; subscriptions
	// the new plan does not allow are cancelled in the same transaction.
	if res := v.call(http.MethodPost, subscribePath, tok, `{"f5xc_appstack_standard":{}}`); res.Status != http.StatusOK {
		t.Fatalf("subscribe: %d %s", res.Status, res.Body)
	}
	expect(`{"new_plan":"INDIVIDUAL"}`, http.StatusOK, "")
	subs := v.subscriptions(tok, "")
	if len(subs) != 1 || *subs[0].Current || subs[0].CancellationDate == nil {
		t.Fatalf("appstack (not allowed on INDIVIDUAL) was not cancelled: %s", jsonOf(subs))
	}
	if status, _ := v.transitionState(uuid.NewString()); status != http.StatusNotFound {
		t.Fatalf("an unknown id answered %d", status)
	}
}

func TestApprovalTransitionsWaitForTheOperator(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.addMethod(tok, "tok_visa", "")
	body := `{"new_plan":"ORGANIZATION","payload":{"domain":"acme.example.com","billing_address":` + billingAddress + `}}`
	res := v.call(http.MethodPost, transitionPath, tok, body)
	var out api.PlanTransitionInitiatePlanTransitionRsp
	res.decode(t, &out)
	if res.Status != http.StatusOK || !*out.RequiresManualApproval {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if _, state := v.transitionState(out.Id); state != "STATE_WAITING_FOR_APPROVAL" || v.currentPlanName(tok) != "FREE" {
		t.Fatalf("state %s before approval", state)
	}
	// One open transition per tenant.
	if res := v.call(http.MethodPost, transitionPath, tok, `{"new_plan":"INDIVIDUAL"}`); res.Status != http.StatusConflict {
		t.Fatalf("a second open transition: %d %s", res.Status, res.Body)
	}
	id := uuid.MustParse(out.Id)
	ctx := context.Background()
	res = v.admin(http.MethodGet, "/admin/v1/plan_transitions?state=WAITING_FOR_APPROVAL", nil)
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), out.Id) {
		t.Fatalf("waiting list: %d %s", res.Status, res.Body)
	}
	if res := v.admin(http.MethodPost, "/admin/v1/plan_transitions/"+out.Id+"/approve", nil); res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"state":"FINISHED"`) {
		t.Fatalf("approve: %d %s", res.Status, res.Body)
	}
	if res := v.admin(http.MethodPost, "/admin/v1/plan_transitions/"+out.Id+"/approve", nil); res.Status != http.StatusConflict {
		t.Fatalf("approving twice: %d %s", res.Status, res.Body)
	}
	if _, state := v.transitionState(out.Id); state != "STATE_FINISHED" || v.currentPlanName(tok) != "ORGANIZATION" {
		t.Fatalf("after approval: %s on %s", state, v.currentPlanName(tok))
	}
	// Illegal edges are refused: a finished transition is neither approved
	// nor rejected again.
	if _, err := v.app.Transitions.Approve(ctx, id); err == nil {
		t.Fatal("approved twice")
	}
	if _, err := v.app.Transitions.Reject(ctx, id, "late"); err == nil {
		t.Fatal("rejected after finishing")
	}
	// A rejected one fails, leaves the plan alone and frees the slot.
	tok2 := v.tenant("beta")
	v.addMethod(tok2, "tok_visa", "")
	res = v.call(http.MethodPost, transitionPath, tok2, body)
	res.decode(t, &out)
	if res := v.admin(http.MethodPost, "/admin/v1/plan_transitions/"+out.Id+"/reject", `{"reason":"no contract yet"}`); res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"reason":"no contract yet"`) {
		t.Fatalf("reject: %d %s", res.Status, res.Body)
	}
	if res := v.admin(http.MethodPost, "/admin/v1/plan_transitions/"+uuid.NewString()+"/reject", `{"reason":"x"}`); res.Status != http.StatusNotFound {
		t.Fatalf("rejecting an unknown transition: %d", res.Status)
	}
	if _, state := v.transitionState(out.Id); state != "STATE_FAILED" || v.currentPlanName(tok2) != "FREE" {
		t.Fatalf("after rejection: %s on %s", state, v.currentPlanName(tok2))
	}
	if _, err := v.app.Transitions.Approve(ctx, uuid.MustParse(out.Id)); err == nil {
		t.Fatal("a rejected transition was approved")
	}
	if res := v.call(http.MethodPost, transitionPath, tok2, `{"new_plan":"INDIVIDUAL"}`); res.Status != http.StatusOK {
		t.Fatalf("after a rejection: %d %s", res.Status, res.Body)
	}
}

func TestTheStateMachineHasOnlyItsEdges(t *testing.T) {
	t.Parallel()
	states := []transition.State{transition.Creating, transition.WaitingForApproval, transition.Finished, transition.Failed}
	allowed := map[[2]transition.State]bool{
		{transition.Creating, transition.Finished}: true, {transition.Creating, transition.Failed}: true,
		{transition.Creating, transition.WaitingForApproval}: true, {transition.WaitingForApproval, transition.Finished}: true,
		{transition.WaitingForApproval, transition.Failed}: true,
	}
	for _, from := range states {
		for _, to := range states {
			if got := transition.CanMove(from, to); got != allowed[[2]transition.State{from, to}] {
				t.Errorf("%s → %s: %v", from, to, got)
			}
		}
	}
}

// Concurrent initiates from two replicas: exactly one wins, the others get
// 409, and the tenant ends on the winner's plan.
func TestOneOpenTransitionEvenAcrossReplicas(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.addMethod(tok, "tok_visa", "")
	body := `{"new_plan":"ORGANIZATION","payload":{"domain":"acme.example.com","billing_address":` + billingAddress + `}}`
	count := v.acrossReplicas(8, http.MethodPost, transitionPath, tok, func(int) string { return body })
	if count[http.StatusOK] != 1 || count[http.StatusConflict] != 7 {
		t.Fatalf("answers %v, want one 200 and seven 409", count)
	}
}

// The status endpoint is rate limited per client address.
func TestTheStatusEndpointIsRateLimitedPerClient(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	limited := 0
	for i := range 40 {
		res := v.call(http.MethodGet, fmt.Sprintf("/no_auth/namespaces/system/billing/plan_transition?id=%s", uuid.NewString()), "", nil)
		switch res.Status {
		case http.StatusNotFound:
		case http.StatusTooManyRequests:
			limited++
			if res.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("request %d: %d %s", i, res.Status, res.Body)
		}
	}
	if limited != 20 { // a burst of 20 on a clock that does not move
		t.Fatalf("%d of 40 limited, want 20", limited)
	}
}

// A transition that cannot be applied fails and frees the tenant's slot.
func TestAFailedTransitionFreesTheSlot(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	// The operator allows two payment methods whatever the plan: a third,
	// brought by the move to TEAM, cannot be added.
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", map[string]any{"object_limits": map[string]any{"payment_method": map[string]any{"maximum": 2}}}); res.Status != http.StatusOK {
		t.Fatalf("limit overrides: %d %s", res.Status, res.Body)
	}
	v.addMethod(tok, "tok_a", "")
	v.addMethod(tok, "tok_b", "")
	body := `{"new_plan":"TEAM","payload":{"payment_provider_token":"tok_c","billing_address":` + billingAddress + `}}`
	if res := v.call(http.MethodPost, transitionPath, tok, body); res.Status != http.StatusConflict {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	if v.currentPlanName(tok) != "FREE" || len(v.roles("acme")) != 2 {
		t.Fatalf("a failed transition changed the plan (%s) or the methods (%v)", v.currentPlanName(tok), v.roles("acme"))
	}
	acme, _ := v.tenancy.Tenant(context.Background(), "acme")
	ts, err := v.app.Transitions.List(context.Background(), &acme.ID, "")
	if err != nil || len(ts) != 1 || ts[0].State != transition.Failed || !strings.Contains(ts[0].Reason, "payment method") {
		t.Fatalf("transitions %+v (%v)", ts, err)
	}
	if res := v.call(http.MethodPost, transitionPath, tok, `{"new_plan":"TEAM","payload":{"billing_address":`+billingAddress+`}}`); res.Status != http.StatusOK {
		t.Fatalf("after the failure: %d %s", res.Status, res.Body)
	}
}

// primaryContact is the contact of the tenant's PRIMARY payment method.
func (v *env) primaryContact(tenant string) (payment.Contact, string) {
	v.t.Helper()
	tn, err := v.tenancy.Tenant(context.Background(), tenant)
	if err != nil {
		v.t.Fatal(err)
	}
	ms, err := v.app.Payments.Methods(context.Background(), tn.ID)
	if err != nil {
		v.t.Fatal(err)
	}
	for _, m := range ms {
		if m.Role == payment.RolePrimary {
			return m.Contact, m.Token
		}
	}
	v.t.Fatal("no PRIMARY payment method")
	return payment.Contact{}, ""
}

// INDIVIDUAL's flow asks for a payment token only: a token without an
// address is accepted, and the new PRIMARY method is registered with
// payload.payment_address, else payload.billing_address, else the tenant's
// address on file, else none. A refusal never names a field the flow did not
// ask for and the request did not send.
func TestATokenNeedsNoAddressTheFlowDoesNotAskFor(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	move := func(payload string, status int) response {
		t.Helper()
		v.setPlan("acme", "TEAM") // off INDIVIDUAL, with room for the methods
		res := v.call(http.MethodPost, transitionPath, tok, `{"new_plan":"INDIVIDUAL","payload":`+payload+`}`)
		if res.Status != status {
			t.Fatalf("%s: %d %s, want %d", payload, res.Status, res.Body, status)
		}
		return res
	}
	expectPrimary := func(step, token string, want payment.Contact) {
		t.Helper()
		got, gotToken := v.primaryContact("acme")
		if gotToken != token || got != want {
			t.Fatalf("%s: the PRIMARY is %s with %+v, want %s with %+v", step, gotToken, got, token, want)
		}
	}
	billing := payment.Contact{Address1: "1 Main St", City: "Springfield", ZipCode: "12345", Country: "US", Type: "MAILING"}
	card := payment.Contact{Address1: "9 Elm Road", City: "Shelbyville", ZipCode: "54321", Country: "US", Type: "PAYMENT"}
	const cardAddress = `{"contact_type":"PAYMENT","address1":"9 Elm Road","city":"Shelbyville","zip_code":"54321","country":"US"}`

	move(`{"payment_provider_token":"tok_a"}`, http.StatusOK)
	expectPrimary("nothing on file", "tok_a", payment.Contact{})
	move(`{"payment_provider_token":"tok_b","billing_address":`+billingAddress+`}`, http.StatusOK)
	expectPrimary("a billing address", "tok_b", billing)
	move(`{"payment_provider_token":"tok_c","billing_address":`+billingAddress+`,"payment_address":`+cardAddress+`}`, http.StatusOK)
	expectPrimary("the card's own address", "tok_c", card)
	move(`{"payment_provider_token":"tok_d"}`, http.StatusOK)
	expectPrimary("the address on file (the PRIMARY's)", "tok_d", card)

	// An address that is given for the card must be whole; the refusal names
	// it and nothing the flow did not ask for.
	res := move(`{"payment_provider_token":"tok_e","payment_address":{"address1":"9 Elm Road","city":"Shelbyville","country":"US"}}`, http.StatusBadRequest)
	if msg := res.errorBody(t).Message; !strings.Contains(msg, "payload.payment_address.zip_code") || strings.Contains(msg, "billing_address") {
		t.Fatalf("a partial card address: %s", msg)
	}
	// TEAM's flow asks for contacts: billing_address stays required.
	v.setPlan("acme", "INDIVIDUAL")
	res = v.call(http.MethodPost, transitionPath, tok, `{"new_plan":"TEAM","payload":{"payment_provider_token":"tok_f","payment_address":`+cardAddress+`}}`)
	if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, "payload.billing_address: plan TEAM needs a billing address") {
		t.Fatalf("TEAM without a billing address: %d %s", res.Status, res.Body)
	}
}

// The card a self-service move brings is added in the transaction that
// switches the plan, so it counts against the plan the tenant moves to: a
// FREE tenant with the two methods FREE allows can still move to INDIVIDUAL
// with a new card.
func TestTheCardOfAMoveCountsAgainstTheNewPlan(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.addMethod(tok, "tok_a", "")
	v.addMethod(tok, "tok_b", "")
	if res := v.call(http.MethodPost, pmPath, tok, pmBody("tok_c", "")); res.Status != http.StatusConflict {
		t.Fatalf("a third method on FREE: %d %s", res.Status, res.Body)
	}
	if res := v.call(http.MethodPost, transitionPath, tok, `{"new_plan":"INDIVIDUAL","payload":{"payment_provider_token":"tok_c"}}`); res.Status != http.StatusOK {
		t.Fatalf("moving to INDIVIDUAL with a third card: %d %s", res.Status, res.Body)
	}
	if _, token := v.primaryContact("acme"); token != "tok_c" || len(v.roles("acme")) != 3 || v.currentPlanName(tok) != "INDIVIDUAL" {
		t.Fatalf("after the move: PRIMARY %s, methods %v, plan %s", token, v.roles("acme"), v.currentPlanName(tok))
	}
}
