package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/transition"
)

// Transitions is the plan-transitions repository.
type Transitions struct{ db *DB }

// NewTransitions returns the repository.
func NewTransitions(db *DB) *Transitions { return &Transitions{db: db} }

var _ transition.Store = (*Transitions)(nil)

// WithTx runs fn in one transaction.
func (r *Transitions) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return r.db.WithTx(ctx, fn)
}

// LockTenant serialises the tenant's writers (see DB.LockTenant).
func (r *Transitions) LockTenant(ctx context.Context, tenantID uuid.UUID) error {
	return r.db.LockTenant(ctx, tenantID)
}

// InsertTransition stores a new transition.
func (r *Transitions) InsertTransition(ctx context.Context, t transition.Transition) error {
	subscribe, err := addonsJSON(t.Request.SubscribeAddons)
	if err != nil {
		return err
	}
	unsubscribe, err := addonsJSON(t.Request.UnsubscribeAddons)
	if err != nil {
		return err
	}
	q := t.Request
	_, err = r.db.exec(ctx, `INSERT INTO plan_transitions (tenant_id, id, from_plan, to_plan, state, reason, created_at, updated_at,
		subscribe_addons, unsubscribe_addons, support_ticket, support_ticket_info, deletion_reason, deletion_feedback)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.db.id(t.TenantID), r.db.id(t.ID), t.FromPlan, t.ToPlan, string(t.State), t.Reason, t.CreatedAt.UTC(), t.UpdatedAt.UTC(),
		subscribe, unsubscribe, q.SupportTicket, q.SupportTicketInfo, q.DeletionReason, q.DeletionFeedback)
	return err
}

// addonsJSON is a list of add-on names as its column holds it (never null).
func addonsJSON(names []string) (string, error) {
	if names == nil {
		names = []string{}
	}
	b, err := json.Marshal(names)
	if err != nil {
		return "", fault.Internal(err)
	}
	return string(b), nil
}

// MoveTransition sets the state to `to` where it is `from`.
func (r *Transitions) MoveTransition(ctx context.Context, id uuid.UUID, from, to transition.State, reason string, at time.Time) (bool, error) {
	res, err := r.db.exec(ctx, "UPDATE plan_transitions SET state = $1, reason = $2, updated_at = $3 WHERE id = $4 AND state = $5",
		string(to), reason, at.UTC(), r.db.id(id), string(from))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, classify(err)
}

const transitionColumns = "tenant_id, id, from_plan, to_plan, state, reason, created_at, updated_at, " +
	"subscribe_addons, unsubscribe_addons, support_ticket, support_ticket_info, deletion_reason, deletion_feedback"

func scanTransitions(rows *sql.Rows, err error) ([]transition.Transition, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []transition.Transition
	for rows.Next() {
		var t transition.Transition
		var state string
		var subscribe, unsubscribe []byte
		q := &t.Request
		if err := rows.Scan(&t.TenantID, &t.ID, &t.FromPlan, &t.ToPlan, &state, &t.Reason, &t.CreatedAt, &t.UpdatedAt,
			&subscribe, &unsubscribe, &q.SupportTicket, &q.SupportTicketInfo, &q.DeletionReason, &q.DeletionFeedback); err != nil {
			return nil, classify(err)
		}
		if err := json.Unmarshal(subscribe, &q.SubscribeAddons); err != nil {
			return nil, fault.Internal(err)
		}
		if err := json.Unmarshal(unsubscribe, &q.UnsubscribeAddons); err != nil {
			return nil, fault.Internal(err)
		}
		t.State, t.CreatedAt, t.UpdatedAt = transition.State(state), t.CreatedAt.UTC(), t.UpdatedAt.UTC()
		out = append(out, t)
	}
	return out, classify(rows.Err())
}

// TransitionByID finds a transition by id alone.
func (r *Transitions) TransitionByID(ctx context.Context, id uuid.UUID) (transition.Transition, error) {
	ts, err := scanTransitions(r.db.query(ctx, "SELECT "+transitionColumns+" FROM plan_transitions WHERE id = $1", r.db.id(id)))
	if err != nil {
		return transition.Transition{}, err
	}
	if len(ts) == 0 {
		return transition.Transition{}, &fault.Error{Kind: fault.KindNotFound, Message: "not found"}
	}
	return ts[0], nil
}

// ListTransitions lists transitions, newest first.
func (r *Transitions) ListTransitions(ctx context.Context, tenantID *uuid.UUID, state transition.State) ([]transition.Transition, error) {
	q := "SELECT " + transitionColumns + " FROM plan_transitions WHERE 1 = 1"
	var args []any
	if tenantID != nil {
		args = append(args, r.db.id(*tenantID))
		q += " AND tenant_id = $1"
	}
	if state != "" {
		args = append(args, string(state))
		q += " AND state = $" + string(rune('0'+len(args)))
	}
	return scanTransitions(r.db.query(ctx, q+" ORDER BY created_at DESC, id", args...))
}
