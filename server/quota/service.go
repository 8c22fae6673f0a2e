package quota

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/tenancy"
)

// Service applies the quota rules.
type Service struct {
	store    Store
	defaults DefaultQuotas
	now      func() time.Time
	counters []LiveCounter
	limiter  *RateLimiter
}

// Config configures a Service.
type Config struct {
	Store    Store
	Defaults DefaultQuotas
	// Now is the clock (UTC); nil means time.Now.
	Now func() time.Time
	// LimitsTTL bounds how long a replica may use cached limits for rate
	// limiting; writes on this replica invalidate at once. Default 1s.
	LimitsTTL time.Duration
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Store == nil || c.Defaults == nil {
		return errors.New("quota: Store and Defaults are required")
	}
	if c.LimitsTTL < 0 || c.LimitsTTL > time.Second {
		return errors.New("quota: LimitsTTL must be between 0 and 1s (a quota change takes effect within a second)")
	}
	return nil
}

// NewService returns a Service; it counts quota objects itself.
func NewService(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	ttl := cfg.LimitsTTL
	if ttl == 0 {
		ttl = time.Second
	}
	s := &Service{store: cfg.Store, defaults: cfg.Defaults, now: now}
	s.limiter = newRateLimiter(s, now, ttl)
	s.AddLiveCounter(LiveCounter{Kind: KindQuota, Count: cfg.Store.CountObjects})
	return s, nil
}

// AddLiveCounter makes the usage of kind the live count of the service's own
// objects (domains register their object kinds at wiring time).
func (s *Service) AddLiveCounter(c LiveCounter) { s.counters = append(s.counters, c) }

// ownKind reports whether kind is one of the service's own object kinds:
// their usage is the service's live count, never a reported gauge. Payment
// methods and subscriptions register their counters when those domains are
// wired; until then the service holds none of them, so their count is 0.
func (s *Service) ownKind(kind string) bool {
	switch kind {
	case KindQuota, KindPaymentMethod, KindSubscription:
		return true
	}
	for _, c := range s.counters {
		if c.Kind == kind {
			return true
		}
	}
	return false
}

