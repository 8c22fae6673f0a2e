// Package transition is plan transitions: a state machine stored in the
// database (CREATING → FINISHED | FAILED | WAITING_FOR_APPROVAL,
// WAITING_FOR_APPROVAL → FINISHED | FAILED, nothing else), at most one open
// per tenant (the database enforces it), self-service flows finishing in the
// request and approval flows waiting for an operator. No HTTP and no SQL
// here.
package transition

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/payment"
	"billing-api/server/plan"
	"billing-api/server/subscription"
	"billing-api/server/tenancy"
)

// State is a transition's state.
type State string

const (
	Creating           State = "CREATING"
	WaitingForApproval State = "WAITING_FOR_APPROVAL"
	Finished           State = "FINISHED"
	Failed             State = "FAILED"
)

// edges are the only moves the state machine makes.
var edges = map[State][]State{
	Creating:           {Finished, Failed, WaitingForApproval},
	WaitingForApproval: {Finished, Failed},
}

// CanMove reports whether from → to is an edge of the state machine.
func CanMove(from, to State) bool { return slices.Contains(edges[from], to) }

// Open reports whether a transition in s still holds the tenant's one slot.
func (s State) Open() bool { return s == Creating || s == WaitingForApproval }

// Transition is one move of a tenant from one plan to another.
type Transition struct {
	ID        uuid.UUID
	TenantID  uuid.UUID
	FromPlan  string
	ToPlan    string
	State     State
	Reason    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Request is what the customer asked for with the move, kept with it
	// until it finishes (an approval flow's for days).
	Request Request
}

// Request is what a customer asks for with a move beyond the plan. The
// add-ons are subscribed to and cancelled when the move finishes, in the
// transaction that switches the plan; the rest is recorded for the operator
// (no ticket system is connected).
type Request struct {
	SubscribeAddons, UnsubscribeAddons []string
	// SupportTicket and SupportTicketInfo: the customer asked for a support
	// ticket about the move, with this text.
	SupportTicket     bool
	SupportTicketInfo string
	// DeletionReason (one of the vendor's tenantDeletionReason values, ""
	// for none) and DeletionFeedback: why a customer leaves a plan.
	DeletionReason   string
	DeletionFeedback string
}

// Store is what transitions need from persistence.
type Store interface {
	WithTx(ctx context.Context, fn func(ctx context.Context) error) error
	// LockTenant serialises the tenant's writers until the transaction
	// ends (subscribing to an add-on takes it too).
	LockTenant(ctx context.Context, tenantID uuid.UUID) error
	// InsertTransition stores a new transition; a second open one for the
	// tenant is a conflict (a partial unique index).
	InsertTransition(ctx context.Context, t Transition) error
	// MoveTransition sets the state to `to` only if it is `from` (compare
	// and set); ok is false when it was not.
	MoveTransition(ctx context.Context, id uuid.UUID, from, to State, reason string, at time.Time) (ok bool, err error)
	// TransitionByID finds a transition of any tenant (not found if none).
	TransitionByID(ctx context.Context, id uuid.UUID) (Transition, error)
	// ListTransitions lists transitions, newest first, optionally of one
	// tenant and in one state.
	ListTransitions(ctx context.Context, tenantID *uuid.UUID, state State) ([]Transition, error)
}

// Deps are the other domains a transition touches.
type Deps struct {
	Plans *plan.Service
	// Payments creates the PRIMARY method a payment-token flow may carry
	// and tells whether one exists.
	Payments *payment.Service
	// Addons are the tenant's add-on subscriptions.
	Addons Addons
}

// Addons is what a transition needs of the subscriptions domain.
type Addons interface {
	// PlansAllowing names the plans that allow addon, for a refusal.
	PlansAllowing(addon string) string
	// FollowPlan, in the transaction that switches the plan: cancels the
	// subscriptions in unsubscribe and those p does not allow, subscribes
	// to those in subscribe (through the quota room check: a conflict
	// when the limit has no room).
	FollowPlan(ctx context.Context, tenantID uuid.UUID, p plan.Plan, subscribe, unsubscribe []string) error
	// Changed runs once that transaction has committed.
	Changed(tenantID uuid.UUID)
}

