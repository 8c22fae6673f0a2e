package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"billing-api/gen/api"
	"billing-api/server/plan"
	"billing-api/server/subscription"
	"billing-api/server/tenancy"
	"billing-api/server/transition"
	"billing-api/store"
	"billing-api/store/storetest"
)

// appstack is allowed on TEAM and not on INDIVIDUAL: the add-on a move
// from TEAM to INDIVIDUAL forbids.
const appstack = "f5xc_appstack_standard"

// onTeamWithAPrimaryMethod makes tenant acme, with a PRIMARY payment method
// (what the move to INDIVIDUAL asks for), on TEAM; it returns the admin
// token and the tenant's principal.
func (v *env) onTeamWithAPrimaryMethod() (string, tenancy.Principal) {
	v.t.Helper()
	tok := v.tenant("acme")
	v.addMethod(tok, "tok_visa", "")
	v.setPlan("acme", "TEAM")
	acme, err := v.tenancy.Tenant(context.Background(), "acme")
	if err != nil {
		v.t.Fatal(err)
	}
	return tok, tenancy.Principal{TenantID: acme.ID, TenantName: "acme", TokenName: "test", Role: tenancy.RoleAdmin}
}

// activeSubscription reads from the store whether the tenant has an active
// subscription to addon.
func (v *env) activeSubscription(tenantID uuid.UUID, addon string) bool {
	v.t.Helper()
	_, ok, err := store.NewSubscriptions(v.db).ActiveSubscription(context.Background(), tenantID, addon)
	if err != nil {
		v.t.Fatal(err)
	}
	return ok
}

