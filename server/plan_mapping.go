package server

// Field mapping between the tenant API's wire types and the plan domain.

import (
	"billing-api/gen/api"
	"billing-api/server/plan"
	"billing-api/server/quota"
)

func wirePlan(c *plan.Catalogue, p plan.Plan, current bool) api.PlanPlanInternal {
	addons := func(names []string) *[]api.PlanAddonServiceDetails {
		out := make([]api.PlanAddonServiceDetails, 0, len(names))
		for _, n := range names {
			a, _ := c.Addon(n)
			out = append(out, api.PlanAddonServiceDetails{Name: ptr(a.Name), DisplayName: ptr(a.DisplayName)})
		}
		return &out
	}
	required := make([]api.PlanPlanTransitionRequiredField, len(p.Transition.RequiredFields))
	for i, f := range p.Transition.RequiredFields {
		required[i] = api.PlanPlanTransitionRequiredField(f)
	}
	dq := p.DefaultQuota
	return api.PlanPlanInternal{
		Name: ptr(p.Name), Title: ptr(p.Title), Subtitle: ptr(p.Subtitle), Description: ptr(p.Description),
		UsagePlanType: ptr(api.SchemaPlanType(p.Type)), TenantType: ptr(api.SchemaTenantType(p.TenantType)),
		FlatPrice: ptr(int32(p.FlatPrice)), BillingDisabled: ptr(p.BillingDisabled), Current: ptr(current),
		State:             ptr(api.PlanPlanStateSTATEREADY),
		RenewalPeriodUnit: ptr(api.PlanPeriodUnitType(p.RenewalPeriod)),
		TrialPeriod:       ptr(p.TrialLength), TrialPeriodUnit: ptr(api.PlanPeriodUnitType(p.TrialUnit)),
		AllowedAddonServices: addons(p.AllowedAddons), IncludedAddonServices: addons(p.IncludedAddons),
		DefaultQuota: &api.SchemaquotaGlobalSpecType{
			ObjectLimits: wireObjectLimits(nonNilMap(dq.Objects)), ResourceLimits: wireResourceLimits(nonNilMap(dq.Resources)),
			ApiLimits: wireAPILimits(resolvedAll(dq.APIs)), ApigwLimits: &map[string]api.QuotaRateLimitType{},
		},
		TransitionFlow: &api.PlanUsagePlanTransitionFlow{
			Method:                 ptr(api.PlanPlanTransitionMethod(p.Transition.Method)),
			RequiredFields:         &required,
			RequiresManualApproval: ptr(p.Transition.RequiresManualApproval),
		},
	}
}

func resolvedAll(m map[string]quota.RateLimit) map[string]quota.RateLimit {
	out := make(map[string]quota.RateLimit, len(m))
	for k, r := range m {
		out[k] = r.Resolved()
	}
	return out
}
