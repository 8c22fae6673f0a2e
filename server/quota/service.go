package quota

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"

	"billing-api/server/cache"
	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/ratelimit"
	"billing-api/server/tenancy"
)

// Service applies the quota rules.
type Service struct {
	store    Store
	defaults DefaultQuotas
	keys     APIKeys
	now      clock.Clock
	limiter  *RateLimiter
	// The request path reads effective limits and the operator's overrides
	// through these caches; every write here drops the tenant's entries.
	effective *cache.Cache[limitsKey, Effective]
	overrides *cache.Cache[uuid.UUID, Overrides]

	mu       sync.RWMutex
	counters map[string]counted
}

// Config configures a Service.
type Config struct {
	Store    Store
	Defaults DefaultQuotas
	// Keys tells the two spellings of an API limit key apart; nil knows no
	// aliases.
	Keys APIKeys
	// Now is the clock; nil means the system clock.
	Now clock.Clock
	// CacheTTL bounds how long a replica may use cached limits; writes on
	// this replica invalidate at once. Default 1s.
	CacheTTL time.Duration
	// Shared holds the rate-limit buckets every replica takes from; nil
	// keeps them in this replica's memory.
	Shared *ratelimit.Shared
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Store == nil || c.Defaults == nil {
		return errors.New("quota: Store and Defaults are required")
	}
	if c.CacheTTL < 0 || c.CacheTTL > time.Second {
		return errors.New("quota: CacheTTL must be between 0 and 1s (a quota change takes effect within a second)")
	}
	return nil
}

// NewService returns a Service. It counts no kind yet: the wiring registers
// every kind the service keeps itself (CountKind), quota objects included.
func NewService(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ttl := cfg.CacheTTL
	if ttl == 0 {
		ttl = time.Second
	}
	keys := cfg.Keys
	if keys == nil {
		keys = SameKeys{}
	}
	s := &Service{store: cfg.Store, defaults: cfg.Defaults, keys: keys, now: clock.Normalized(cfg.Now), counters: map[string]counted{}}
	s.limiter = newRateLimiter(s, s.now, cfg.Shared)
	s.effective = cache.New[limitsKey, Effective](ttl, s.now, func(k limitsKey) string { return k.tenant.String() + "/" + k.namespace })
	s.overrides = cache.New[uuid.UUID, Overrides](ttl, s.now, uuid.UUID.String)
	return s, nil
}

type limitsKey struct {
	tenant    uuid.UUID
	namespace string
}

// invalidate drops what this replica caches of a tenant's limits.
func (s *Service) invalidate(tenantID uuid.UUID) {
	s.overrides.Invalidate(tenantID)
	s.invalidateEffective(tenantID)
}

// invalidateEffective drops the tenant's effective limits (after a change
// to its quota objects, which the overrides do not depend on).
func (s *Service) invalidateEffective(tenantID uuid.UUID) {
	s.effective.InvalidateWhere(func(k limitsKey, _ Effective) bool { return k.tenant == tenantID })
}

// counted is a kind the service counts itself.
type counted struct {
	count Counter
	// systemOnly kinds live in the system namespace only: elsewhere their
	// count is 0 without asking the store.
	systemOnly bool
}

// CountKind makes kind one the service counts itself: its usage is count's
// live answer (gauges for it are refused), and objects of it must be
// created through CreateCounted.
func (s *Service) CountKind(kind string, count Counter) { s.register(kind, counted{count: count}) }

// CountSystemKind is CountKind for tenant-wide objects, which live in the
// system namespace (payment methods, subscriptions): quota/usage of any
// other namespace reports 0 for them without a query.
func (s *Service) CountSystemKind(kind string, count Counter) {
	s.register(kind, counted{count: count, systemOnly: true})
}

func (s *Service) register(kind string, c counted) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.counters[kind]; dup {
		panic(fmt.Sprintf("quota: kind %q is registered twice", kind))
	}
	s.counters[kind] = c
}

func (s *Service) counter(kind string) (Counter, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.counters[kind]
	if !ok {
		return nil, false
	}
	return c.countIn, true
}

// countIn counts c's objects in namespace.
func (c counted) countIn(ctx context.Context, tenantID uuid.UUID, namespace string) (int64, error) {
	if c.systemOnly && namespace != tenancy.SystemNamespace {
		return 0, nil
	}
	return c.count(ctx, tenantID, namespace)
}

