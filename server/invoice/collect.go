package invoice

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"billing-api/server/fault"
	"billing-api/server/payment"
)

// Collection. A round charges the PRIMARY payment method and, if it is
// declined, the SECONDARY. Every attempt is recorded (committed) as PENDING
// before the provider is called, with an idempotency key made of the
// invoice, the round and the role; its outcome is recorded after. So:
//   - a replayed close, or a retry, that finds a PENDING attempt (the
//     process stopped mid-call) calls the provider again with the same key
//     and token, and the provider moves the money once;
//   - two replicas collecting the same round use the same keys (the second
//     insert of an attempt is ignored and it charges the recorded token);
//   - the database allows one successful payment per invoice.
//
// A round ends when a charge succeeds (PAID) or both roles were tried (the
// invoice stays ISSUED, and is OVERDUE past its due date).

// collectionRoles are tried in this order each round.
var collectionRoles = []payment.Role{payment.RolePrimary, payment.RoleSecondary}

// chargeKey is the idempotency key of a round's charge of a role.
func chargeKey(inv Invoice, round int, role payment.Role) string {
	return fmt.Sprintf("charge/%s/%d/%s", inv.ID, round, role)
}

// collect runs (or resumes) the invoice's current round and returns the
// invoice as it then stands.
func (s *Service) collect(ctx context.Context, inv Invoice) (Invoice, error) {
	if !inv.Collecting {
		return inv, nil
	}
	round := inv.Round
	pays, err := s.store.Payments(ctx, inv.TenantID, inv.ID)
	if err != nil {
		return inv, err
	}
	// First the attempts a stopped process left pending, with their own
	// token and key.
	for _, p := range pays {
		if p.Kind == PaymentCharge && p.Round == round && p.Outcome == OutcomePending {
			paid, err := s.charge(ctx, inv, p)
			if err != nil || paid {
				return s.reread(ctx, inv, err)
			}
		}
	}
	methods, err := s.methods.Methods(ctx, inv.TenantID)
	if err != nil {
		return inv, err
	}
	for _, role := range collectionRoles {
		if slices.ContainsFunc(pays, func(p Payment) bool {
			return p.Kind == PaymentCharge && p.Round == round && p.MethodRole == role
		}) {
			continue // tried this round
		}
		i := slices.IndexFunc(methods, func(m payment.Method) bool { return m.Role == role })
		if i < 0 {
			continue
		}
		m := methods[i]
		p := Payment{
			TenantID: inv.TenantID, InvoiceID: inv.ID, IdempotencyKey: chargeKey(inv, round, role), Kind: PaymentCharge,
			Round: round, MethodName: m.Name, MethodRole: role, Token: m.Token, Amount: inv.Total,
			Outcome: OutcomePending, CreatedAt: s.now(),
		}
		inserted, err := s.store.InsertPayment(ctx, p)
		if err != nil {
			return inv, err
		}
		if !inserted {
			// Another collector recorded this attempt first: charge what it
			// recorded, with the same key.
			return s.resume(ctx, inv)
		}
		paid, err := s.charge(ctx, inv, p)
		if err != nil || paid {
			return s.reread(ctx, inv, err)
		}
	}
	if err := s.store.EndRound(ctx, inv.TenantID, inv.ID, round); err != nil {
		return inv, err
	}
	return s.reread(ctx, inv, nil)
}

// resume re-reads the invoice and collects from where it stands.
func (s *Service) resume(ctx context.Context, inv Invoice) (Invoice, error) {
	cur, err := s.store.InvoiceByNumber(ctx, inv.TenantID, inv.Number)
	if err != nil {
		return inv, err
	}
	return s.collect(ctx, cur)
}

// charge calls the provider for a recorded attempt and records the
// outcome; a success pays the invoice in the same transaction. A provider
// error other than a decline leaves the attempt pending (to be resumed).
func (s *Service) charge(ctx context.Context, inv Invoice, p Payment) (paid bool, err error) {
	ch, err := s.provider.Charge(ctx, p.Token, p.Amount, inv.Currency, p.IdempotencyKey)
	now := s.now()
	switch {
	case errors.Is(err, payment.ErrDeclined):
		return false, s.store.FinishPayment(ctx, p.TenantID, p.IdempotencyKey, OutcomeDeclined, "", err.Error(), now)
	case err != nil:
		return false, fmt.Errorf("charging %s (%s): %w", p.MethodName, p.MethodRole, err)
	}
	err = s.store.WithTx(ctx, func(ctx context.Context) error {
		if err := s.store.FinishPayment(ctx, p.TenantID, p.IdempotencyKey, OutcomeSucceeded, ch.Reference, "", now); err != nil {
			return err
		}
		reason := fmt.Sprintf("charged %s (%s), reference %s", p.MethodName, p.MethodRole, ch.Reference)
		_, err := s.store.SetStatus(ctx, inv.TenantID, inv.ID, []Status{StatusIssued}, false, StatusPaid, now, reason)
		return err
	})
	s.Invalidate(inv.TenantID)
	return err == nil, err
}

