package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"billing-api/server/subscription"
)

// Subscriptions is the add-on subscriptions repository.
type Subscriptions struct{ db *DB }

// NewSubscriptions returns the repository.
func NewSubscriptions(db *DB) *Subscriptions { return &Subscriptions{db: db} }

var _ subscription.Store = (*Subscriptions)(nil)

// WithTx runs fn in one transaction.
func (r *Subscriptions) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return r.db.WithTx(ctx, fn)
}

// LockTenant serialises the tenant's writers (see DB.LockTenant).
func (r *Subscriptions) LockTenant(ctx context.Context, tenantID uuid.UUID) error {
	return r.db.LockTenant(ctx, tenantID)
}

const subscriptionColumns = "id, addon, started_at, cancelled_at"

func scanSubscriptions(tenantID uuid.UUID, rows *sql.Rows, err error) ([]subscription.Subscription, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []subscription.Subscription
	for rows.Next() {
		s := subscription.Subscription{TenantID: tenantID}
		var cancelled sql.NullTime
		if err := rows.Scan(&s.ID, &s.Addon, &s.StartedAt, &cancelled); err != nil {
			return nil, classify(err)
		}
		s.StartedAt = s.StartedAt.UTC()
		if cancelled.Valid {
			t := cancelled.Time.UTC()
			s.CancelledAt = &t
		}
		out = append(out, s)
	}
	return out, classify(rows.Err())
}

// ActiveSubscription returns the tenant's active subscription to addon.
func (r *Subscriptions) ActiveSubscription(ctx context.Context, tenantID uuid.UUID, addon string) (subscription.Subscription, bool, error) {
	rows, err := r.db.query(ctx, "SELECT "+subscriptionColumns+" FROM subscriptions WHERE tenant_id = $1 AND addon = $2 AND cancelled_at IS NULL",
		r.db.id(tenantID), addon)
	subs, err := scanSubscriptions(tenantID, rows, err)
	if err != nil || len(subs) == 0 {
		return subscription.Subscription{}, false, err
	}
	return subs[0], true, nil
}

// InsertSubscription stores an active subscription.
func (r *Subscriptions) InsertSubscription(ctx context.Context, s subscription.Subscription) error {
	_, err := r.db.exec(ctx, "INSERT INTO subscriptions (tenant_id, id, addon, started_at) VALUES ($1, $2, $3, $4)",
		r.db.id(s.TenantID), r.db.id(s.ID), s.Addon, s.StartedAt.UTC())
	return err
}

// CancelSubscription marks a subscription cancelled at at.
func (r *Subscriptions) CancelSubscription(ctx context.Context, tenantID, id uuid.UUID, at time.Time) error {
	_, err := r.db.exec(ctx, "UPDATE subscriptions SET cancelled_at = $1 WHERE tenant_id = $2 AND id = $3 AND cancelled_at IS NULL",
		at.UTC(), r.db.id(tenantID), r.db.id(id))
	return err
}

// ListSubscriptions returns the tenant's subscriptions, newest first.
func (r *Subscriptions) ListSubscriptions(ctx context.Context, tenantID uuid.UUID) ([]subscription.Subscription, error) {
	rows, err := r.db.query(ctx, "SELECT "+subscriptionColumns+" FROM subscriptions WHERE tenant_id = $1 ORDER BY started_at DESC, id",
		r.db.id(tenantID))
	return scanSubscriptions(tenantID, rows, err)
}

// CountActive counts the tenant's active subscriptions (the quota counter
// of subscription, registered as a system-namespace kind).
func (r *Subscriptions) CountActive(ctx context.Context, tenantID uuid.UUID, _ string) (int64, error) {
	return r.db.count(ctx, "SELECT COUNT(*) FROM subscriptions WHERE tenant_id = $1 AND cancelled_at IS NULL", r.db.id(tenantID))
}