// Service is the plan-transition domain.
type Service struct {
	store Store
	deps  Deps
	now   clock.Clock
}

// NewService wires the domain.
func NewService(store Store, deps Deps, now clock.Clock) *Service {
	return &Service{store: store, deps: deps, now: clock.Normalized(now)}
}

// Payload is what a transition request may carry for the flow's required
// fields.
type Payload struct {
	PaymentToken   string
	BillingAddress *payment.Contact
	// PaymentAddress is the address of the card PaymentToken names.
	PaymentAddress *payment.Contact
	Domain         string
	Request        Request
}

// cardContact is the address the new PRIMARY method a token makes is
// registered with: the card's own, else the billing address; nil lets the
// payment domain use the tenant's address on file, if any.
func (in Payload) cardContact() (field string, c *payment.Contact) {
	switch {
	case in.PaymentAddress != nil:
		return "payload.payment_address", in.PaymentAddress
	case in.BillingAddress != nil:
		return "payload.billing_address", in.BillingAddress
	}
	return "", nil
}

// Initiate starts a move to plan newPlan: it must exist and differ from the
// current plan, and the fields its flow requires must be there. A flow
// without manual approval finishes at once; one with it waits.
func (s *Service) Initiate(ctx context.Context, p tenancy.Principal, newPlan string, in Payload) (Transition, error) {
	target, ok := s.deps.Plans.Catalogue().Plan(newPlan)
	if !ok {
		return Transition{}, fault.InvalidField("new_plan", "exists", fmt.Sprintf("there is no plan named %q", newPlan))
	}
	current, err := s.deps.Plans.CurrentPlan(ctx, p.TenantID)
	if err != nil {
		return Transition{}, err
	}
	if current.Name == target.Name {
		return Transition{}, fault.Conflictf("the tenant is already on plan %s", target.Name)
	}
	if err := s.checkRequired(ctx, p, target, in); err != nil {
		return Transition{}, err
	}
	now := s.now()
	t := Transition{
		ID: uuid.New(), TenantID: p.TenantID, FromPlan: current.Name, ToPlan: target.Name, State: Creating, CreatedAt: now, UpdatedAt: now,
		Request: in.Request,
	}
	if err := s.store.InsertTransition(ctx, t); err != nil {
		if fault.KindOf(err) == fault.KindConflict {
			return Transition{}, fault.Conflictf("the tenant already has a plan transition in progress; wait for it to finish or be decided")
		}
		return Transition{}, err
	}
	var addCard func(ctx context.Context) error
	if in.PaymentToken != "" {
		_, contact := in.cardContact()
		addCard = func(ctx context.Context) error {
			_, err := s.deps.Payments.Create(ctx, p, payment.CreateInput{Token: in.PaymentToken, Role: payment.RolePrimary, Contact: contact})
			return err
		}
	}
	if target.Transition.RequiresManualApproval {
		// The operator decides on a tenant that has the card already.
		if addCard != nil {
			if err := addCard(ctx); err != nil {
				_ = s.move(context.WithoutCancel(ctx), &t, Creating, Failed, "the payment method could not be added: "+err.Error())
				return Transition{}, err
			}
		}
		err = s.move(ctx, &t, Creating, WaitingForApproval, "")
	} else {
		err = s.finish(ctx, &t, Creating, addCard)
	}
	if err != nil {
		// Never leave the tenant's one slot held by a transition nobody
		// will move on (it fails only if still CREATING).
		_ = s.move(context.WithoutCancel(ctx), &t, Creating, Failed, "could not be applied")
		return Transition{}, err
	}
	return t, nil
}

