package server

import (
	"context"

	"billing-api/gen/api"
	"billing-api/server/plan"
	"billing-api/store"
)

// wirePlans builds the plan domain: the catalogue and each tenant's plan
// (a new tenant starts on the catalogue's default plan).
func wirePlans(a *App) error {
	a.Plans = plan.NewService(a.cfg.Catalogue, store.NewPlans(a.DB), a.Now, a.cfg.CacheTTL)
	a.Tenancy.OnTenantCreated(a.Plans.AssignDefault)
	return nil
}

// ListUsagePlans returns the plan catalogue, marking the tenant's plan.
func (s *Server) ListUsagePlans(ctx context.Context, _ api.ListUsagePlansRequestObject) (api.ListUsagePlansResponseObject, error) {
	current, err := s.currentPlan(ctx)
	if err != nil {
		return nil, err
	}
	cat := s.app.Plans.Catalogue()
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
	current, err := s.currentPlan(ctx)
	if err != nil {
		return nil, err
	}
	cat := s.app.Plans.Catalogue()
	return api.GetCurrentPlan200JSONResponse{Locale: ptr(cat.Locale), Plans: &[]api.PlanPlanInternal{wirePlan(cat, current, true)}}, nil
}

// currentPlan is the plan of the tenant the request acts for.
func (s *Server) currentPlan(ctx context.Context) (plan.Plan, error) {
	p, err := principal(ctx)
	if err != nil {
		return plan.Plan{}, err
	}
	return s.app.Plans.CurrentPlan(ctx, p.TenantID)
}