func (s *Service) reread(ctx context.Context, inv Invoice, err error) (Invoice, error) {
	cur, rerr := s.store.InvoiceByNumber(ctx, inv.TenantID, inv.Number)
	if rerr != nil {
		return inv, errors.Join(err, rerr)
	}
	return cur, err
}

// ---- operator actions

// target reads a tenant's invoice by number for an operator action.
func (s *Service) target(ctx context.Context, tenantName, number string) (Invoice, error) {
	t, err := s.tenants.Tenant(ctx, tenantName)
	if err != nil {
		return Invoice{}, err
	}
	inv, err := s.store.InvoiceByNumber(ctx, t.ID, number)
	if fault.KindOf(err) == fault.KindNotFound {
		return Invoice{}, fault.NotFoundf("tenant %s has no invoice %s", tenantName, number)
	}
	return inv, err
}

// notFrom is the conflict of an action that the invoice, as it stands now
// (current), does not allow.
func notFrom(action, done string, current Invoice) error {
	if current.Collecting {
		return fault.Conflictf("invoice %s is being collected; %s it once the collection ends", current.Number, action)
	}
	return fault.Conflictf("invoice %s is %s; only an ISSUED (or OVERDUE) invoice can be %s", current.Number, current.Status, done)
}

// Retry collects an unpaid invoice again: a new round (PRIMARY, then
// SECONDARY) with new idempotency keys, or, when a round was interrupted,
// that round resumed with its own. Only an ISSUED (or OVERDUE) invoice can
// be retried.
func (s *Service) Retry(ctx context.Context, tenantName, number string) (Invoice, error) {
	inv, err := s.target(ctx, tenantName, number)
	if err != nil {
		return Invoice{}, err
	}
	if inv.Status != StatusIssued {
		return inv, fault.Conflictf("invoice %s is %s; only an ISSUED (or OVERDUE) invoice is collected", inv.Number, inv.Status)
	}
	if !inv.Collecting {
		// The new round is queued with it, so a provider error below (or a
		// stop) leaves it to the job engine's retries.
		err := s.store.WithTx(ctx, func(ctx context.Context) error {
			ok, err := s.store.StartRound(ctx, inv.TenantID, inv.ID, inv.Round+1)
			if err != nil {
				return err
			}
			if !ok {
				return fault.Conflictf("invoice %s changed meanwhile; read it again", inv.Number)
			}
			if inv, err = s.store.InvoiceByNumber(ctx, inv.TenantID, inv.Number); err != nil {
				return err
			}
			if s.later != nil {
				return s.later.Collect(ctx, inv)
			}
			return nil
		})
		if err != nil {
			return inv, err
		}
	}
	return s.collect(ctx, inv)
}

// RecordPayment marks an unpaid invoice paid by a payment received outside
// the provider (a bank transfer, say), recorded with reference.
func (s *Service) RecordPayment(ctx context.Context, tenantName, number, reference string) (Invoice, error) {
	if reference == "" {
		return Invoice{}, fault.InvalidField("reference", "required", "name the payment received (a bank transfer's reference, say)")
	}
	inv, err := s.target(ctx, tenantName, number)
	if err != nil {
		return Invoice{}, err
	}
	now := s.now()
	err = s.store.WithTx(ctx, func(ctx context.Context) error {
		ok, err := s.store.SetStatus(ctx, inv.TenantID, inv.ID, []Status{StatusIssued}, true, StatusPaid, now, "external payment "+reference)
		if err != nil {
			return err
		}
		if !ok {
			cur, err := s.store.InvoiceByNumber(ctx, inv.TenantID, inv.Number)
			if err != nil {
				return err
			}
			return notFrom("record a payment for", "marked paid", cur)
		}
		_, err = s.store.InsertPayment(ctx, Payment{
			TenantID: inv.TenantID, InvoiceID: inv.ID, IdempotencyKey: "external/" + inv.ID.String(), Kind: PaymentExternal,
			Round: inv.Round, MethodName: "external", MethodRole: payment.RoleNormal, Amount: inv.Total,
			Outcome: OutcomeSucceeded, Reference: reference, CreatedAt: now, FinishedAt: &now,
		})
		return err
	})
	if err != nil {
		return inv, err
	}
	s.Invalidate(inv.TenantID)
	return s.store.InvoiceByNumber(ctx, inv.TenantID, inv.Number)
}

