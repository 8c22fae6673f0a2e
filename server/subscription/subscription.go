// Package subscription holds tenants' add-on subscriptions: subscribe to an
// add-on the current plan allows (idempotently), cancel one, list them with
// their billing periods. No HTTP and no SQL here.
package subscription

import (
	"context"
	"crypto/sha256"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/period"
	"billing-api/server/plan"
	"billing-api/server/tenancy"
)

// KindSubscription is the quota object kind subscriptions count as.
const KindSubscription = "subscription"

// Subscription is one add-on subscription of a tenant.
type Subscription struct {
	TenantID    uuid.UUID
	ID          uuid.UUID
	Addon       string
	StartedAt   time.Time
	CancelledAt *time.Time
	// Included marks an add-on that comes with the plan (not stored; shown
	// active while the plan includes it).
	Included bool
}

// Active reports whether the subscription is in force.
func (s Subscription) Active() bool { return s.CancelledAt == nil }

// Store is what subscriptions need from persistence.
type Store interface {
	WithTx(ctx context.Context, fn func(ctx context.Context) error) error
	// LockTenant serialises the tenant's writers until the transaction
	// ends; a plan change takes it too.
	LockTenant(ctx context.Context, tenantID uuid.UUID) error
	// ActiveSubscription returns the tenant's active subscription to addon;
	// ok is false when there is none.
	ActiveSubscription(ctx context.Context, tenantID uuid.UUID, addon string) (s Subscription, ok bool, err error)
	// InsertSubscription stores an active subscription; a second active
	// one for the same add-on is a conflict (a partial unique index).
	InsertSubscription(ctx context.Context, s Subscription) error
	CancelSubscription(ctx context.Context, tenantID, id uuid.UUID, at time.Time) error
	// ListSubscriptions returns the tenant's subscriptions, newest first.
	ListSubscriptions(ctx context.Context, tenantID uuid.UUID) ([]Subscription, error)
}

// Counted creates objects through the quota room check.
type Counted func(ctx context.Context, tenantID uuid.UUID, namespace, kind string, n int64, insert func(ctx context.Context) error) error

// Plans tells the tenant's current plan.
type Plans interface {
	// CurrentPlan reads the plan from the store when ctx carries a
	// transaction (never a cached copy).
	CurrentPlan(ctx context.Context, tenantID uuid.UUID) (plan.Plan, error)
	Catalogue() *plan.Catalogue
}

// Service is the subscriptions domain.
type Service struct {
	store   Store
	plans   Plans
	counted Counted
	now     clock.Clock
	// onChanged run when a tenant's subscriptions change on this replica.
	onChanged []func(tenantID uuid.UUID)
}

// OnChanged registers fn to run when a tenant's subscriptions change on
// this replica (what is derived from them drops its cached state).
func (s *Service) OnChanged(fn func(tenantID uuid.UUID)) { s.onChanged = append(s.onChanged, fn) }

// All returns every subscription of the tenant, cancelled ones too, newest
// first (what invoices bill add-ons from).
func (s *Service) All(ctx context.Context, tenantID uuid.UUID) ([]Subscription, error) {
	return s.store.ListSubscriptions(ctx, tenantID)
}

// NewService wires the domain.
func NewService(store Store, plans Plans, counted Counted, now clock.Clock) *Service {
	return &Service{store: store, plans: plans, counted: counted, now: clock.Normalized(now)}
}

// Offer is how a plan offers an add-on.
type Offer int

const (
	// NotOffered: the plan does not allow the add-on.
	NotOffered Offer = iota
	// Subscribable: the plan allows a subscription to it.
	Subscribable
	// Included: the plan includes it; no subscription is needed (or billed).
	Included
)

// OfferOf says how plan pl offers addon.
func OfferOf(pl plan.Plan, addon string) Offer {
	switch {
	case slices.Contains(pl.IncludedAddons, addon):
		return Included
	case slices.Contains(pl.AllowedAddons, addon):
		return Subscribable
	}
	return NotOffered
}