// CreateCounted is the one way to create objects of a counted kind: in one
// transaction it takes the tenant's lock, checks that n more objects of
// kind fit in the namespace (409 otherwise) and runs insert. Concurrent
// creators of one tenant queue on the lock, so the limit holds across
// replicas.
func (s *Service) CreateCounted(ctx context.Context, tenantID uuid.UUID, namespace, kind string, n int64, insert func(ctx context.Context) error) error {
	if _, ok := s.counter(kind); !ok {
		return fault.Internal(fmt.Errorf("quota: %q is not a counted kind", kind))
	}
	err := s.store.WithTx(ctx, func(ctx context.Context) error {
		if err := s.store.LockTenant(ctx, tenantID); err != nil {
			return err
		}
		c, err := s.CheckRoom(ctx, tenantID, namespace, kind, n)
		if err != nil {
			return err
		}
		if !c.Allowed {
			return fault.Conflictf("quota exceeded: namespace %q may hold %d %s objects and holds %d", namespace, c.Limit, kind, c.Usage)
		}
		return insert(ctx)
	})
	if err != nil {
		return err
	}
	s.invalidateEffective(tenantID)
	return nil
}

// Create stores a new quota object in namespace.
func (s *Service) Create(ctx context.Context, p tenancy.Principal, namespace string, in ObjectInput) (Object, error) {
	if err := in.validate(namespace, "", s.keys); err != nil {
		return Object{}, err
	}
	now := s.now()
	o := Object{
		UID: uuid.New(), TenantID: p.TenantID, TenantName: p.TenantName, Namespace: namespace, Name: in.Name,
		Labels: in.Labels, Annotations: in.Annotations, Description: in.Description, Disabled: in.Disabled,
		Spec: in.Spec, CreatorID: p.CreatorID(), CreatorClass: p.CreatorClass(), CreatedAt: now, UpdatedAt: now,
	}
	err := s.CreateCounted(ctx, p.TenantID, namespace, KindQuota, 1, func(ctx context.Context) error {
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
	return o, nil
}

// Replace overwrites an existing quota object's metadata and spec, in one
// statement (its uid, creation and creator stay).
func (s *Service) Replace(ctx context.Context, p tenancy.Principal, namespace, name string, in ObjectInput) error {
	if err := in.validate(namespace, name, s.keys); err != nil {
		return err
	}
	err := s.store.ReplaceObject(ctx, Object{
		TenantID: p.TenantID, Namespace: namespace, Name: name,
		Labels: in.Labels, Annotations: in.Annotations, Description: in.Description,
		Disabled: in.Disabled, Spec: in.Spec, UpdatedAt: s.now(),
	})
	if errors.Is(err, fault.ErrNotFound) {
		return fault.NotFoundf("quota %q not found in namespace %q", name, namespace)
	}
	if err != nil {
		return err
	}
	s.invalidateEffective(p.TenantID)
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

// List returns the namespace's quota objects matching the selector, by
// name; without full, only what a list item shows.
func (s *Service) List(ctx context.Context, p tenancy.Principal, namespace string, sel Selector, full bool) ([]Object, error) {
	all, err := s.store.ListObjects(ctx, p.TenantID, namespace, full)
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
	s.invalidateEffective(p.TenantID)
	return nil
}

// Usage returns every effective limit of the namespace with what is in use.
func (s *Service) Usage(ctx context.Context, tenantID uuid.UUID, namespace string) (Usage, error) {
	eff, err := s.EffectiveLimits(ctx, tenantID, namespace)
	if err != nil {
		return Usage{}, err
	}
	objects, resources, err := s.objectUsage(ctx, tenantID, namespace)
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
	for k, n := range s.limiter.taken(ctx, tenantID, namespace, eff) {
		u.APIs[k] = n
	}
	return u, nil
}

// objectUsage is, per kind, the latest gauge or, for the kinds the service
// counts itself, the live count; and the latest resource gauges.
func (s *Service) objectUsage(ctx context.Context, tenantID uuid.UUID, namespace string) (map[string]int64, map[string]float64, error) {
	counts, amounts, own, err := s.store.UsageGauges(ctx, tenantID, namespace)
	if err != nil {
		return nil, nil, err
	}
	// Quota objects, this domain's own kind, are counted in the same query.
	counts[KindQuota] = own
	// Kinds are registered at wiring, so readers never wait for a writer.
	s.mu.RLock()
	defer s.mu.RUnlock()
	for kind, c := range s.counters {
		if kind == KindQuota {
			continue
		}
		n, err := c.countIn(ctx, tenantID, namespace)
		if err != nil {
			return nil, nil, err
		}
		counts[kind] = n
	}
	return counts, amounts, nil
}

// kindUsage is the usage of one kind: its live count if the service counts
// it, else its latest gauge.
func (s *Service) kindUsage(ctx context.Context, tenantID uuid.UUID, namespace, kind string) (int64, error) {
	if count, ok := s.counter(kind); ok {
		return count(ctx, tenantID, namespace)
	}
	counts, _, _, err := s.store.UsageGauges(ctx, tenantID, namespace)
	return counts[kind], err
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
// It only answers; CreateCounted is what creates under the limit.
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
	usage, err := s.kindUsage(ctx, tenantID, namespace, kind)
	if err != nil {
		return Check{}, err
	}
	c := Check{Usage: usage, Limit: Unlimited, Remaining: Unlimited, Allowed: true}
	if limit, ok := eff.Objects[kind]; ok && limit != Unlimited {
		c.Limited, c.Limit = true, int64(limit)
		c.Remaining = max(c.Limit-c.Usage, 0)
		// Compared as n <= remaining: usage+n could overflow int64.
		c.Allowed = n <= c.Remaining
	}
	return c, nil
}

// MaxGaugeLead is how far ahead of the server's clock a gauge may be
// observed: a clock skew allowance, not more, since the newest observation
// wins and one from the far future would win for ever.
const MaxGaugeLead = 5 * time.Minute

// RecordGauges stores object-count and resource gauges (latest observation
// wins per key, so replays and out-of-order batches are harmless).
func (s *Service) RecordGauges(ctx context.Context, counts []ObjectCount, amounts []ResourceAmount) (int, int, error) {
	var v fault.Violations
	latest := s.now().Add(MaxGaugeLead)
	checkTime := func(field string, at *time.Time) {
		*at = clock.Normalize(*at)
		if at.After(latest) {
			v.Add(field+".observed_at", "maximum", fmt.Sprintf("must not be more than %s ahead of the server's clock", MaxGaugeLead))
		}
	}
	for i := range counts {
		c := &counts[i]
		field := fmt.Sprintf("object_counts[%d]", i)
		checkTime(field, &c.ObservedAt)
		CheckLimitKey(&v, field+".kind", c.Kind)
		if _, own := s.counter(c.Kind); own {
			v.Add(field+".kind", "reserved", fmt.Sprintf("%q objects are counted by the service itself", c.Kind))
		}
		if c.Count < 0 {
			v.Add(field+".count", "minimum", "must not be negative")
		}
	}
	for i := range amounts {
		a := &amounts[i]
		field := fmt.Sprintf("resource_amounts[%d]", i)
		checkTime(field, &a.ObservedAt)
		CheckLimitKey(&v, field+".resource", a.Resource)
		if !(a.Amount >= 0) || math.IsInf(a.Amount, 1) {
			v.Add(field+".amount", "minimum", "must be a finite amount of 0 or more")
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

// LimitOverrides returns the operator's limit overrides of a tenant.
func (s *Service) LimitOverrides(ctx context.Context, tenantID uuid.UUID) (Overrides, error) {
	return s.overrides.Get(ctx, tenantID, func(ctx context.Context) (Overrides, error) {
		return s.store.LimitOverrides(ctx, tenantID)
	})
}

// SetLimitOverrides replaces the operator's limit overrides of a tenant;
// the tenant's limits follow at once on this replica.
func (s *Service) SetLimitOverrides(ctx context.Context, tenantID uuid.UUID, l Limits) (Overrides, error) {
	var v fault.Violations
	l.validate(&v, "", s.keys)
	if err := v.Err(); err != nil {
		return Overrides{}, err
	}
	at := s.now()
	if err := s.store.SetLimitOverrides(ctx, tenantID, l, at); err != nil {
		return Overrides{}, err
	}
	s.invalidate(tenantID)
	return Overrides{Limits: l, UpdatedAt: &at}, nil
}

// ClearLimitOverrides removes the operator's limit overrides of a tenant,
// leaving its plan's default quota as the ceiling.
func (s *Service) ClearLimitOverrides(ctx context.Context, tenantID uuid.UUID) error {
	if err := s.store.DeleteLimitOverrides(ctx, tenantID); err != nil {
		return err
	}
	s.invalidate(tenantID)
	return nil
}

// CanonicalAPIKey is the one spelling of an API limit key (the operation
// id where the key is a vendor RPC name).
func (s *Service) CanonicalAPIKey(key string) string { return s.keys.Canonical(key) }

// InvalidateTenant drops what this replica caches of a tenant's limits;
// domains that change what the limits come from (a plan change) call it.
func (s *Service) InvalidateTenant(tenantID uuid.UUID) { s.invalidate(tenantID) }
