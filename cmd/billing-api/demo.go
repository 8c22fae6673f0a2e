package main

import (
	"context"
	"errors"
	"fmt"

	"billing-api/server"
	"billing-api/server/fault"
	"billing-api/server/payment"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
	"billing-api/server/transition"
)

const demoTenant = "demo"

// demoAddon is the add-on the demo tenant subscribes to (its plan allows it).
const demoAddon = "f5xc_waap_standard"

// seedDemo creates the demo tenant with demo data (once) and issues a fresh
// demo token on every start, revoking the previous ones so only the printed
// one works.
func seedDemo(ctx context.Context, a *server.App) (string, error) {
	t, err := a.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: demoTenant, DisplayName: "Demo Corporation"})
	switch {
	case err == nil:
		if err := seedDemoData(ctx, a, t); err != nil {
			return "", err
		}
	case !errors.Is(err, fault.ErrConflict):
		return "", err
	}
	old, err := a.Tenancy.ListTokens(ctx, demoTenant)
	if err != nil {
		return "", err
	}
	for _, tok := range old {
		if tok.Name == "demo" && !tok.Revoked() {
			if _, err := a.Tenancy.RevokeToken(ctx, demoTenant, tok.ID); err != nil {
				return "", err
			}
		}
	}
	_, secret, err := a.Tenancy.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: demoTenant, Name: "demo", Role: tenancy.RoleAdmin})
	return secret, err
}

// seedDemoData gives the demo tenant a second namespace, quota objects at
// both levels, usage gauges, a billed plan and 90 days of metered usage, so
// limits, usage and costs show real numbers.
func seedDemoData(ctx context.Context, a *server.App, t tenancy.Tenant) error {
	if _, err := a.Tenancy.CreateNamespace(ctx, demoTenant, "shop"); err != nil {
		return err
	}
	seed := tenancy.Principal{TenantID: t.ID, TenantName: t.Name, TokenName: "demo-seed", Role: tenancy.RoleAdmin, Operator: true}
	desc := "Tenant-wide limits for the demo."
	burst := int32(10)
	if _, err := a.Quotas.Create(ctx, seed, tenancy.SystemNamespace, quota.ObjectInput{
		Name: "tenant-defaults", Labels: map[string]string{"team": "platform"}, Description: &desc,
		Spec: quota.Limits{
			Objects: map[string]int32{"http_loadbalancer": 4},
			APIs:    map[string]quota.RateLimit{"listQuotas": {Rate: 5, Unit: quota.Second, Burst: &burst}},
		},
	}); err != nil {
		return err
	}
	shopDesc := "Limits of the shop namespace."
	if _, err := a.Quotas.Create(ctx, seed, "shop", quota.ObjectInput{
		Name: "shop-limits", Labels: map[string]string{"team": "web", "env": "prod"}, Description: &shopDesc,
		Spec: quota.Limits{Objects: map[string]int32{"origin_pool": 4}, Resources: map[string]float64{"storage_gib": 20}},
	}); err != nil {
		return err
	}
	now := a.Now()
	_, _, err := a.Quotas.RecordGauges(ctx,
		[]quota.ObjectCount{
			{TenantID: t.ID, Namespace: "shop", Kind: "http_loadbalancer", Count: 3, ObservedAt: now},
			{TenantID: t.ID, Namespace: "shop", Kind: "origin_pool", Count: 2, ObservedAt: now},
			{TenantID: t.ID, Namespace: tenancy.SystemNamespace, Kind: "http_loadbalancer", Count: 1, ObservedAt: now},
		},
		[]quota.ResourceAmount{{TenantID: t.ID, Namespace: "shop", Resource: "storage_gib", Amount: 4.5, ObservedAt: now}},
	)
	if err != nil {
		return err
	}
	if err := seedDemoPaymentMethods(ctx, a, seed); err != nil {
		return err
	}
	// Onto the billed plan through a (self-service) plan transition, which
	// stays in the tenant's history; its flow needs the PRIMARY method.
	if _, err := a.Transitions.Initiate(ctx, seed, demoPlan, transition.Payload{}); err != nil {
		return fmt.Errorf("moving the demo tenant to %s: %w", demoPlan, err)
	}
	if _, err := a.Subscriptions.Subscribe(ctx, seed, demoAddon); err != nil {
		return fmt.Errorf("subscribing the demo tenant to %s: %w", demoAddon, err)
	}
	_, err = seedDemoUsage(ctx, a)
	return err
}

// seedDemoPaymentMethods gives the demo tenant a PRIMARY and a SECONDARY
// payment method (test-provider tokens).
func seedDemoPaymentMethods(ctx context.Context, a *server.App, seed tenancy.Principal) error {
	contact := &payment.Contact{Type: "BILLING", Address1: "1 Demo Way", City: "Seattle", State: "Washington", StateCode: "WA", ZipCode: "98101", Country: "US"}
	for _, in := range []payment.CreateInput{
		{Token: "tok_visa_4242", Role: payment.RolePrimary, Contact: contact},
		{Token: "tok_mastercard_5555", Role: payment.RoleSecondary, Contact: contact},
	} {
		if _, err := a.Payments.Create(ctx, seed, in); err != nil {
			return fmt.Errorf("seeding demo payment methods: %w", err)
		}
	}
	return nil
}
