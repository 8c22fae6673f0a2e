package plan

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"billing-api/server/cache"
	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
)

// Store is what plan needs from persistence.
type Store interface {
	TenantPlan(ctx context.Context, tenantID uuid.UUID) (string, error)
	// SetTenantPlan puts the tenant on plan from at on, keeping the plan
	// history (a second change at the same instant replaces the first).
	SetTenantPlan(ctx context.Context, tenantID uuid.UUID, plan string, at time.Time) error
	// PlanHistory returns the plans the tenant was on during [from, to),
	// oldest first: the one in force at from (if any) and every later
	// change before to.
	PlanHistory(ctx context.Context, tenantID uuid.UUID, from, to time.Time) ([]Assignment, error)
	// PlansInUse lists the distinct plans tenants are on.
	PlansInUse(ctx context.Context) ([]string, error)
}

// Assignment is a tenant's plan from Since on (until the next one).
type Assignment struct {
	Plan  string
	Since time.Time
}

// Service answers which plan a tenant is on and what it allows.
type Service struct {
	cat   *Catalogue
	store Store
	now   clock.Clock
	// plans caches each tenant's plan name for the request path.
	plans     *cache.Cache[uuid.UUID, string]
	onChanged []func(tenantID uuid.UUID)
}

var _ quota.DefaultQuotas = (*Service)(nil)

// NewService returns a Service over a validated catalogue; a tenant's plan
// is cached for at most cacheTTL on the clock now.
func NewService(cat *Catalogue, store Store, now clock.Clock, cacheTTL time.Duration) *Service {
	now = clock.Normalized(now)
	return &Service{cat: cat, store: store, now: now, plans: cache.New[uuid.UUID, string](cacheTTL, now, uuid.UUID.String)}
}

// OnPlanChanged registers fn to run when a tenant's plan changes on this
// replica (what depends on the plan drops its cached state).
func (s *Service) OnPlanChanged(fn func(tenantID uuid.UUID)) { s.onChanged = append(s.onChanged, fn) }

// setPlan stores the tenant's plan and drops what this replica derived from
// the old one.
func (s *Service) setPlan(ctx context.Context, tenantID uuid.UUID, name string) error {
	if err := s.store.SetTenantPlan(ctx, tenantID, name, s.now()); err != nil {
		return err
	}
	s.plans.Invalidate(tenantID)
	for _, fn := range s.onChanged {
		fn(tenantID)
	}
	return nil
}

// Changed drops what this replica derived from the tenant's plan; a plan
// switched inside a longer transaction calls it again once that commits, so
// no read made before the commit stays cached.
func (s *Service) Changed(tenantID uuid.UUID) {
	s.plans.Invalidate(tenantID)
	for _, fn := range s.onChanged {
		fn(tenantID)
	}
}

// Catalogue is the plan catalogue in use.
func (s *Service) Catalogue() *Catalogue { return s.cat }

// AssignDefault puts a new tenant on the catalogue's default plan; it runs in
// the tenant's creation transaction.
func (s *Service) AssignDefault(ctx context.Context, t tenancy.Tenant) error {
	return s.setPlan(ctx, t.ID, s.cat.DefaultPlan)
}

// AssignPlan moves a tenant to the catalogue's plan name at once: what a
// finishing plan transition does (inside its transaction, then Changed once
// it commits), and an operator's direct move. A plan the catalogue lacks
// fails with fault invalid, a missing tenant with fault not found.
func (s *Service) AssignPlan(ctx context.Context, tenantID uuid.UUID, name string) error {
	if _, ok := s.cat.Plan(name); !ok {
		return fault.Invalidf("there is no plan named %q in the plan catalogue", name)
	}
	return s.setPlan(ctx, tenantID, name)
}

// CurrentPlan is the plan the tenant is on.
func (s *Service) CurrentPlan(ctx context.Context, tenantID uuid.UUID) (Plan, error) {
	name, err := s.plans.Get(ctx, tenantID, func(ctx context.Context) (string, error) {
		return s.store.TenantPlan(ctx, tenantID)
	})
	if err != nil {
		return Plan{}, err
	}
	p, ok := s.cat.Plan(name)
	if !ok {
		// CheckTenants refuses to start with such a catalogue, so this is
		// a broken invariant, not a client error.
		return Plan{}, fmt.Errorf("tenant %s is on plan %q, which the catalogue lacks", tenantID, name)
	}
	return p, nil
}

// History returns the plans the tenant was on during [from, to), oldest
// first (see Store.PlanHistory), read from the store.
func (s *Service) History(ctx context.Context, tenantID uuid.UUID, from, to time.Time) ([]Assignment, error) {
	return s.store.PlanHistory(ctx, tenantID, from, to)
}

// DefaultQuota is the default quota of the tenant's current plan.
func (s *Service) DefaultQuota(ctx context.Context, tenantID uuid.UUID) (quota.Limits, error) {
	p, err := s.CurrentPlan(ctx, tenantID)
	if err != nil {
		return quota.Limits{}, err
	}
	return p.DefaultQuota, nil
}

// CheckTenants fails when a tenant is on a plan the catalogue does not
// have (an operator swapped catalogues); the server then refuses to start.
func (s *Service) CheckTenants(ctx context.Context) error {
	names, err := s.store.PlansInUse(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, ok := s.cat.Plan(n); !ok {
			return fmt.Errorf("plan catalogue: tenants are on plan %q, which the catalogue does not define", n)
		}
	}
	return nil
}