// checkRequired checks the target flow's required fields, and the addresses
// the request gives for what they are used for. A refusal names only what the
// flow asks for or what the request sent.
func (s *Service) checkRequired(ctx context.Context, p tenancy.Principal, target plan.Plan, in Payload) error {
	var v fault.Violations
	// The address a new card is registered with is checked whole where it
	// is used; with none, the payment domain takes the one on file.
	cardField, card := in.cardContact()
	if in.PaymentToken != "" && card != nil {
		payment.CheckContact(&v, cardField, *card)
	}
	for _, f := range target.Transition.RequiredFields {
		switch f {
		case "TRANSITION_REQUIRED_FIELD_PAYMENT_TOKEN":
			if in.PaymentToken != "" {
				continue
			}
			ms, err := s.deps.Payments.Methods(ctx, p.TenantID)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(ms, func(m payment.Method) bool { return m.Role == payment.RolePrimary }) {
				v.Add("payload.payment_provider_token", "required", fmt.Sprintf("plan %s needs a PRIMARY payment method: add one, or give a token here", target.Name))
			}
		case "TRANSITION_REQUIRED_FIELD_CONTACTS":
			switch c := in.BillingAddress; {
			case c == nil:
				v.Add("payload.billing_address", "required", fmt.Sprintf("plan %s needs a billing address with address1, city, zip_code and country", target.Name))
			case cardField != "payload.billing_address" || in.PaymentToken == "":
				payment.CheckContact(&v, "payload.billing_address", *c) // not checked above
			}
		case "TRANSITION_REQUIRED_FIELD_DOMAIN":
			if in.Domain == "" {
				v.Add("payload.domain", "required", fmt.Sprintf("plan %s needs a domain", target.Name))
			}
		}
	}
	s.checkAddons(&v, target, in.Request)
	return v.Err()
}

// checkAddons checks the add-ons a move asks for against the plan it moves
// to: each to subscribe to must be one the plan allows and does not include;
// none may also be cancelled. Cancelling one that is not active is allowed
// (it changes nothing).
func (s *Service) checkAddons(v *fault.Violations, target plan.Plan, r Request) {
	for i, addon := range r.SubscribeAddons {
		field := fmt.Sprintf("payload.subscribe_addon_services[%d]", i)
		switch subscription.OfferOf(target, addon) {
		case subscription.NotOffered:
			v.Add(field, "allowed", fmt.Sprintf("plan %s does not allow add-on %s; %s", target.Name, addon, s.deps.Addons.PlansAllowing(addon)))
		case subscription.Included:
			v.Add(field, "allowed", fmt.Sprintf("plan %s includes add-on %s; it needs no subscription", target.Name, addon))
		}
	}
	for i, addon := range r.UnsubscribeAddons {
		if slices.Contains(r.SubscribeAddons, addon) {
			v.Add(fmt.Sprintf("payload.unsubscribe_addon_services[%d]", i), "conflict", fmt.Sprintf("add-on %s is in subscribe_addon_services too", addon))
		}
	}
}

// move makes one edge of the state machine, or fails with 409 when the
// transition is no longer in `from` (decided meanwhile).
func (s *Service) move(ctx context.Context, t *Transition, from, to State, reason string) error {
	if !CanMove(from, to) {
		return fault.Conflictf("a plan transition cannot go from %s to %s", from, to)
	}
	ok, err := s.store.MoveTransition(ctx, t.ID, from, to, reason, s.now())
	if err != nil {
		return err
	}
	if !ok {
		return fault.Conflictf("plan transition %s is no longer %s", t.ID, from)
	}
	t.State, t.Reason = to, reason
	return nil
}