// Subscribe subscribes the tenant to addon, which its plan must allow (403
// naming the plans that do). Subscribing to an active or included add-on
// changes nothing. New subscriptions count against the plan's subscription
// limit.
func (s *Service) Subscribe(ctx context.Context, p tenancy.Principal, addon string) (Subscription, error) {
	var (
		out     Subscription
		created bool
	)
	err := s.underPlan(ctx, p.TenantID, func(ctx context.Context, pl plan.Plan) error {
		switch OfferOf(pl, addon) {
		case Included:
			out = Subscription{TenantID: p.TenantID, Addon: addon, Included: true}
			return nil
		case NotOffered:
			return fault.Forbiddenf("plan %s does not allow add-on %s; %s", pl.Name, addon, s.PlansAllowing(addon))
		}
		cur, ok, err := s.store.ActiveSubscription(ctx, p.TenantID, addon)
		if err != nil || ok {
			out = cur
			return err
		}
		sub := Subscription{TenantID: p.TenantID, ID: uuid.New(), Addon: addon, StartedAt: s.now()}
		// The room check joins this transaction (and its lock).
		if err := s.counted(ctx, p.TenantID, tenancy.SystemNamespace, KindSubscription, 1, func(ctx context.Context) error {
			return s.store.InsertSubscription(ctx, sub)
		}); err != nil {
			return err
		}
		out, created = sub, true
		return nil
	})
	if err != nil {
		return Subscription{}, err
	}
	if created {
		s.Changed(p.TenantID)
	}
	return out, nil
}

// underPlan runs fn in one transaction that first takes the tenant's lock
// and then reads its plan from the store: a plan change (which takes the
// same lock to switch the plan and cancel what the new one forbids) cannot
// commit in between, on this replica or another, and no cached plan is
// used.
func (s *Service) underPlan(ctx context.Context, tenantID uuid.UUID, fn func(ctx context.Context, pl plan.Plan) error) error {
	return s.store.WithTx(ctx, func(ctx context.Context) error {
		if err := s.store.LockTenant(ctx, tenantID); err != nil {
			return err
		}
		pl, err := s.plans.CurrentPlan(ctx, tenantID)
		if err != nil {
			return err
		}
		return fn(ctx, pl)
	})
}

// PlansAllowing names the catalogue's plans that allow addon, for a
// refusal's message.
func (s *Service) PlansAllowing(addon string) string {
	var names []string
	for _, pl := range s.plans.Catalogue().Plans {
		if OfferOf(pl, addon) != NotOffered {
			names = append(names, pl.Name)
		}
	}
	if len(names) == 0 {
		return "no plan offers it"
	}
	return "plans that allow it: " + strings.Join(names, ", ")
}

// Unsubscribe cancels the tenant's active subscription to addon: it is kept,
// with its cancellation date. An add-on the plan includes cannot be
// cancelled (409); one not active is not found.
func (s *Service) Unsubscribe(ctx context.Context, p tenancy.Principal, addon string) error {
	err := s.underPlan(ctx, p.TenantID, func(ctx context.Context, pl plan.Plan) error {
		if OfferOf(pl, addon) == Included {
			return fault.Conflictf("add-on %s is included in plan %s and cannot be cancelled on its own", addon, pl.Name)
		}
		cur, ok, err := s.store.ActiveSubscription(ctx, p.TenantID, addon)
		if err != nil {
			return err
		}
		if !ok {
			return fault.NotFoundf("the tenant has no active subscription to add-on %s", addon)
		}
		return s.store.CancelSubscription(ctx, p.TenantID, cur.ID, s.now())
	})
	if err == nil {
		s.Changed(p.TenantID)
	}
	return err
}

