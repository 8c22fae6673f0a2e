package quota

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"billing-api/server/fault"
)

// scopeTenant marks a tenant-wide bucket; a namespace name marks that
// namespace's own.
const scopeTenant = ""

// RateLimiter enforces api_limits: one token bucket (golang.org/x/time/rate)
// per tenant, limit scope and operation key. Buckets live in this replica's
// memory — the one piece of per-replica state; with N replicas a tenant can
// get up to N times its rate. Limits are cached per (tenant, namespace) for
// at most ttl; quota writes on this replica drop the tenant's cache at once.
type RateLimiter struct {
	svc *Service
	now func() time.Time
	ttl time.Duration

	mu      sync.Mutex
	limits  map[limitsKey]cachedLimits
	buckets map[bucketKey]*bucket
	calls   int
}

type limitsKey struct {
	tenant    uuid.UUID
	namespace string
}

type cachedLimits struct {
	eff     Effective
	fetched time.Time
}

type bucketKey struct {
	tenant uuid.UUID
	scope  string
	key    string
}

type bucket struct {
	lim      *rate.Limiter
	lastUsed time.Time
}

// sweepEvery is how many calls pass between sweeps of idle buckets.
const sweepEvery = 4096

func newRateLimiter(svc *Service, now func() time.Time, ttl time.Duration) *RateLimiter {
	return &RateLimiter{svc: svc, now: now, ttl: ttl, limits: map[limitsKey]cachedLimits{}, buckets: map[bucketKey]*bucket{}}
}

// Limiter returns the service's API rate limiter.
func (s *Service) Limiter() *RateLimiter { return s.limiter }

// invalidate drops the cached limits of a tenant (after a quota write here).
func (l *RateLimiter) invalidate(tenant uuid.UUID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.limits {
		if k.tenant == tenant {
			delete(l.limits, k)
		}
	}
}

func (l *RateLimiter) effective(ctx context.Context, tenant uuid.UUID, namespace string) (Effective, error) {
	key := limitsKey{tenant, namespace}
	now := l.now()
	l.mu.Lock()
	c, ok := l.limits[key]
	l.mu.Unlock()
	if ok && now.Sub(c.fetched) < l.ttl && !now.Before(c.fetched) {
		return c.eff, nil
	}
	eff, err := l.svc.EffectiveLimits(ctx, tenant, namespace)
	if err != nil {
		return Effective{}, err
	}
	l.mu.Lock()
	l.limits[key] = cachedLimits{eff: eff, fetched: now}
	l.mu.Unlock()
	return eff, nil
}

// perSecond converts "rate per unit" into the limiter's events per second.
func perSecond(r RateLimit) rate.Limit {
	return rate.Limit(float64(r.Rate) / r.Unit.Duration().Seconds())
}

// bucketFor returns the bucket of key: new buckets start full; when the
// limit changed, the bucket is rebuilt with the new rate and size and the
// requests already spent carried over (a raised limit helps at once, a
// lowered one cannot be dodged).
func (l *RateLimiter) bucketFor(k bucketKey, r RateLimit, now time.Time) *rate.Limiter {
	b, ok := l.buckets[k]
	limit, burst := perSecond(r), int(*r.Burst)
	switch {
	case !ok:
		b = &bucket{lim: rate.NewLimiter(limit, burst)}
		l.buckets[k] = b
	case b.lim.Limit() != limit || b.lim.Burst() != burst:
		spent := int(math.Ceil(float64(b.lim.Burst()) - b.lim.TokensAt(now)))
		b.lim = rate.NewLimiter(limit, burst)
		if spent = min(max(spent, 0), burst); spent > 0 {
			b.lim.ReserveN(now, spent)
		}
	}
	b.lastUsed = now
	return b.lim
}

// Allow takes one request from every bucket that applies to the operation
// (the tenant-wide one and the namespace's own), or none of them and
// answers a rate-limited fault with the time until the request fits.
func (l *RateLimiter) Allow(ctx context.Context, tenant uuid.UUID, namespace, operationID string) error {
	eff, err := l.effective(ctx, tenant, namespace)
	if err != nil {
		return err
	}
	key := l.svc.keys.Canonical(operationID)
	type take struct {
		bucket bucketKey
		limit  RateLimit
	}
	var takes []take
	if r, ok := eff.TenantAPIs[key]; ok {
		takes = append(takes, take{bucketKey{tenant, scopeTenant, key}, r})
	}
	if r, ok := eff.NamespaceAPIs[key]; ok {
		takes = append(takes, take{bucketKey{tenant, namespace, key}, r})
	}
	if len(takes) == 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	taken := make([]*rate.Reservation, 0, len(takes))
	for _, t := range takes {
		res := l.bucketFor(t.bucket, t.limit, now).ReserveN(now, 1)
		retry := t.limit.Unit.Duration()
		if res.OK() {
			if retry = res.DelayFrom(now); retry == 0 {
				taken = append(taken, res)
				continue
			}
			res.CancelAt(now)
		}
		for _, r := range taken {
			r.CancelAt(now)
		}
		return rateLimited(operationID, t.limit, retry)
	}
	return nil
}

func rateLimited(op string, r RateLimit, retry time.Duration) error {
	return &fault.Error{
		Kind:       fault.KindRateLimited,
		Message:    fmt.Sprintf("rate limit for %s exceeded (%d per %s, burst %d); retry in %s", op, r.Rate, r.Unit, *r.Burst, retry.Round(time.Second).String()),
		RetryAfter: retry,
	}
}

// taken is how many requests are currently taken from the bucket that
// holds key in the namespace (its own where it has one, else the
// tenant's); 0 when the bucket has not been used on this replica.
func (l *RateLimiter) taken(tenant uuid.UUID, namespace, key string, eff Effective) int64 {
	scope, r := scopeTenant, eff.TenantAPIs[key]
	if own, ok := eff.NamespaceAPIs[key]; ok {
		scope, r = namespace, own
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[bucketKey{tenant, scope, key}]
	if !ok || r.Burst == nil {
		return 0
	}
	used := float64(*r.Burst) - b.lim.TokensAt(l.now())
	if used < 0 {
		return 0
	}
	return int64(used + 0.5)
}

// sweep drops buckets idle long enough to have refilled completely.
func (l *RateLimiter) sweep(now time.Time) {
	l.calls++
	if l.calls%sweepEvery != 0 {
		return
	}
	for k, b := range l.buckets {
		if now.Sub(b.lastUsed) > 25*time.Hour {
			delete(l.buckets, k)
		}
	}
	for k, c := range l.limits {
		if now.Sub(c.fetched) > l.ttl {
			delete(l.limits, k)
		}
	}
}

// Size is how many limit sets are cached and how many buckets are kept on
// this replica (for tests and metrics).
func (l *RateLimiter) Size() (cachedLimits, buckets int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.limits), len(l.buckets)
}
