package server

import (
	"context"

	"billing-api/gen/api"
)

// ListUsagePlans returns the plan catalogue, marking the tenant's plan.
func (s *Server) ListUsagePlans(ctx context.Context, _ api.ListUsagePlansRequestObject) (api.ListUsagePlansResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	current, err := s.plans.CurrentPlan(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	cat := s.plans.Catalogue()
	plans := make([]api.PlanPlanInternal, len(cat.Plans))
	for i, pl := range cat.Plans {
		plans[i] = wirePlan(cat, pl, pl.Name == current.Name)
	}
	return api.ListUsagePlans200JSONResponse{
		UsagePlans: &[]api.PlanLocalizedPlan{{Locale: ptr(cat.Locale), Plans: &plans}},
	}, nil
}

// GetCurrentPlan returns the tenant's plan.
func (s *Server) GetCurrentPlan(ctx context.Context, _ api.GetCurrentPlanRequestObject) (api.GetCurrentPlanResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	current, err := s.plans.CurrentPlan(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	cat := s.plans.Catalogue()
	return api.GetCurrentPlan200JSONResponse{Locale: ptr(cat.Locale), Plans: &[]api.PlanPlanInternal{wirePlan(cat, current, true)}}, nil
}
