package store

import (
	"context"
	"time"

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

func (r *Plans) SetTenantPlan(ctx context.Context, tenantID uuid.UUID, name string, at time.Time) error {
	return r.db.WithTx(ctx, func(ctx context.Context) error {
		res, err := r.db.exec(ctx, "UPDATE tenants SET plan_name = $1 WHERE id = $2", name, r.db.id(tenantID))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFoundf("tenant not found")
		}
		_, err = r.db.exec(ctx, `INSERT INTO plan_assignments (tenant_id, started_at, plan_name) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, started_at) DO UPDATE SET plan_name = excluded.plan_name`, r.db.id(tenantID), at.UTC(), name)
		return err
	})
}

func (r *Plans) PlanHistory(ctx context.Context, tenantID uuid.UUID, from, to time.Time) ([]plan.Assignment, error) {
	id := r.db.id(tenantID)
	rows, err := r.db.query(ctx, `SELECT started_at, plan_name FROM plan_assignments
		WHERE tenant_id = $1 AND started_at < $3 AND started_at >= COALESCE(
			(SELECT MAX(started_at) FROM plan_assignments WHERE tenant_id = $1 AND started_at <= $2), $2)
		ORDER BY started_at`, id, from.UTC(), to.UTC())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []plan.Assignment
	for rows.Next() {
		var a plan.Assignment
		if err := rows.Scan(&a.Since, &a.Plan); err != nil {
			return nil, classify(err)
		}
		a.Since = a.Since.UTC()
		out = append(out, a)
	}
	return out, classify(rows.Err())
}

func (r *Plans) PlansInUse(ctx context.Context) ([]string, error) {
	var names []string
	err := r.db.conn(ctx).Model(&tenantRow{}).Distinct("plan_name").Order("plan_name").Pluck("plan_name", &names).Error
	return names, classify(err)
}
