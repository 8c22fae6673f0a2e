package server

import (
	"context"

	"billing-api/gen/admin"
	"billing-api/server/tenancy"
	"billing-api/store"
)

// wireTenancy builds the tenancy domain: tenants, namespaces, API tokens.
func wireTenancy(a *App) error {
	a.Tenancy = tenancy.NewService(store.NewTenancy(a.DB), a.Now, a.cfg.CacheTTL)
	return nil
}

func (s *adminServer) CreateTenant(ctx context.Context, req admin.CreateTenantRequestObject) (admin.CreateTenantResponseObject, error) {
	t, err := s.app.Tenancy.CreateTenant(ctx, tenancy.CreateTenantInput{Name: req.Body.Name, DisplayName: deref(req.Body.DisplayName)})
	if err != nil {
		return nil, err
	}
	return admin.CreateTenant201JSONResponse(adminTenant(t)), nil
}

func (s *adminServer) ListTenants(ctx context.Context, _ admin.ListTenantsRequestObject) (admin.ListTenantsResponseObject, error) {
	ts, err := s.app.Tenancy.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	return admin.ListTenants200JSONResponse{Tenants: mapSlice(ts, adminTenant)}, nil
}

func (s *adminServer) GetTenant(ctx context.Context, req admin.GetTenantRequestObject) (admin.GetTenantResponseObject, error) {
	t, err := s.app.Tenancy.Tenant(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	return admin.GetTenant200JSONResponse(adminTenant(t)), nil
}

func (s *adminServer) CreateNamespace(ctx context.Context, req admin.CreateNamespaceRequestObject) (admin.CreateNamespaceResponseObject, error) {
	ns, err := s.app.Tenancy.CreateNamespace(ctx, req.Tenant, req.Body.Name)
	if err != nil {
		return nil, err
	}
	return admin.CreateNamespace201JSONResponse(adminNamespace(ns)), nil
}

func (s *adminServer) ListNamespaces(ctx context.Context, req admin.ListNamespacesRequestObject) (admin.ListNamespacesResponseObject, error) {
	nss, err := s.app.Tenancy.ListNamespaces(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	return admin.ListNamespaces200JSONResponse{Namespaces: mapSlice(nss, adminNamespace)}, nil
}

func (s *adminServer) CreateToken(ctx context.Context, req admin.CreateTokenRequestObject) (admin.CreateTokenResponseObject, error) {
	tok, secret, err := s.app.Tenancy.IssueToken(ctx, tenancy.IssueTokenInput{
		TenantName: req.Tenant, Name: req.Body.Name, Role: tenancy.Role(req.Body.Role), Namespaces: deref(req.Body.Namespaces),
	})
	if err != nil {
		return nil, err
	}
	return admin.CreateToken201JSONResponse{Token: adminToken(tok), Secret: secret}, nil
}

func (s *adminServer) ListTokens(ctx context.Context, req admin.ListTokensRequestObject) (admin.ListTokensResponseObject, error) {
	toks, err := s.app.Tenancy.ListTokens(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	return admin.ListTokens200JSONResponse{Tokens: mapSlice(toks, adminToken)}, nil
}

func (s *adminServer) RevokeToken(ctx context.Context, req admin.RevokeTokenRequestObject) (admin.RevokeTokenResponseObject, error) {
	tok, err := s.app.Tenancy.RevokeToken(ctx, req.Tenant, req.TokenId)
	if err != nil {
		return nil, err
	}
	return admin.RevokeToken200JSONResponse(adminToken(tok)), nil
}
