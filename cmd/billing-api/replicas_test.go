package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"billing-api/server"
	"billing-api/server/payment"
)

// Two server processes on one database: a token revoked, or a limit
// override set, through one of them stops working there at once and on
// the other once its cache runs out (at most a second; the in-process test
// TestCachedStateFollowsChangesWithinASecond pins that bound on a
// hand-moved clock).
func TestTwoServersFollowEachOthersChanges(t *testing.T) {
	t.Parallel()
	env := append(storeEnv(t), "BILLING_ADMIN_TOKEN=ops")
	mustRun(t, env, "tenant", "create", "acme")
	a, stopA := startServer(t, env)
	defer stopA()
	b, stopB := startServer(t, env)
	defer stopB()

	do := func(method, url, auth, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, out
	}
	status, body := do(http.MethodPost, a+"/admin/v1/tenants/acme/tokens", "Bearer ops", `{"name":"ci","role":"admin"}`)
	if status != http.StatusCreated {
		t.Fatalf("token: %d %s", status, body)
	}
	var issued struct {
		Secret string
		Token  struct{ ID string }
	}
	_ = json.Unmarshal(body, &issued)
	lb := func(base string) (int, int32) {
		status, body := do(http.MethodGet, base+"/api/web/namespaces/system/quota/limits", "APIToken "+issued.Secret, "")
		var l struct {
			Objects map[string]struct{ Maximum int32 }
		}
		_ = json.Unmarshal(body, &l)
		return status, l.Objects["http_loadbalancer"].Maximum
	}
	// Both servers now hold the token, the namespace and the limits.
	for _, base := range []string{a, b} {
		if status, got := lb(base); status != http.StatusOK || got != 5 {
			t.Fatalf("%s: %d, http_loadbalancer %d", base, status, got)
		}
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("the other server never saw %s", what)
			}
			time.Sleep(10 * time.Millisecond) // waiting for a condition, bounded above
		}
		t.Logf("the other server saw %s after %s", what, time.Since(start).Round(time.Millisecond))
	}

	if status, body := do(http.MethodPut, a+"/admin/v1/tenants/acme/limit_overrides", "Bearer ops", `{"object_limits":{"http_loadbalancer":{"maximum":50}}}`); status != http.StatusOK {
		t.Fatalf("override: %d %s", status, body)
	}
	if _, got := lb(a); got != 50 {
		t.Fatalf("the server that set the override reports %d", got)
	}
	eventually("the override", func() bool { _, got := lb(b); return got == 50 })

	if status, body := do(http.MethodDelete, a+"/admin/v1/tenants/acme/tokens/"+issued.Token.ID, "Bearer ops", ""); status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, body)
	}
	if status, _ := lb(a); status != http.StatusUnauthorized {
		t.Fatalf("the revoking server answered %d", status)
	}
	eventually("the revocation", func() bool { status, _ := lb(b); return status == http.StatusUnauthorized })
}

// Two server processes change one tenant's payment-method roles at once:
// every answer is 200 or 409, and the tenant ends with one PRIMARY and at
// most one SECONDARY (the database's partial unique indexes hold that at
// every instant; the processes' own locks only order the changes).
func TestTwoServersKeepOnePrimaryPaymentMethod(t *testing.T) {
	t.Parallel()
	env, cfg := storeEnvAndConfig(t)
	env = append(env, "BILLING_ADMIN_TOKEN=ops")
	mustRun(t, env, "tenant", "create", "acme")
	secret := strings.TrimSpace(mustRun(t, env, "token", "create", "--tenant", "acme", "--name", "ci"))
	a, stopA := startServer(t, env)
	defer stopA()
	b, stopB := startServer(t, env)
	defer stopB()
	do := func(method, url, auth, body string) (int, []byte) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, out
	}
	if status, body := do(http.MethodPut, a+"/admin/v1/tenants/acme/limit_overrides", "Bearer ops", `{"object_limits":{"payment_method":{"maximum":10}}}`); status != http.StatusOK {
		t.Fatalf("override: %d %s", status, body)
	}
	var names []string
	for i := range 4 {
		status, body := do(http.MethodPost, a+"/api/web/namespaces/system/billing/payment_methods", "APIToken "+secret,
			fmt.Sprintf(`{"token":"tok_card_%d","contact":{"address1":"1 Main St","city":"Springfield","zip_code":"12345","country":"US"}}`, i))
		var out struct{ Name string }
		if err := json.Unmarshal(body, &out); status != http.StatusOK || err != nil {
			t.Fatalf("create: %d %s", status, body)
		}
		names = append(names, out.Name)
	}
	var wg sync.WaitGroup
	failures := make(chan string, 160)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := []string{a, b}[w%2]
			for i := range 20 {
				op := []string{"primary", "secondary", "swap-primary"}[(w+i)%3]
				name := names[(w*7+i)%len(names)]
				status, body := do(http.MethodPost, base+"/api/web/namespaces/system/billing/payment_method/"+name+"/"+op, "APIToken "+secret, `{}`)
				if status != http.StatusOK && status != http.StatusConflict {
					failures <- fmt.Sprintf("%s %s on %s: %d %s", op, name, base, status, body)
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	app, err := server.Open(context.Background(), server.Config{Store: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	acme, err := app.Tenancy.Tenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := app.Payments.Methods(context.Background(), acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	count := map[payment.Role]int{}
	for _, m := range ms {
		count[m.Role]++
	}
	if len(ms) != 4 || count[payment.RolePrimary] != 1 || count[payment.RoleSecondary] > 1 {
		t.Fatalf("after the run: %d methods, roles %v", len(ms), count)
	}
}
