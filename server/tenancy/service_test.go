package tenancy_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"billing-api/server"
	"billing-api/server/fault"
	"billing-api/server/tenancy"
	"billing-api/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }

func newService(t *testing.T) *tenancy.Service {
	t.Helper()
	a, err := server.Open(context.Background(), server.Config{Store: storetest.Config(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a.Tenancy
}

func TestCreateTenantCreatesSystemNamespace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := newService(t)
	ten, err := svc.CreateTenant(ctx, tenancy.CreateTenantInput{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if ten.DisplayName != "acme" || ten.CreatedAt.Location().String() != "UTC" {
		t.Errorf("unexpected tenant %+v", ten)
	}
	nss, err := svc.ListNamespaces(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(nss) != 1 || nss[0].Name != tenancy.SystemNamespace {
		t.Fatalf("namespaces %+v, want just system", nss)
	}
	if _, err := svc.CreateTenant(ctx, tenancy.CreateTenantInput{Name: "acme"}); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("second create: %v, want conflict", err)
	}
	if _, err := svc.CreateTenant(ctx, tenancy.CreateTenantInput{Name: "Not A Label"}); !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("bad name: %v, want invalid", err)
	}
}

func TestTenantCreationHookRunsInTheSameTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := newService(t)
	svc.OnTenantCreated(func(context.Context, tenancy.Tenant) error { return fault.Conflictf("boom") })
	if _, err := svc.CreateTenant(ctx, tenancy.CreateTenantInput{Name: "rolled-back"}); err == nil {
		t.Fatal("want the hook's error")
	}
	if _, err := svc.Tenant(ctx, "rolled-back"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("tenant survived a failed creation: %v", err)
	}
}

func TestTokensAuthenticateUntilRevoked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := newService(t)
	if _, err := svc.CreateTenant(ctx, tenancy.CreateTenantInput{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateNamespace(ctx, "acme", "shop"); err != nil {
		t.Fatal(err)
	}
	tok, secret, err := svc.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: "acme", Name: "ci", Role: tenancy.RoleViewer, Namespaces: []string{"shop", "shop"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, tenancy.TokenPrefix) || len(secret) < len(tenancy.TokenPrefix)+43 {
		t.Fatalf("secret %q is too short for 256 bits", secret)
	}
	if !strings.HasPrefix(secret, tok.Prefix) {
		t.Errorf("prefix %q is not the start of the secret", tok.Prefix)
	}
	p, err := svc.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.TenantName != "acme" || p.Role != tenancy.RoleViewer || p.MayWrite() || !p.MayAccessNamespace("shop") || p.MayAccessNamespace("system") {
		t.Fatalf("unexpected principal %+v", p)
	}
	if _, err := svc.Authenticate(ctx, secret+"x"); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("wrong secret: %v", err)
	}
	list, err := svc.ListTokens(ctx, "acme")
	if err != nil || len(list) != 1 || len(list[0].Namespaces) != 1 {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := svc.RevokeToken(ctx, "acme", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, secret); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("revoked token still authenticates: %v", err)
	}
	if again, err := svc.RevokeToken(ctx, "acme", tok.ID); err != nil || again.RevokedAt == nil {
		t.Fatalf("revoking twice: %+v %v", again, err)
	}
}

func TestTokensAreScopedToTheirTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := newService(t)
	for _, n := range []string{"acme", "globex"} {
		if _, err := svc.CreateTenant(ctx, tenancy.CreateTenantInput{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	tok, _, err := svc.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: "acme", Name: "a", Role: tenancy.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeToken(ctx, "globex", tok.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("revoking another tenant's token: %v, want not found", err)
	}
	if _, _, err := svc.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: "acme", Name: "x", Role: tenancy.RoleAdmin, Namespaces: []string{"nope"}}); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("token for a missing namespace: %v", err)
	}
	if _, _, err := svc.IssueToken(ctx, tenancy.IssueTokenInput{TenantName: "acme", Name: "x", Role: "owner"}); !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("bad role: %v", err)
	}
}
