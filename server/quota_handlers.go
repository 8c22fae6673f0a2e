package server

import (
	"context"
	"fmt"

	"billing-api/gen/api"
	"billing-api/server/quota"
	"billing-api/store"
)

// wireQuotas builds the quota domain: quota objects (a kind it counts
// itself), effective limits, usage and the api_limits rate limiter. API
// limit keys are operation ids or vendor RPC names, as the spec pairs them.
func wireQuotas(a *App) error {
	keys := newAPIKeys(a.ops)
	for i, p := range a.cfg.Catalogue.Plans {
		if err := quota.ValidateLimits(p.DefaultQuota, fmt.Sprintf("plans[%d].default_quota", i), keys); err != nil {
			return fmt.Errorf("plan catalogue: %w", err)
		}
	}
	repo := store.NewQuotas(a.DB)
	q, err := quota.NewService(quota.Config{Store: repo, Defaults: a.Plans, Keys: keys, Now: a.Now, CacheTTL: a.cfg.CacheTTL, Shared: a.sharedLimits})
	if err != nil {
		return err
	}
	q.CountKind(quota.KindQuota, repo.CountObjects)
	// A plan change moves the tenant's ceiling.
	a.Plans.OnPlanChanged(q.InvalidateTenant)
	a.Quotas = q
	return nil
}

// CreateQuota stores a new quota object.
func (s *Server) CreateQuota(ctx context.Context, req api.CreateQuotaRequestObject) (api.CreateQuotaResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	o, err := s.app.Quotas.Create(ctx, p, req.Namespace, quotaInputFromCreate(req.Body))
	if err != nil {
		return nil, err
	}
	return api.CreateQuota200JSONResponse{Metadata: wireMetadata(o), SystemMetadata: wireSystemMetadata(o), Spec: wireSpec(o.Spec)}, nil
}

// ReplaceQuota overwrites an existing quota object.
func (s *Server) ReplaceQuota(ctx context.Context, req api.ReplaceQuotaRequestObject) (api.ReplaceQuotaResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.app.Quotas.Replace(ctx, p, req.Namespace, req.Name, quotaInputFromReplace(req.Body)); err != nil {
		return nil, err
	}
	return api.ReplaceQuota200JSONResponse{}, nil
}

// GetQuota reads one quota object in the requested format.
func (s *Server) GetQuota(ctx context.Context, req api.GetQuotaRequestObject) (api.GetQuotaResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	o, err := s.app.Quotas.Get(ctx, p, req.Namespace, req.Name)
	if err != nil {
		return nil, err
	}
	format := api.GETRSPFORMATDEFAULT
	if req.Params.ResponseFormat != nil {
		format = *req.Params.ResponseFormat
	}
	var out api.GetQuota200JSONResponse
	empty := func() *[]api.SchemaObjectRefType { return &[]api.SchemaObjectRefType{} }
	switch format {
	case api.GETRSPFORMATREAD:
		out.Metadata, out.SystemMetadata, out.Spec = wireMetadata(o), wireSystemMetadata(o), wireSpec(o.Spec)
	case api.GETRSPFORMATFORCREATE:
		out.CreateForm = wireCreateForm(o)
	case api.GETRSPFORMATFORREPLACE:
		out.ReplaceForm = wireReplaceForm(o)
	case api.GETRSPFORMATSTATUS:
		out.Status = &[]api.QuotaStatusObject{}
	case api.GETRSPFORMATREFERRINGOBJECTS:
		out.Metadata, out.ReferringObjects = wireMetadata(o), empty()
	case api.GETRSPFORMATBROKENREFERENCES:
		out.Metadata, out.DeletedReferredObjects, out.DisabledReferredObjects = wireMetadata(o), empty(), empty()
	default:
		out.Metadata, out.SystemMetadata, out.Spec = wireMetadata(o), wireSystemMetadata(o), wireSpec(o.Spec)
		out.CreateForm, out.ReplaceForm = wireCreateForm(o), wireReplaceForm(o)
		out.Status, out.ReferringObjects = &[]api.QuotaStatusObject{}, empty()
		out.DeletedReferredObjects, out.DisabledReferredObjects = empty(), empty()
	}
	return out, nil
}

// ListQuotas lists a namespace's quota objects, filtered by labels.
func (s *Server) ListQuotas(ctx context.Context, req api.ListQuotasRequestObject) (api.ListQuotasResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	sel, err := quota.ParseSelector(deref(req.Params.LabelFilter))
	if err != nil {
		return nil, err
	}
	full, status := req.Params.ReportFields != nil, req.Params.ReportStatusFields != nil
	objs, err := s.app.Quotas.List(ctx, p, req.Namespace, sel, full)
	if err != nil {
		return nil, err
	}
	if !full {
		return quotaListJSON(appendQuotaList(make([]byte, 0, 256*len(objs)+32), objs, status)), nil
	}
	items := make([]api.QuotaListResponseItem, len(objs))
	for i, o := range objs {
		items[i] = wireListItem(o, full, status)
	}
	return api.ListQuotas200JSONResponse{Items: &items, Errors: &[]api.SchemaErrorType{}}, nil
}

// DeleteQuota removes a quota object; the body is optional.
func (s *Server) DeleteQuota(ctx context.Context, req api.DeleteQuotaRequestObject) (api.DeleteQuotaResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var failIfReferred bool
	if b := req.Body; b != nil {
		if err := quota.CheckDeleteBody(req.Namespace, req.Name, deref(b.Namespace), deref(b.Name)); err != nil {
			return nil, err
		}
		failIfReferred = deref(b.FailIfReferred)
	}
	if err := s.app.Quotas.Delete(ctx, p, req.Namespace, req.Name, failIfReferred); err != nil {
		return nil, err
	}
	return api.DeleteQuota200JSONResponse{}, nil
}

// GetQuotaLimits reports the namespace's effective limits.
func (s *Server) GetQuotaLimits(ctx context.Context, req api.GetQuotaLimitsRequestObject) (api.GetQuotaLimitsResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	eff, err := s.app.Quotas.EffectiveLimits(ctx, p.TenantID, req.Namespace)
	if err != nil {
		return nil, err
	}
	return api.GetQuotaLimits200JSONResponse(wireEffectiveLimits(eff)), nil
}

// GetQuotaUsage reports each effective limit with its current usage.
func (s *Server) GetQuotaUsage(ctx context.Context, req api.GetQuotaUsageRequestObject) (api.GetQuotaUsageResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.app.Quotas.Usage(ctx, p.TenantID, req.Namespace)
	if err != nil {
		return nil, err
	}
	return api.GetQuotaUsage200JSONResponse(wireUsage(u)), nil
}
