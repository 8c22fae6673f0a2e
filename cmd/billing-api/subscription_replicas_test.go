package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"billing-api/server"
	"billing-api/server/plan"
)

// Two server processes on one database: clients keep subscribing to
// appstack (allowed on TEAM, not on INDIVIDUAL) through server A while the
// tenant moves from TEAM to INDIVIDUAL through server B. However the
// requests interleave with the move, once they settle the database holds
// no active subscription the tenant's plan does not allow: a subscribe
// checks the plan in its transaction under the tenant lock the move takes,
// never a plan A cached before the move.
//
// The verdict does not depend on timing: every client subscribes until it
// is refused by the new plan, and only then is the database read. (A's plan cache, which the old code trusted, keeps TEAM
// for up to a second after the move, so the old code stored a subscription
// after the move in practically every round.)
func TestTwoServersNeverKeepASubscriptionThePlanForbids(t *testing.T) {
	t.Parallel()
	env, cfg := storeEnvAndConfig(t)
	mustRun(t, env, "tenant", "create", "acme")
	secret := strings.TrimSpace(mustRun(t, env, "token", "create", "--tenant", "acme", "--name", "ci"))
	a, stopA := startServer(t, env)
	defer stopA()
	b, stopB := startServer(t, env)
	defer stopB()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	do := func(base, path, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "APIToken "+secret)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(out)
	}
	const (
		transitionPath = "/api/web/namespaces/system/billing/plan_transition"
		subscribePath  = "/api/web/namespaces/system/addon/subscribe"
		address        = `{"address1":"1 Main St","city":"Springfield","zip_code":"12345","country":"US"}`
		toTeam         = `{"new_plan":"TEAM","payload":{"payment_provider_token":"tok_visa","billing_address":` + address + `}}`
		toTeamAgain    = `{"new_plan":"TEAM","payload":{"billing_address":` + address + `}}`
		toIndividual   = `{"new_plan":"INDIVIDUAL"}`
		appstack       = `{"f5xc_appstack_standard":{}}`
	)
	move := func(base, body string) {
		t.Helper()
		if status, out := do(base, transitionPath, body); status != http.StatusOK || !strings.Contains(out, `"requires_manual_approval":false`) {
			t.Fatalf("transition %s: %d %s", body, status, out)
		}
	}

	app, err := server.Open(context.Background(), server.Config{Store: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	cat := app.Plans.Catalogue()
	// verdict reads the tenant's plan and active subscriptions straight
	// from the database (no cache) and fails on any the plan does not allow.
	verdict := func(round int) (string, []string) {
		t.Helper()
		db := app.DB.SQL()
		var planName string
		if err := db.QueryRow(`SELECT plan_name FROM tenants WHERE name = 'acme'`).Scan(&planName); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(`SELECT s.addon FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id WHERE t.name = 'acme' AND s.cancelled_at IS NULL ORDER BY s.addon`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var active []string
		for rows.Next() {
			var addon string
			if err := rows.Scan(&addon); err != nil {
				t.Fatal(err)
			}
			active = append(active, addon)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		p, ok := cat.Plan(planName)
		if !ok {
			t.Fatalf("round %d: the tenant is on %q, which the catalogue lacks", round, planName)
		}
		for _, addon := range active {
			if !allows(p, addon) {
				t.Errorf("round %d: active subscription to %s on plan %s, which does not allow it (active: %v)", round, addon, planName, active)
			}
		}
		return planName, active
	}

	move(a, toTeam) // the token becomes the PRIMARY method INDIVIDUAL and TEAM ask for
	const rounds, clients = 5, 16
	for round := range rounds {
		subscribed, moving, stopped := make(chan struct{}), make(chan struct{}), make(chan struct{})
		// The move is asked for once the clients are well under way.
		var oks atomic.Int32
		var wg sync.WaitGroup
		failures := make(chan string, clients)
		statuses := make(chan map[int]int, clients)
		deadline := time.Now().Add(30 * time.Second)
		for range clients {
			wg.Go(func() {
				count := map[int]int{}
				defer func() { statuses <- count }()
				for {
					if time.Now().After(deadline) {
						failures <- "a client was never refused after the move"
						return
					}
					status, out := do(a, subscribePath, appstack)
					count[status]++
					switch status {
					case http.StatusOK:
						if oks.Add(1) == 4*clients {
							close(subscribed)
						}
					case http.StatusForbidden:
						select {
						case <-moving:
						default: // TEAM is committed and the move not yet asked for
							failures <- "refused on TEAM: " + out
							return
						}
						if !strings.Contains(out, "plan INDIVIDUAL does not allow") {
							failures <- "refused: " + out
						}
						return // refused by the new plan: done
					case http.StatusTooManyRequests:
					default:
						failures <- fmt.Sprintf("subscribe: %d %s", status, out)
						return
					}
				}
			})
		}
		go func() { wg.Wait(); close(stopped) }()
		select {
		case <-subscribed:
		case <-stopped:
		}
		close(moving)
		move(b, toIndividual) // while the clients keep subscribing on A
		<-stopped
		close(failures)
		close(statuses)
		for f := range failures {
			t.Errorf("round %d: %s", round, f)
		}
		total := map[int]int{}
		for c := range statuses {
			for s, n := range c {
				total[s] += n
			}
		}
		planName, active := verdict(round)
		t.Logf("round %d: answers %v; then on %s with active %v", round, total, planName, active)
		if planName != "INDIVIDUAL" {
			t.Fatalf("round %d: on %s after the move to INDIVIDUAL", round, planName)
		}
		if t.Failed() {
			return
		}
		move(b, toTeamAgain)
	}
}

// allows reports whether the plan allows (or includes) addon.
func allows(p plan.Plan, addon string) bool {
	return slices.Contains(p.AllowedAddons, addon) || slices.Contains(p.IncludedAddons, addon)
}
