package server

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"billing-api/gen/api"
	"billing-api/server/fault"
	"billing-api/server/period"
	"billing-api/server/tenancy"
	"billing-api/server/usage"
	"billing-api/store"
)

// wireMetering builds metering (ingestion, rollups, the usage queries) and
// the record of closed months it flags late records by.
func wireMetering(a *App) error {
	cat := a.cfg.Catalogue
	a.Closings = period.NewClosings(store.NewPeriods(a.DB))
	u, err := usage.NewService(usage.Config{
		Store:     store.NewUsage(a.DB),
		Directory: tenantDirectory{a.Tenancy},
		Closings:  a.Closings,
		Pricing: func(ctx context.Context, tenantID uuid.UUID) (usage.Pricing, error) {
			p, err := a.Plans.CurrentPlan(ctx, tenantID)
			if err != nil {
				return usage.Pricing{}, err
			}
			return cat.Pricing(p), nil
		},
		Types:    cat.UsageTypes,
		Now:      a.Now,
		CacheTTL: a.cfg.CacheTTL,
	})
	if err != nil {
		return err
	}
	// Prices follow the tenant's plan.
	a.Plans.OnPlanChanged(func(id uuid.UUID) { u.InvalidateTenants(id) })
	a.Usage = u
	return nil
}

// tenantDirectory resolves record names through tenancy.
type tenantDirectory struct{ t *tenancy.Service }

func (d tenantDirectory) TenantID(ctx context.Context, name string) (uuid.UUID, error) {
	t, err := d.t.Tenant(ctx, name)
	return t.ID, err
}

func (d tenantDirectory) RequireNamespace(ctx context.Context, tenantID uuid.UUID, ns string) error {
	return d.t.RequireNamespace(ctx, tenantID, ns)
}

// checkBodyNamespace refuses a body namespace that contradicts the path's
// (clients copy the path's into the body; that one is always accepted).
func checkBodyNamespace[N ~string](path string, body *N) error {
	if body != nil && string(*body) != path {
		return fault.InvalidField("namespace", "match", fmt.Sprintf("is %q but the path's namespace is %q: give the path's or none", string(*body), path))
	}
	return nil
}

// ListUsageDetails reports usage per series over a window.
func (s *Server) ListUsageDetails(ctx context.Context, req api.ListUsageDetailsRequestObject) (api.ListUsageDetailsResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkBodyNamespace(req.Namespace, req.Body.Namespace); err != nil {
		return nil, err
	}
	lines, err := s.app.Usage.Details(ctx, p, req.Namespace, req.Body.From, req.Body.To)
	if err != nil {
		return nil, err
	}
	return usageDetailsJSON(appendUsageDetails(make([]byte, 0, 512*len(lines)+32), lines)), nil
}

// ListHourlyUsageDetails returns the hours behind one usage line.
func (s *Server) ListHourlyUsageDetails(ctx context.Context, req api.ListHourlyUsageDetailsRequestObject) (api.ListHourlyUsageDetailsResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkBodyNamespace(req.Namespace, req.Body.Namespace); err != nil {
		return nil, err
	}
	page, err := s.app.Usage.Hourly(ctx, p, req.Namespace, req.Body.Query)
	if err != nil {
		return nil, err
	}
	body := api.UsageListHourlyUsageDetailsResp{HourlyUsageItems: ptr(mapSlice(page.Items, func(it usage.HourlyItem) api.UsageHourlyItem {
		return wireHourlyItem(page.Series, it)
	}))}
	var headers api.ListHourlyUsageDetails200ResponseHeaders
	if page.Next != "" {
		headers.XNextQuery = &page.Next
	}
	return api.ListHourlyUsageDetails200JSONResponse{Body: body, Headers: headers}, nil
}

// ListCurrentUsage prices the running month so far (or a window inside a
// month): every line its invoice will have.
func (s *Server) ListCurrentUsage(ctx context.Context, req api.ListCurrentUsageRequestObject) (api.ListCurrentUsageResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkBodyNamespace(req.Namespace, req.Body.Namespace); err != nil {
		return nil, err
	}
	d, w, err := s.app.Invoices.Current(ctx, p, req.Namespace, req.Body.From, req.Body.To)
	if err != nil {
		return nil, err
	}
	return api.ListCurrentUsage200JSONResponse(wireCurrentUsage(d, w)), nil
}

// ListMonthlyUsage totals each past month: what its invoice billed once it
// is closed, before that what it bills so far.
func (s *Server) ListMonthlyUsage(ctx context.Context, req api.ListMonthlyUsageRequestObject) (api.ListMonthlyUsageResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkBodyNamespace(req.Namespace, req.Body.Namespace); err != nil {
		return nil, err
	}
	months, err := s.app.Invoices.Monthly(ctx, p, req.Namespace)
	if err != nil {
		return nil, err
	}
	return api.ListMonthlyUsage200JSONResponse{MonthlyUsageItems: ptr(mapSlice(months, wireMonthTotal))}, nil
}

// GetUsageSummary sums usage per service and usage type over a window.
func (s *Server) GetUsageSummary(ctx context.Context, req api.GetUsageSummaryRequestObject) (api.GetUsageSummaryResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	items, w, err := s.app.Usage.Summary(ctx, p, req.Body.StartTime, req.Body.EndTime)
	if err != nil {
		return nil, err
	}
	return api.GetUsageSummary200JSONResponse{UsageSummaryItems: ptr(mapSlice(items, func(it usage.SummaryItem) api.BillingUsageSummaryItem {
		return wireSummaryItem(it, w)
	}))}, nil
}
