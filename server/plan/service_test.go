package plan_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/plan"
)

// memStore is a plan.Store in memory.
type memStore struct {
	mu    sync.Mutex
	plans map[uuid.UUID]string
}

func (m *memStore) TenantPlan(_ context.Context, id uuid.UUID) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.plans[id]
	if !ok {
		return "", fault.NotFoundf("tenant not found")
	}
	return p, nil
}

func (m *memStore) SetTenantPlan(_ context.Context, id uuid.UUID, name string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.plans[id]; !ok {
		return fault.NotFoundf("tenant not found")
	}
	m.plans[id] = name
	return nil
}

func (m *memStore) PlansInUse(context.Context) ([]string, error) { return nil, nil }

func (m *memStore) PlanHistory(context.Context, uuid.UUID, time.Time, time.Time) ([]plan.Assignment, error) {
	return nil, nil
}

// An operator's assignment holds at once on this replica (the cached plan is
// dropped and the hooks run); an unknown plan changes nothing.
func TestAssignPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cat, err := plan.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	st := &memStore{plans: map[uuid.UUID]string{id: "FREE"}}
	now := clock.NewManual(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	s := plan.NewService(cat, st, now.Now, time.Hour)
	var changed []uuid.UUID
	s.OnPlanChanged(func(t uuid.UUID) { changed = append(changed, t) })
	if p, err := s.CurrentPlan(ctx, id); err != nil || p.Name != "FREE" {
		t.Fatalf("before: %v %v", p.Name, err) // and now cached for an hour
	}

	if err := s.AssignPlan(ctx, id, "GOLD"); !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("unknown plan: %v, want invalid", err)
	}
	if err := s.AssignPlan(ctx, uuid.New(), "TEAM"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("unknown tenant: %v, want not found", err)
	}
	if len(changed) != 0 {
		t.Fatalf("hooks ran for failed assignments: %v", changed)
	}

	if err := s.AssignPlan(ctx, id, "INDIVIDUAL"); err != nil {
		t.Fatal(err)
	}
	if p, err := s.CurrentPlan(ctx, id); err != nil || p.Name != "INDIVIDUAL" {
		t.Fatalf("after: %v %v, want INDIVIDUAL at once", p.Name, err)
	}
	if len(changed) != 1 || changed[0] != id {
		t.Fatalf("OnPlanChanged hooks saw %v, want [%s]", changed, id)
	}
}