// FollowPlan brings the tenant's subscriptions in line with pl, the plan a
// finishing transition has just switched it to, in the caller's transaction
// (a plan change holds the tenant's lock, so no subscribe checks the old plan
// meanwhile): it cancels the active subscriptions to the add-ons in
// unsubscribe and to those pl does not allow, then subscribes to the add-ons
// in subscribe, through the quota room check — all of them or, when the
// subscription limit has no room for them, none (409, and the caller's
// transaction rolls back). Cancelling an add-on that is not active, or
// subscribing to one that is (or that pl includes), changes nothing; one pl
// does not allow is refused (409: the caller checked it against the
// catalogue it started with). Changed tells the domain once the caller's
// transaction has committed.
func (s *Service) FollowPlan(ctx context.Context, tenantID uuid.UUID, pl plan.Plan, subscribe, unsubscribe []string) error {
	return s.store.WithTx(ctx, func(ctx context.Context) error {
		if err := s.store.LockTenant(ctx, tenantID); err != nil {
			return err
		}
		subs, err := s.store.ListSubscriptions(ctx, tenantID)
		if err != nil {
			return err
		}
		active := map[string]bool{}
		for _, sub := range subs {
			if !sub.Active() {
				continue
			}
			if slices.Contains(unsubscribe, sub.Addon) || OfferOf(pl, sub.Addon) == NotOffered {
				if err := s.store.CancelSubscription(ctx, tenantID, sub.ID, s.now()); err != nil {
					return err
				}
				continue
			}
			active[sub.Addon] = true
		}
		var add []Subscription
		for _, addon := range subscribe {
			switch OfferOf(pl, addon) {
			case NotOffered:
				return fault.Conflictf("plan %s does not allow add-on %s; %s", pl.Name, addon, s.PlansAllowing(addon))
			case Included:
				continue
			}
			if !active[addon] {
				active[addon] = true
				add = append(add, Subscription{TenantID: tenantID, ID: uuid.New(), Addon: addon, StartedAt: s.now()})
			}
		}
		if len(add) == 0 {
			return nil
		}
		// The room check joins this transaction: room for all, or none.
		return s.counted(ctx, tenantID, tenancy.SystemNamespace, KindSubscription, int64(len(add)), func(ctx context.Context) error {
			for _, sub := range add {
				if err := s.store.InsertSubscription(ctx, sub); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// Changed runs what OnChanged registered: after this domain's own changes,
// and after a transaction that changed subscriptions through FollowPlan
// commits (its caller calls it).
func (s *Service) Changed(tenantID uuid.UUID) {
	for _, fn := range s.onChanged {
		fn(tenantID)
	}
}

// Listed is a subscription as listed, with the plan it is listed under.
type Listed struct {
	Subscription
	Plan string
}

// List returns the tenant's subscriptions, newest first, after the add-ons
// its plan includes (active while it does); currentOnly keeps the active.
func (s *Service) List(ctx context.Context, p tenancy.Principal, currentOnly bool) ([]Listed, error) {
	pl, err := s.plans.CurrentPlan(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	var out []Listed
	for _, a := range pl.IncludedAddons {
		out = append(out, Listed{Subscription: Subscription{TenantID: p.TenantID, ID: periodID(p.TenantID, a, time.Time{}), Addon: a, Included: true}, Plan: pl.Name})
	}
	subs, err := s.store.ListSubscriptions(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	for _, sub := range subs {
		if currentOnly && !sub.Active() {
			continue
		}
		out = append(out, Listed{Subscription: sub, Plan: pl.Name})
	}
	return out, nil
}

// Period is one monthly billing period of a subscription.
type Period struct {
	ID         uuid.UUID
	Start, End time.Time
}

// Periods are the subscription's calendar-month billing periods up to now
// (or its cancellation), oldest first: the first starts with the
// subscription, the last ends at the month's end or the cancellation.
func (s *Service) Periods(sub Subscription) []Period {
	if sub.Included || sub.StartedAt.IsZero() {
		return nil
	}
	end := s.now()
	if sub.CancelledAt != nil {
		end = *sub.CancelledAt
	}
	var out []Period
	for start := sub.StartedAt; !start.After(end); {
		monthEnd := period.Of(start).End()
		pe := monthEnd
		if sub.CancelledAt != nil && sub.CancelledAt.Before(monthEnd) {
			pe = *sub.CancelledAt
		}
		out = append(out, Period{ID: periodID(sub.TenantID, sub.ID.String(), start), Start: start, End: pe})
		if pe.Before(monthEnd) {
			break
		}
		start = monthEnd
	}
	return out
}

// periodID is a stable id for a period (or an included add-on's entry).
func periodID(tenant uuid.UUID, key string, start time.Time) uuid.UUID {
	// tenant/key/unix-seconds, built without fmt: a list hashes one per
	// period.
	buf := make([]byte, 0, 36+1+len(key)+1+20)
	buf = append(buf, tenant.String()...)
	buf = append(append(append(buf, '/'), key...), '/')
	buf = strconv.AppendInt(buf, start.Unix(), 10)
	sum := sha256.Sum256(buf)
	id, _ := uuid.FromBytes(sum[:16])
	id[6] = (id[6] & 0x0f) | 0x50 // version 5 layout
	id[8] = (id[8] & 0x3f) | 0x80
	return id
}
