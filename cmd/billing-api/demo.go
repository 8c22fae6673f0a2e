package main

import (
	"context"
	"errors"

	"billing-api/server/fault"
	"billing-api/server/tenancy"
)

const demoTenant = "demo"

// seedDemo creates the demo tenant (once) and issues a fresh demo token on
// every start, revoking the previous ones so only the printed one works.
func seedDemo(ctx context.Context, a *app) (string, error) {
	_, err := a.tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: demoTenant, DisplayName: "Demo Corporation"})
	fresh := err == nil
	if err != nil && !errors.Is(err, fault.ErrConflict) {
		return "", err
	}
	if fresh {
		if _, err := a.tenancy.CreateNamespace(ctx, demoTenant, "shop"); err != nil {
			return "", err
		}
	}
	old, err := a.tenancy.ListTokens(ctx, demoTenant)
	if err != nil {
		return "", err
	}
	for _, t := range old {
		if t.Name == "demo" && !t.Revoked() {
			if _, err := a.tenancy.RevokeToken(ctx, demoTenant, t.ID); err != nil {
				return "", err
			}
		}
	}
	_, secret, err := a.tenancy.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: demoTenant, Name: "demo", Role: tenancy.RoleAdmin})
	return secret, err
}
