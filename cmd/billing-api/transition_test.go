package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"billing-api/server"
	"billing-api/server/payment"
	"billing-api/server/tenancy"
	"billing-api/server/transition"
)

// An operator lists the transitions waiting for approval and decides them
// from the command line.
func TestTransitionCommands(t *testing.T) {
	t.Parallel()
	env, cfg := storeEnvAndConfig(t)
	ctx := context.Background()
	a, err := server.Open(ctx, server.Config{Store: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	start := func(name string) transition.Transition {
		t.Helper()
		tn, err := a.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		p := tenancy.Principal{TenantID: tn.ID, TenantName: name, TokenName: "t", Role: tenancy.RoleAdmin}
		addr := &payment.Contact{Address1: "1 Main St", City: "Springfield", ZipCode: "12345", Country: "US"}
		tr, err := a.Transitions.Initiate(ctx, p, "ORGANIZATION", transition.Payload{
			PaymentToken: "tok_visa", BillingAddress: addr, Domain: name + ".example.com",
			Request: transition.Request{
				SubscribeAddons: []string{"f5xc_securemesh_advanced"}, SupportTicket: true, SupportTicketInfo: name + " asks for a call\nplease",
				DeletionReason: "REASON_NOT_JUSTIFY_COSTS", DeletionFeedback: "FREE was too small",
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	acme, beta := start("acme"), start("beta")
	out := mustRun(t, env, "transition", "list", "--state", "WAITING_FOR_APPROVAL")
	if !strings.Contains(out, acme.ID.String()) || !strings.Contains(out, beta.ID.String()) {
		t.Fatalf("list printed:\n%s", out)
	}
	// What the customers asked for is shown to the operator: the add-ons
	// the move will subscribe to, and (quoted, one line each) the support
	// ticket and the reasons for leaving, which no ticket system receives.
	for _, want := range []string{
		"+f5xc_securemesh_advanced",
		"Recorded for the operator (no ticket system is connected; nothing was opened):",
		acme.ID.String() + `  support ticket asked for: true, text: "acme asks for a call\nplease"`,
		beta.ID.String() + `  leaving: REASON_NOT_JUSTIFY_COSTS, feedback: "FREE was too small"`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("list does not show %q:\n%s", want, out)
		}
	}
	if out := mustRun(t, env, "transition", "approve", acme.ID.String()); !strings.Contains(out, "is FINISHED") {
		t.Fatalf("approve printed %q", out)
	}
	if out := mustRun(t, env, "transition", "reject", beta.ID.String(), "--reason", "no contract"); !strings.Contains(out, "is FAILED") {
		t.Fatalf("reject printed %q", out)
	}
	if _, errOut, err := run(t, env, "transition", "approve", beta.ID.String()); err == nil || !strings.Contains(errOut, "not waiting") {
		t.Fatalf("approving a rejected transition: %v %s", err, errOut)
	}
	tn, _ := a.Tenancy.Tenant(ctx, "acme")
	// Another process changed the plan: this one's cache may hold the old
	// plan for up to a second, so read the store's answer through a fresh App.
	b, err := server.Open(ctx, server.Config{Store: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if p, err := b.Plans.CurrentPlan(ctx, tn.ID); err != nil || p.Name != "ORGANIZATION" {
		t.Fatalf("acme on %q (%v) after approval", p.Name, err)
	}
	if out := mustRun(t, env, "transition", "list", "--tenant", "beta"); !strings.Contains(out, "no contract") {
		t.Fatalf("beta's list:\n%s", out)
	}
}
