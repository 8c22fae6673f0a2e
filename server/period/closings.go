package period

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// ClosingStore is what the record of closed months needs from persistence.
type ClosingStore interface {
	// ClosedAmong returns, per tenant, which of months are closed.
	ClosedAmong(ctx context.Context, tenantIDs []uuid.UUID, months []Month) (map[uuid.UUID][]Month, error)
	// Close records that the tenant's month is closed (idempotent).
	Close(ctx context.Context, tenantID uuid.UUID, m Month, at time.Time) error
}

// Closings is the one answer to "is this tenant's month closed?". A month
// is closed once invoicing has settled it — issued its invoice, or found
// nothing to bill — in the transaction that did so. From then on the
// month's bill never changes: usage that arrives for it is kept and
// flagged late, and what the month bills is read from its invoice.
type Closings struct{ store ClosingStore }

// NewClosings returns the record of closed months kept in store.
func NewClosings(store ClosingStore) *Closings { return &Closings{store: store} }

// Closed reports whether the tenant's month m is closed.
func (c *Closings) Closed(ctx context.Context, tenantID uuid.UUID, m Month) (bool, error) {
	closed, err := c.store.ClosedAmong(ctx, []uuid.UUID{tenantID}, []Month{m})
	return len(closed[tenantID]) > 0, err
}

// ClosedAmong returns, per tenant, which of months are closed.
func (c *Closings) ClosedAmong(ctx context.Context, tenantIDs []uuid.UUID, months []Month) (map[uuid.UUID][]Month, error) {
	if len(tenantIDs) == 0 || len(months) == 0 {
		return nil, nil
	}
	return c.store.ClosedAmong(ctx, tenantIDs, months)
}

// Close records that the tenant's month m is closed; invoicing calls it in
// the transaction that settles the month.
func (c *Closings) Close(ctx context.Context, tenantID uuid.UUID, m Month, at time.Time) error {
	return c.store.Close(ctx, tenantID, m, at)
}
