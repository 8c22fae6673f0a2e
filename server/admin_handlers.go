package server

import (
	"context"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"billing-api/gen/admin"
	"billing-api/server/tenancy"
)

// adminServer implements the operator API.
type adminServer struct {
	tenancy *tenancy.Service
}

var _ admin.StrictServerInterface = (*adminServer)(nil)

func (s *adminServer) CreateTenant(ctx context.Context, req admin.CreateTenantRequestObject) (admin.CreateTenantResponseObject, error) {
	in := tenancy.CreateTenantInput{Name: req.Body.Name}
	if req.Body.DisplayName != nil {
		in.DisplayName = *req.Body.DisplayName
	}
	t, err := s.tenancy.CreateTenant(ctx, in)
	if err != nil {
		return nil, err
	}
	return admin.CreateTenant201JSONResponse(adminTenant(t)), nil
}

func (s *adminServer) ListTenants(ctx context.Context, _ admin.ListTenantsRequestObject) (admin.ListTenantsResponseObject, error) {
	ts, err := s.tenancy.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	out := admin.ListTenants200JSONResponse{Tenants: make([]admin.Tenant, len(ts))}
	for i, t := range ts {
		out.Tenants[i] = adminTenant(t)
	}
	return out, nil
}

func (s *adminServer) GetTenant(ctx context.Context, req admin.GetTenantRequestObject) (admin.GetTenantResponseObject, error) {
	t, err := s.tenancy.Tenant(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	return admin.GetTenant200JSONResponse(adminTenant(t)), nil
}

func (s *adminServer) CreateNamespace(ctx context.Context, req admin.CreateNamespaceRequestObject) (admin.CreateNamespaceResponseObject, error) {
	ns, err := s.tenancy.CreateNamespace(ctx, req.Tenant, req.Body.Name)
	if err != nil {
		return nil, err
	}
	return admin.CreateNamespace201JSONResponse(admin.Namespace{Name: ns.Name, CreatedAt: ns.CreatedAt}), nil
}

func (s *adminServer) ListNamespaces(ctx context.Context, req admin.ListNamespacesRequestObject) (admin.ListNamespacesResponseObject, error) {
	nss, err := s.tenancy.ListNamespaces(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	out := admin.ListNamespaces200JSONResponse{Namespaces: make([]admin.Namespace, len(nss))}
	for i, ns := range nss {
		out.Namespaces[i] = admin.Namespace{Name: ns.Name, CreatedAt: ns.CreatedAt}
	}
	return out, nil
}

func (s *adminServer) CreateToken(ctx context.Context, req admin.CreateTokenRequestObject) (admin.CreateTokenResponseObject, error) {
	in := tenancy.IssueTokenInput{TenantName: req.Tenant, Name: req.Body.Name, Role: tenancy.Role(req.Body.Role)}
	if req.Body.Namespaces != nil {
		in.Namespaces = *req.Body.Namespaces
	}
	tok, secret, err := s.tenancy.IssueToken(ctx, in)
	if err != nil {
		return nil, err
	}
	return admin.CreateToken201JSONResponse{Token: adminToken(tok), Secret: secret}, nil
}

func (s *adminServer) ListTokens(ctx context.Context, req admin.ListTokensRequestObject) (admin.ListTokensResponseObject, error) {
	toks, err := s.tenancy.ListTokens(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	out := admin.ListTokens200JSONResponse{Tokens: make([]admin.Token, len(toks))}
	for i, t := range toks {
		out.Tokens[i] = adminToken(t)
	}
	return out, nil
}

func (s *adminServer) RevokeToken(ctx context.Context, req admin.RevokeTokenRequestObject) (admin.RevokeTokenResponseObject, error) {
	tok, err := s.tenancy.RevokeToken(ctx, req.Tenant, req.TokenId)
	if err != nil {
		return nil, err
	}
	return admin.RevokeToken200JSONResponse(adminToken(tok)), nil
}

func adminTenant(t tenancy.Tenant) admin.Tenant {
	return admin.Tenant{Id: openapi_types.UUID(t.ID), Name: t.Name, DisplayName: t.DisplayName, CreatedAt: t.CreatedAt}
}

func adminToken(t tenancy.Token) admin.Token {
	ns := t.Namespaces
	if ns == nil {
		ns = []string{}
	}
	return admin.Token{
		Id: openapi_types.UUID(t.ID), Name: t.Name, Role: admin.TokenRole(t.Role), Namespaces: ns,
		Prefix: t.Prefix, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt,
	}
}
