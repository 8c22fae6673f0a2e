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

// ListUsagePlans returns the plan catalogue in every locale it has, marking
// the tenant's plan.
func (s *Server) ListUsagePlans(ctx context.Context, _ api.ListUsagePlansRequestObject) (api.ListUsagePlansResponseObject, error) {
	current, err := s.currentPlan(ctx)
	if err != nil {
		return nil, err
	}
	cat := s.app.Plans.Catalogue()
	out := make([]api.PlanLocalizedPlan, len(cat.Locales))
	for i, loc := range cat.Locales {
		plans := make([]api.PlanPlanInternal, len(cat.Plans))
		for j, pl := range cat.Plans {
			plans[j] = wirePlan(cat, pl.In(loc), pl.Name == current.Name)
		}
		out[i] = api.PlanLocalizedPlan{Locale: ptr(loc), Plans: &plans}
	}
	return api.ListUsagePlans200JSONResponse{UsagePlans: &out}, nil
}

// GetCurrentPlan returns the tenant's plan in the locale the client prefers
// (?locale= or Accept-Language; the catalogue's own otherwise).
func (s *Server) GetCurrentPlan(ctx context.Context, req api.GetCurrentPlanRequestObject) (api.GetCurrentPlanResponseObject, error) {
	current, err := s.currentPlan(ctx)
	if err != nil {
		return nil, err
	}
	cat := s.app.Plans.Catalogue()
	loc := chooseLocale(ctx, req.Params.Locale, cat.Locales)
	return api.GetCurrentPlan200JSONResponse{Locale: ptr(loc), Plans: &[]api.PlanPlanInternal{wirePlan(cat, current.In(loc), true)}}, nil
}

// currentPlan is the plan of the tenant the request acts for.
func (s *Server) currentPlan(ctx context.Context) (plan.Plan, error) {
	p, err := principal(ctx)
	if err != nil {
		return plan.Plan{}, err
	}
	return s.app.Plans.CurrentPlan(ctx, p.TenantID)
}