// waitForALockWait polls PostgreSQL until some session of the test's
// database waits on a lock; it fails if done delivers first (the other
// party went ahead instead of waiting) or nothing waits within 30s.
func (v *env) waitForALockWait(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("%s went ahead instead of waiting on the tenant lock", what)
		case <-deadline:
			t.Fatalf("%s neither finished nor waited on a lock", what)
		default:
		}
		var n int
		if err := v.db.SQL().QueryRowContext(context.Background(),
			`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not timing a race
	}
}

// A subscribe that starts while a plan transition sits between switching the
// plan and committing waits for it on the tenant lock, then checks the new
// plan: INDIVIDUAL does not allow appstack, so it answers 403 and stores
// nothing. (Before the fix the subscribe checked the plan before taking any
// lock, saw TEAM, and stored an active appstack subscription the moment the
// transition committed.)
func TestSubscribeWaitsForAFinishingTransitionAndChecksTheNewPlan(t *testing.T) {
	t.Parallel()
	if storetest.Dialect() != store.Postgres {
		t.Skip("SQLite admits one writer at a time (BEGIN IMMEDIATE): the subscribe cannot begin until the transition commits, so there is no tenant lock to watch; TestSubscribeOnAnotherReplicaChecksAPlanJustChanged covers SQLite")
	}
	v := newEnv(t)
	tok, p := v.onTeamWithAPrimaryMethod()

	switched, release := make(chan struct{}), make(chan struct{})
	held := transition.NewService(store.NewTransitions(v.db), transition.Deps{
		Plans: v.app.Plans, Payments: v.app.Payments,
		Addons: heldAddons{v.app.Subscriptions, func() {
			close(switched) // the plan is switched, the transaction open
			<-release
		}},
	}, v.app.Now)
	trDone := make(chan error, 1)
	go func() {
		_, err := held.Initiate(context.Background(), p, "INDIVIDUAL", transition.Payload{})
		trDone <- err
	}()
	select {
	case <-switched:
	case err := <-trDone:
		t.Fatalf("the transition ended before switching the plan: %v", err)
	}

	subscribed := make(chan struct{})
	var sub response
	go func() {
		defer close(subscribed)
		sub = v.call(http.MethodPost, subscribePath, tok, `{"`+appstack+`":{}}`)
	}()
	v.waitForALockWait(t, subscribed, "the subscribe")
	close(release)
	if err := <-trDone; err != nil {
		t.Fatalf("transition: %v", err)
	}
	<-subscribed
	if sub.Status != http.StatusForbidden || !strings.Contains(sub.errorBody(t).Message, "plans that allow it: TEAM, ORGANIZATION") {
		t.Fatalf("subscribe after the move to INDIVIDUAL: %d %s, want 403 naming TEAM and ORGANIZATION", sub.Status, sub.Body)
	}
	if v.activeSubscription(p.TenantID, appstack) {
		t.Fatal("an active appstack subscription on INDIVIDUAL, which does not allow it")
	}
	if got := v.currentPlanName(tok); got != "INDIVIDUAL" {
		t.Fatalf("plan %s", got)
	}
}

// heldAddons is the subscriptions domain with a pause after a finishing
// transition has brought the subscriptions in line with the new plan.
type heldAddons struct {
	*subscription.Service
	pause func()
}

func (h heldAddons) FollowPlan(ctx context.Context, tenantID uuid.UUID, pl plan.Plan, subscribe, unsubscribe []string) error {
	err := h.Service.FollowPlan(ctx, tenantID, pl, subscribe, unsubscribe)
	h.pause()
	return err
}

// The reverse order: a subscribe holds the tenant lock between its insert
// and its commit; a transition away from the plan that allows the add-on
// waits for it, then cancels the new subscription in its own transaction.
func TestATransitionWaitsForASubscribeAndCancelsIt(t *testing.T) {
	t.Parallel()
	if storetest.Dialect() != store.Postgres {
		t.Skip("SQLite admits one writer at a time (BEGIN IMMEDIATE): the transition cannot begin until the subscribe commits, so there is no tenant lock to watch")
	}
	v := newEnv(t)
	tok, p := v.onTeamWithAPrimaryMethod()

	inserted, release := make(chan struct{}), make(chan struct{})
	held := subscription.NewService(store.NewSubscriptions(v.db), v.app.Plans,
		func(ctx context.Context, tenantID uuid.UUID, namespace, kind string, n int64, insert func(ctx context.Context) error) error {
			return v.app.Quotas.CreateCounted(ctx, tenantID, namespace, kind, n, func(ctx context.Context) error {
				err := insert(ctx)
				close(inserted) // stored, the transaction open
				<-release
				return err
			})
		}, v.app.Now)
	subDone := make(chan error, 1)
	go func() {
		_, err := held.Subscribe(context.Background(), p, appstack)
		subDone <- err
	}()
	select {
	case <-inserted:
	case err := <-subDone:
		t.Fatalf("the subscribe ended before inserting: %v", err)
	}

	moved := make(chan struct{})
	var tr response
	go func() {
		defer close(moved)
		tr = v.call(http.MethodPost, transitionPath, tok, `{"new_plan":"INDIVIDUAL"}`)
	}()
	v.waitForALockWait(t, moved, "the transition")
	close(release)
	if err := <-subDone; err != nil {
		t.Fatalf("subscribe on TEAM: %v", err)
	}
	<-moved
	if tr.Status != http.StatusOK {
		t.Fatalf("transition: %d %s", tr.Status, tr.Body)
	}
	if v.activeSubscription(p.TenantID, appstack) {
		t.Fatal("the transition to INDIVIDUAL left appstack active")
	}
	subs := v.subscriptions(tok, "")
	if len(subs) != 1 || *subs[0].Name != appstack || *subs[0].Current || subs[0].CancellationDate == nil {
		t.Fatalf("subscriptions after the move %s", jsonOf(subs))
	}
}

// Replica B has TEAM cached when replica A finishes a move to INDIVIDUAL; a
// subscribe to appstack on B within the cache's second checks the plan the
// database holds, not B's copy: 403, nothing stored. Runs on both stores.
func TestSubscribeOnAnotherReplicaChecksAPlanJustChanged(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok, p := v.onTeamWithAPrimaryMethod()
	b := v.replica()
	current := func() string {
		res := v.callOn(b, http.MethodGet, "/api/web/namespaces/system/usage_plans/current", tok, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("current plan on B: %d %s", res.Status, res.Body)
		}
		return string(res.Body)
	}
	if !strings.Contains(current(), `"name":"TEAM"`) {
		t.Fatal("B does not have TEAM")
	}
	if res := v.call(http.MethodPost, transitionPath, tok, `{"new_plan":"INDIVIDUAL"}`); res.Status != http.StatusOK {
		t.Fatalf("transition on A: %d %s", res.Status, res.Body)
	}
	if !strings.Contains(current(), `"name":"TEAM"`) {
		t.Fatal("B's cached plan ran out early (the test's clock has not moved): the test would prove nothing")
	}
	res := v.callOn(b, http.MethodPost, subscribePath, tok, `{"`+appstack+`":{}}`)
	if res.Status != http.StatusForbidden || !strings.Contains(res.errorBody(t).Message, "plan INDIVIDUAL does not allow") {
		t.Fatalf("subscribe on B: %d %s, want 403 from plan INDIVIDUAL", res.Status, res.Body)
	}
	if v.activeSubscription(p.TenantID, appstack) {
		t.Fatal("B stored an appstack subscription on INDIVIDUAL")
	}
}

// Unsubscribe checks the plan the same way: B has TEAM cached when the
// operator approves a move to ORGANIZATION, which includes CDN Standard;
// cancelling it on B within the second is the 409 of an included add-on,
// and the subscription stays.
func TestUnsubscribeOnAnotherReplicaChecksAPlanJustChanged(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok, p := v.onTeamWithAPrimaryMethod()
	const cdn = "f5xc_content_delivery_network_standard"
	if res := v.call(http.MethodPost, subscribePath, tok, `{"`+cdn+`":{}}`); res.Status != http.StatusOK {
		t.Fatalf("subscribe: %d %s", res.Status, res.Body)
	}
	b := v.replica()
	if res := v.callOn(b, http.MethodGet, "/api/web/namespaces/system/usage_plans/current", tok, nil); !strings.Contains(string(res.Body), `"name":"TEAM"`) {
		t.Fatalf("B does not have TEAM: %d %s", res.Status, res.Body)
	}
	res := v.call(http.MethodPost, transitionPath, tok, `{"new_plan":"ORGANIZATION","payload":{"domain":"acme.example.com","billing_address":`+billingAddress+`}}`)
	var out api.PlanTransitionInitiatePlanTransitionRsp
	res.decode(t, &out)
	if res := v.admin(http.MethodPost, "/admin/v1/plan_transitions/"+out.Id+"/approve", nil); res.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", res.Status, res.Body)
	}
	res = v.callOn(b, http.MethodPost, unsubscribePath, tok, `{"`+cdn+`":{}}`)
	if res.Status != http.StatusConflict || !strings.Contains(res.errorBody(t).Message, "included in plan ORGANIZATION") {
		t.Fatalf("unsubscribe on B: %d %s, want 409 from plan ORGANIZATION", res.Status, res.Body)
	}
	if !v.activeSubscription(p.TenantID, cdn) {
		t.Fatal("B cancelled a subscription to an add-on the plan includes")
	}
}

// A plan change judged on a plan another replica has just changed: B has
// TEAM's predecessor cached when A moves the tenant to INDIVIDUAL, and then
// B is asked for INDIVIDUAL too. B's transition finds the tenant on it
// under the lock and fails (409), recording why, rather than finishing a
// move that moves nothing.
func TestATransitionOnAnotherReplicaChecksThePlanWhenItFinishes(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok, _ := v.onTeamWithAPrimaryMethod()
	b := v.replica()
	if res := v.callOn(b, http.MethodGet, "/api/web/namespaces/system/usage_plans/current", tok, nil); !strings.Contains(string(res.Body), `"name":"TEAM"`) {
		t.Fatalf("B does not have TEAM: %d %s", res.Status, res.Body)
	}
	if res := v.call(http.MethodPost, transitionPath, tok, `{"new_plan":"INDIVIDUAL"}`); res.Status != http.StatusOK {
		t.Fatalf("transition on A: %d %s", res.Status, res.Body)
	}
	res := v.callOn(b, http.MethodPost, transitionPath, tok, `{"new_plan":"INDIVIDUAL"}`)
	if res.Status != http.StatusConflict || !strings.Contains(res.errorBody(t).Message, "already on plan INDIVIDUAL") {
		t.Fatalf("the same move on B: %d %s, want 409 already on plan INDIVIDUAL", res.Status, res.Body)
	}
	ts, err := v.app.Transitions.List(context.Background(), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	finished := 0
	for _, tr := range ts {
		if tr.ToPlan == "INDIVIDUAL" && tr.State == transition.Finished {
			finished++
		}
		if tr.State.Open() {
			t.Errorf("transition %s left open: %+v", tr.ID, tr)
		}
	}
	if finished != 1 {
		t.Fatalf("%d finished moves to INDIVIDUAL, want 1: %+v", finished, ts)
	}
}
