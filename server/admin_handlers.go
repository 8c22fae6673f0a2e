package server

import (
	"context"

	"github.com/google/uuid"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"billing-api/gen/admin"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
)

// adminServer implements the operator API.
type adminServer struct {
	tenancy *tenancy.Service
	quotas  *quota.Service
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

// RecordGauges stores a batch of usage gauges; tenant and namespace names
// are resolved first, so an unknown one fails the whole batch with 404.
func (s *adminServer) RecordGauges(ctx context.Context, req admin.RecordGaugesRequestObject) (admin.RecordGaugesResponseObject, error) {
	r := newNameResolver(s.tenancy)
	var counts []quota.ObjectCount
	for _, c := range deref(req.Body.ObjectCounts) {
		id, err := r.resolve(ctx, c.Tenant, c.Namespace)
		if err != nil {
			return nil, err
		}
		counts = append(counts, quota.ObjectCount{TenantID: id, Namespace: c.Namespace, Kind: c.Kind, Count: c.Count, ObservedAt: c.ObservedAt})
	}
	var amounts []quota.ResourceAmount
	for _, a := range deref(req.Body.ResourceAmounts) {
		id, err := r.resolve(ctx, a.Tenant, a.Namespace)
		if err != nil {
			return nil, err
		}
		amounts = append(amounts, quota.ResourceAmount{TenantID: id, Namespace: a.Namespace, Resource: a.Resource, Amount: a.Amount, ObservedAt: a.ObservedAt})
	}
	nc, na, err := s.quotas.RecordGauges(ctx, counts, amounts)
	if err != nil {
		return nil, err
	}
	return admin.RecordGauges200JSONResponse{ObjectCountsApplied: int32(nc), ResourceAmountsApplied: int32(na)}, nil
}

// CheckQuota answers whether more objects of a kind fit in a namespace.
func (s *adminServer) CheckQuota(ctx context.Context, req admin.CheckQuotaRequestObject) (admin.CheckQuotaResponseObject, error) {
	r := newNameResolver(s.tenancy)
	id, err := r.resolve(ctx, req.Tenant, req.Namespace)
	if err != nil {
		return nil, err
	}
	n := int64(1)
	if req.Params.Count != nil {
		n = *req.Params.Count
	}
	c, err := s.quotas.CheckRoom(ctx, id, req.Namespace, req.Params.Kind, n)
	if err != nil {
		return nil, err
	}
	return admin.CheckQuota200JSONResponse{
		Tenant: req.Tenant, Namespace: req.Namespace, Kind: req.Params.Kind, Requested: n,
		Allowed: c.Allowed, Limited: c.Limited, Limit: c.Limit, Usage: c.Usage, Remaining: c.Remaining,
	}, nil
}

// nameResolver turns operator-facing tenant and namespace names into the
// tenant id, checking each pair once.
type nameResolver struct {
	tenancy *tenancy.Service
	ids     map[string]uuid.UUID
	ok      map[[2]string]bool
}

func newNameResolver(t *tenancy.Service) nameResolver {
	return nameResolver{tenancy: t, ids: map[string]uuid.UUID{}, ok: map[[2]string]bool{}}
}

func (r nameResolver) resolve(ctx context.Context, tenantName, namespace string) (uuid.UUID, error) {
	id, found := r.ids[tenantName]
	if !found {
		t, err := r.tenancy.Tenant(ctx, tenantName)
		if err != nil {
			return uuid.Nil, err
		}
		id = t.ID
		r.ids[tenantName] = id
	}
	key := [2]string{tenantName, namespace}
	if !r.ok[key] {
		if err := r.tenancy.RequireNamespace(ctx, id, namespace); err != nil {
			return uuid.Nil, err
		}
		r.ok[key] = true
	}
	return id, nil
}
