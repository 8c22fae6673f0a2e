package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"billing-api/server/period"
)

// Periods implements period.ClosingStore on closed_periods, whose months
// are keyed by the Unix second they start at.
type Periods struct{ db *DB }

// NewPeriods returns the closed-months repository.
func NewPeriods(db *DB) *Periods { return &Periods{db: db} }

var _ period.ClosingStore = (*Periods)(nil)

func (r *Periods) ClosedAmong(ctx context.Context, ids []uuid.UUID, months []period.Month) (map[uuid.UUID][]period.Month, error) {
	args := make([]any, 0, len(ids)+len(months))
	for _, id := range ids {
		args = append(args, r.db.id(id))
	}
	for _, m := range months {
		args = append(args, m.Unix())
	}
	rows, err := r.db.query(ctx, "SELECT tenant_id, period_start FROM closed_periods WHERE tenant_id IN ("+
		inList(1, len(ids))+") AND period_start IN ("+inList(len(ids)+1, len(months))+")", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uuid.UUID][]period.Month{}
	for rows.Next() {
		var id uuid.UUID
		var start int64
		if err := rows.Scan(&id, &start); err != nil {
			return nil, classify(err)
		}
		out[id] = append(out[id], period.FromUnix(start))
	}
	return out, classify(rows.Err())
}

func (r *Periods) Close(ctx context.Context, tenantID uuid.UUID, m period.Month, at time.Time) error {
	_, err := r.db.exec(ctx, "INSERT INTO closed_periods (tenant_id, period_start, closed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		r.db.id(tenantID), m.Unix(), at.UTC())
	return err
}