// Create stores a new quota object in namespace.
func (s *Service) Create(ctx context.Context, p tenancy.Principal, namespace string, in ObjectInput) (Object, error) {
	if err := in.validate(namespace, ""); err != nil {
		return Object{}, err
	}
	now := s.now()
	o := Object{
		UID: uuid.New(), TenantID: p.TenantID, TenantName: p.TenantName, Namespace: namespace, Name: in.Name,
		Labels: in.Labels, Annotations: in.Annotations, Description: in.Description, Disabled: in.Disabled,
		Spec: in.Spec, CreatorID: p.CreatorID(), CreatorClass: p.CreatorClass(), CreatedAt: now, UpdatedAt: now,
	}
	err := s.store.WithTx(ctx, func(ctx context.Context) error {
		if err := s.store.LockTenant(ctx, p.TenantID); err != nil {
			return err
		}
		if err := s.checkRoom(ctx, p.TenantID, namespace, KindQuota, 1); err != nil {
			return err
		}
		if err := s.store.CreateObject(ctx, o); err != nil {
			if errors.Is(err, fault.ErrConflict) {
				return fault.Conflictf("quota %q already exists in namespace %q", in.Name, namespace)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return Object{}, err
	}
	s.limiter.invalidate(p.TenantID)
	return o, nil
}

// Replace overwrites an existing quota object's metadata and spec.
func (s *Service) Replace(ctx context.Context, p tenancy.Principal, namespace, name string, in ObjectInput) error {
	if err := in.validate(namespace, name); err != nil {
		return err
	}
	err := s.store.WithTx(ctx, func(ctx context.Context) error {
		old, err := s.get(ctx, p.TenantID, namespace, name)
		if err != nil {
			return err
		}
		old.Labels, old.Annotations, old.Description = in.Labels, in.Annotations, in.Description
		old.Disabled, old.Spec = in.Disabled, in.Spec
		old.UpdatedAt = s.now()
		return s.store.ReplaceObject(ctx, old)
	})
	if err != nil {
		return err
	}
	s.limiter.invalidate(p.TenantID)
	return nil
}

// Get reads one quota object.
func (s *Service) Get(ctx context.Context, p tenancy.Principal, namespace, name string) (Object, error) {
	o, err := s.get(ctx, p.TenantID, namespace, name)
	if err != nil {
		return Object{}, err
	}
	o.TenantName = p.TenantName
	return o, nil
}

func (s *Service) get(ctx context.Context, tenantID uuid.UUID, namespace, name string) (Object, error) {
	o, err := s.store.GetObject(ctx, tenantID, namespace, name)
	if errors.Is(err, fault.ErrNotFound) {
		return Object{}, fault.NotFoundf("quota %q not found in namespace %q", name, namespace)
	}
	return o, err
}

// List returns the namespace's quota objects matching the selector, by name.
func (s *Service) List(ctx context.Context, p tenancy.Principal, namespace string, sel Selector) ([]Object, error) {
	all, err := s.store.ListObjects(ctx, p.TenantID, namespace)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, o := range all {
		if sel.Matches(o.Labels) {
			o.TenantName = p.TenantName
			out = append(out, o)
		}
	}
	return out, nil
}

// Delete removes a quota object. Nothing refers to quota objects, so
// failIfReferred never refuses; it is accepted for compatibility.
func (s *Service) Delete(ctx context.Context, p tenancy.Principal, namespace, name string, failIfReferred bool) error {
	_ = failIfReferred // no object kind of this service refers to quota objects
	err := s.store.DeleteObject(ctx, p.TenantID, namespace, name)
	if errors.Is(err, fault.ErrNotFound) {
		return fault.NotFoundf("quota %q not found in namespace %q", name, namespace)
	}
	if err != nil {
		return err
	}
	s.limiter.invalidate(p.TenantID)
	return nil
}

// Usage returns every effective limit of the namespace with what is in use.
func (s *Service) Usage(ctx context.Context, tenantID uuid.UUID, namespace string) (Usage, error) {
	eff, err := s.EffectiveLimits(ctx, tenantID, namespace)
	if err != nil {
		return Usage{}, err
	}
	objects, err := s.objectUsage(ctx, tenantID, namespace)
	if err != nil {
		return Usage{}, err
	}
	resources, err := s.store.ResourceAmounts(ctx, tenantID, namespace)
	if err != nil {
		return Usage{}, err
	}
	u := Usage{Limits: eff, Objects: map[string]int64{}, Resources: map[string]float64{}, APIs: map[string]int64{}}
	for k := range eff.Objects {
		u.Objects[k] = objects[k]
	}
	for k := range eff.Resources {
		u.Resources[k] = resources[k]
	}
	for k, r := range eff.APIs {
		u.APIs[k] = s.limiter.taken(tenantID, eff.apiScope[k], k, r)
	}
	return u, nil
}

// objectUsage is the latest gauge of each kind plus the live counts of the
// service's own objects.
func (s *Service) objectUsage(ctx context.Context, tenantID uuid.UUID, namespace string) (map[string]int64, error) {
	counts, err := s.store.ObjectCounts(ctx, tenantID, namespace)
	if err != nil {
		return nil, err
	}
	for _, c := range s.counters {
		n, err := c.Count(ctx, tenantID, namespace)
		if err != nil {
			return nil, err
		}
		counts[c.Kind] += n
	}
	return counts, nil
}

// Check is the answer to "may the tenant create n more of kind here?".
type Check struct {
	Allowed bool
	// Limited is false when no limit applies to the kind.
	Limited   bool
	Limit     int64
	Usage     int64
	Remaining int64
}

// CheckRoom answers whether n more objects of kind fit in the namespace.
func (s *Service) CheckRoom(ctx context.Context, tenantID uuid.UUID, namespace, kind string, n int64) (Check, error) {
	var v fault.Violations
	CheckLimitKey(&v, "kind", kind)
	if n < 1 {
		v.Add("count", "minimum", "must be at least 1")
	}
	if err := v.Err(); err != nil {
		return Check{}, err
	}
	eff, err := s.EffectiveLimits(ctx, tenantID, namespace)
	if err != nil {
		return Check{}, err
	}
	usage, err := s.objectUsage(ctx, tenantID, namespace)
	if err != nil {
		return Check{}, err
	}
	c := Check{Usage: usage[kind], Limit: Unlimited, Remaining: Unlimited, Allowed: true}
	if limit, ok := eff.Objects[kind]; ok && limit != Unlimited {
		c.Limited, c.Limit = true, int64(limit)
		c.Remaining = max(c.Limit-c.Usage, 0)
		c.Allowed = c.Usage+n <= c.Limit
	}
	return c, nil
}

// checkRoom refuses (409) to go past the namespace's limit for kind.
func (s *Service) checkRoom(ctx context.Context, tenantID uuid.UUID, namespace, kind string, n int64) error {
	c, err := s.CheckRoom(ctx, tenantID, namespace, kind, n)
	if err != nil {
		return err
	}
	if !c.Allowed {
		return fault.Conflictf("quota exceeded: namespace %q may hold %d %s objects and holds %d", namespace, c.Limit, kind, c.Usage)
	}
	return nil
}

// RecordGauges stores object-count and resource gauges (latest observation
// wins per key, so replays and out-of-order batches are harmless).
func (s *Service) RecordGauges(ctx context.Context, counts []ObjectCount, amounts []ResourceAmount) (int, int, error) {
	var v fault.Violations
	for i, c := range counts {
		field := fmt.Sprintf("object_counts[%d]", i)
		CheckLimitKey(&v, field+".kind", c.Kind)
		if s.ownKind(c.Kind) {
			v.Add(field+".kind", "reserved", fmt.Sprintf("%q objects are counted by the service itself", c.Kind))
		}
		if c.Count < 0 {
			v.Add(field+".count", "minimum", "must not be negative")
		}
	}
	for i, a := range amounts {
		field := fmt.Sprintf("resource_amounts[%d]", i)
		CheckLimitKey(&v, field+".resource", a.Resource)
		if a.Amount < 0 || a.Amount != a.Amount {
			v.Add(field+".amount", "minimum", "must not be negative")
		}
	}
	if err := v.Err(); err != nil {
		return 0, 0, err
	}
	var nc, na int
	err := s.store.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if nc, err = s.store.RecordObjectCounts(ctx, counts); err != nil {
			return err
		}
		na, err = s.store.RecordResourceAmounts(ctx, amounts)
		return err
	})
	return nc, na, err
}
