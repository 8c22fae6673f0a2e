package store

import (
	"context"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/plan"
)

// Plans implements plan.Store: the tenant's current plan lives on its row.
type Plans struct{ db *DB }

// NewPlans returns the plan repository.
func NewPlans(db *DB) *Plans { return &Plans{db: db} }

var _ plan.Store = (*Plans)(nil)

func (r *Plans) TenantPlan(ctx context.Context, tenantID uuid.UUID) (string, error) {
	var names []string
	if err := r.db.conn(ctx).Model(&tenantRow{}).Where("id = ?", tenantID).Limit(1).Pluck("plan_name", &names).Error; err != nil {
		return "", classify(err)
	}
	if len(names) == 0 {
		return "", fault.NotFoundf("tenant not found")
	}
	return names[0], nil
}

func (r *Plans) SetTenantPlan(ctx context.Context, tenantID uuid.UUID, name string) error {
	res := r.db.conn(ctx).Model(&tenantRow{}).Where("id = ?", tenantID).Update("plan_name", name)
	if res.Error != nil {
		return classify(res.Error)
	}
	if res.RowsAffected == 0 {
		return fault.NotFoundf("tenant not found")
	}
	return nil
}

func (r *Plans) PlansInUse(ctx context.Context) ([]string, error) {
	var names []string
	err := r.db.conn(ctx).Model(&tenantRow{}).Distinct("plan_name").Order("plan_name").Pluck("plan_name", &names).Error
	return names, classify(err)
}