// Refund returns a PAID invoice's payment: a provider charge is refunded
// through the provider (with an idempotency key, so a retried refund
// refunds once), an external payment is recorded as refunded. The invoice
// becomes REFUNDED.
func (s *Service) Refund(ctx context.Context, tenantName, number, reason string) (Invoice, error) {
	inv, err := s.target(ctx, tenantName, number)
	if err != nil {
		return Invoice{}, err
	}
	if inv.Status != StatusPaid {
		return inv, fault.Conflictf("invoice %s is %s; only a PAID invoice can be refunded", inv.Number, inv.Status)
	}
	if inv.Total == 0 {
		return inv, fault.Conflictf("invoice %s billed nothing; there is nothing to refund", inv.Number)
	}
	pays, err := s.store.Payments(ctx, inv.TenantID, inv.ID)
	if err != nil {
		return inv, err
	}
	key := "refund/" + inv.ID.String()
	refund := Payment{
		TenantID: inv.TenantID, InvoiceID: inv.ID, IdempotencyKey: key, Kind: PaymentRefund, Round: inv.Round,
		MethodName: "external", MethodRole: payment.RoleNormal, Amount: inv.Total, Outcome: OutcomePending, Detail: reason,
		CreatedAt: s.now(),
	}
	var paidBy *Payment
	for i, p := range pays {
		if (p.Kind == PaymentCharge || p.Kind == PaymentExternal) && p.Outcome == OutcomeSucceeded {
			paidBy = &pays[i]
		}
	}
	if paidBy != nil {
		refund.MethodName, refund.MethodRole, refund.Token, refund.Amount = paidBy.MethodName, paidBy.MethodRole, paidBy.Token, paidBy.Amount
	}
	if _, err := s.store.InsertPayment(ctx, refund); err != nil {
		return inv, err
	}
	ref := "external"
	if paidBy != nil && paidBy.Kind == PaymentCharge {
		if ref, err = s.provider.Refund(ctx, paidBy.Reference, paidBy.Amount, key); err != nil {
			return inv, fmt.Errorf("refunding %s: %w", inv.Number, err)
		}
	}
	now := s.now()
	err = s.store.WithTx(ctx, func(ctx context.Context) error {
		if err := s.store.FinishPayment(ctx, inv.TenantID, key, OutcomeSucceeded, ref, reason, now); err != nil {
			return err
		}
		_, err := s.store.SetStatus(ctx, inv.TenantID, inv.ID, []Status{StatusPaid}, false, StatusRefunded, now, reasonOr(reason, "refunded"))
		return err
	})
	if err != nil {
		return inv, err
	}
	s.Invalidate(inv.TenantID)
	return s.store.InvoiceByNumber(ctx, inv.TenantID, inv.Number)
}

// Cancel voids an unpaid invoice (CANCELLED); it is kept, and its period
// stays closed.
func (s *Service) Cancel(ctx context.Context, tenantName, number, reason string) (Invoice, error) {
	inv, err := s.target(ctx, tenantName, number)
	if err != nil {
		return Invoice{}, err
	}
	ok, err := s.store.SetStatus(ctx, inv.TenantID, inv.ID, []Status{StatusIssued}, true, StatusCancelled, s.now(), reasonOr(reason, "cancelled"))
	if err != nil {
		return inv, err
	}
	s.Invalidate(inv.TenantID)
	cur, err := s.store.InvoiceByNumber(ctx, inv.TenantID, inv.Number)
	if err != nil {
		return inv, err
	}
	if !ok {
		return cur, notFrom("cancel", "cancelled", cur)
	}
	return cur, nil
}

func reasonOr(reason, dflt string) string {
	if reason == "" {
		return dflt
	}
	return reason
}
