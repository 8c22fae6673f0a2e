package server

import (
	"context"

	"billing-api/gen/admin"
	"billing-api/server/quota"
)

// RecordGauges stores a batch of usage gauges; tenant and namespace names
// are resolved first, so an unknown one fails the whole batch with 404.
func (s *adminServer) RecordGauges(ctx context.Context, req admin.RecordGaugesRequestObject) (admin.RecordGaugesResponseObject, error) {
	r := s.app.Tenancy.NewResolver()
	var counts []quota.ObjectCount
	for _, c := range deref(req.Body.ObjectCounts) {
		id, err := r.Namespace(ctx, c.Tenant, c.Namespace)
		if err != nil {
			return nil, err
		}
		counts = append(counts, quota.ObjectCount{TenantID: id, Namespace: c.Namespace, Kind: c.Kind, Count: c.Count, ObservedAt: c.ObservedAt})
	}
	var amounts []quota.ResourceAmount
	for _, a := range deref(req.Body.ResourceAmounts) {
		id, err := r.Namespace(ctx, a.Tenant, a.Namespace)
		if err != nil {
			return nil, err
		}
		amounts = append(amounts, quota.ResourceAmount{TenantID: id, Namespace: a.Namespace, Resource: a.Resource, Amount: a.Amount, ObservedAt: a.ObservedAt})
	}
	nc, na, err := s.app.Quotas.RecordGauges(ctx, counts, amounts)
	if err != nil {
		return nil, err
	}
	return admin.RecordGauges200JSONResponse{ObjectCountsApplied: int32(nc), ResourceAmountsApplied: int32(na)}, nil
}

// CheckQuota answers whether more objects of a kind fit in a namespace.
func (s *adminServer) CheckQuota(ctx context.Context, req admin.CheckQuotaRequestObject) (admin.CheckQuotaResponseObject, error) {
	id, err := s.app.Tenancy.NewResolver().Namespace(ctx, req.Tenant, req.Namespace)
	if err != nil {
		return nil, err
	}
	n := int64(1)
	if req.Params.Count != nil {
		n = *req.Params.Count
	}
	c, err := s.app.Quotas.CheckRoom(ctx, id, req.Namespace, req.Params.Kind, n)
	if err != nil {
		return nil, err
	}
	return admin.CheckQuota200JSONResponse{
		Tenant: req.Tenant, Namespace: req.Namespace, Kind: req.Params.Kind, Requested: n,
		Allowed: c.Allowed, Limited: c.Limited, Limit: c.Limit, Usage: c.Usage, Remaining: c.Remaining,
	}, nil
}

// GetLimitOverrides reads a tenant's limit overrides.
func (s *adminServer) GetLimitOverrides(ctx context.Context, req admin.GetLimitOverridesRequestObject) (admin.GetLimitOverridesResponseObject, error) {
	id, err := s.app.Tenancy.NewResolver().Tenant(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	o, err := s.app.Quotas.LimitOverrides(ctx, id)
	if err != nil {
		return nil, err
	}
	return admin.GetLimitOverrides200JSONResponse(adminOverrides(o)), nil
}

// SetLimitOverrides replaces a tenant's limit overrides.
func (s *adminServer) SetLimitOverrides(ctx context.Context, req admin.SetLimitOverridesRequestObject) (admin.SetLimitOverridesResponseObject, error) {
	id, err := s.app.Tenancy.NewResolver().Tenant(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	o, err := s.app.Quotas.SetLimitOverrides(ctx, id, OverridesFromAdmin(*req.Body))
	if err != nil {
		return nil, err
	}
	return admin.SetLimitOverrides200JSONResponse(adminOverrides(o)), nil
}

// ClearLimitOverrides removes a tenant's limit overrides.
func (s *adminServer) ClearLimitOverrides(ctx context.Context, req admin.ClearLimitOverridesRequestObject) (admin.ClearLimitOverridesResponseObject, error) {
	id, err := s.app.Tenancy.NewResolver().Tenant(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	if err := s.app.Quotas.ClearLimitOverrides(ctx, id); err != nil {
		return nil, err
	}
	return admin.ClearLimitOverrides200JSONResponse(adminOverrides(quota.Overrides{})), nil
}