// finish moves t to FINISHED, switches the tenant's plan (and with it its
// default quota), adds the card the request gave, if any (addCard), cancels
// the subscriptions the request asked to cancel and those the new plan does
// not allow, and subscribes to the add-ons the request asked for, all in one
// transaction; a tenant found on the target plan already fails it instead
// (409). It takes the tenant's lock first, before any other row: a subscribe
// checks the plan under the same lock, so it sees either the old plan and a
// subscription this cancels, or the new plan. The card counts against the
// limits of the plan the tenant moves to, which hold once this commits, and
// so do the new subscriptions. A part the request asked for that is refused
// (the card, or add-ons the subscription limit has no room for) fails the
// whole transition with the reason, and changes nothing else.
func (s *Service) finish(ctx context.Context, t *Transition, from State, addCard func(ctx context.Context) error) error {
	target, _ := s.deps.Plans.Catalogue().Plan(t.ToPlan)
	var already error
	err := s.store.WithTx(ctx, func(ctx context.Context) error {
		if err := s.store.LockTenant(ctx, t.TenantID); err != nil {
			return err
		}
		// Initiate judged "already on it" by a plan that may have been
		// cached on this replica while another switched it: judge again,
		// read fresh under the lock.
		current, err := s.deps.Plans.CurrentPlan(ctx, t.TenantID)
		if err != nil {
			return err
		}
		if current.Name == t.ToPlan {
			already = fault.Conflictf("the tenant is already on plan %s", t.ToPlan)
			return s.move(ctx, t, from, Failed, already.Error())
		}
		if err := s.move(ctx, t, from, Finished, ""); err != nil {
			return err
		}
		// The plan domain switches it, in this transaction.
		if err := s.deps.Plans.AssignPlan(ctx, t.TenantID, t.ToPlan); err != nil {
			return err
		}
		if addCard != nil {
			if err := addCard(ctx); err != nil {
				return &refusal{reason: "the payment method could not be added", err: err}
			}
		}
		if err := s.deps.Addons.FollowPlan(ctx, t.TenantID, target, t.Request.SubscribeAddons, t.Request.UnsubscribeAddons); err != nil {
			return &refusal{reason: "the add-ons could not be changed", err: err}
		}
		return nil
	})
	var r *refusal
	if errors.As(err, &r) && refused(r.err) {
		// Rolled back, the transition is still in `from`: it fails, so the
		// tenant's slot is free and the operator sees why.
		if merr := s.move(context.WithoutCancel(ctx), t, from, Failed, r.reason+": "+r.err.Error()); merr != nil {
			return merr
		}
		return r.err
	}
	if err == nil && already == nil {
		s.deps.Plans.Changed(t.TenantID)
		s.deps.Addons.Changed(t.TenantID)
	}
	if err == nil {
		err = already
	}
	return err
}

// refusal is a part of finishing a transition that was refused, with what
// the transition's reason says about it.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string { return r.reason + ": " + r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// refused tells a refusal by the rules (which fails the transition) from a
// failure to apply them (a database error, which may pass).
func refused(err error) bool {
	switch fault.KindOf(err) {
	case fault.KindInvalid, fault.KindConflict, fault.KindForbidden, fault.KindNotFound:
		return true
	}
	return false
}

// State returns a transition's state by id alone (for the no-auth status).
func (s *Service) State(ctx context.Context, id uuid.UUID) (State, error) {
	t, err := s.store.TransitionByID(ctx, id)
	if err != nil {
		if fault.KindOf(err) == fault.KindNotFound {
			return "", fault.NotFoundf("no plan transition %s", id)
		}
		return "", err
	}
	return t.State, nil
}

// List lists transitions for the operator, newest first.
func (s *Service) List(ctx context.Context, tenantID *uuid.UUID, state State) ([]Transition, error) {
	return s.store.ListTransitions(ctx, tenantID, state)
}

// Approve finishes a transition waiting for approval.
func (s *Service) Approve(ctx context.Context, id uuid.UUID) (Transition, error) {
	t, err := s.waiting(ctx, id)
	if err != nil {
		return t, err
	}
	return t, s.finish(ctx, &t, WaitingForApproval, nil)
}

// Reject fails a transition waiting for approval, with the operator's reason.
func (s *Service) Reject(ctx context.Context, id uuid.UUID, reason string) (Transition, error) {
	t, err := s.waiting(ctx, id)
	if err != nil {
		return t, err
	}
	return t, s.move(ctx, &t, WaitingForApproval, Failed, reason)
}

func (s *Service) waiting(ctx context.Context, id uuid.UUID) (Transition, error) {
	t, err := s.store.TransitionByID(ctx, id)
	if err != nil {
		if fault.KindOf(err) == fault.KindNotFound {
			return t, fault.NotFoundf("no plan transition %s", id)
		}
		return t, err
	}
	if t.State != WaitingForApproval {
		return t, fault.Conflictf("plan transition %s is %s, not waiting for approval", id, t.State)
	}
	return t, nil
}
