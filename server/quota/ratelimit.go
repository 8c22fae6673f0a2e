package quota

import (
	"context"
	"fmt"
	"hash/maphash"
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

// bucketShards spreads the buckets over independently locked maps, so
// requests of different tenants do not queue on one mutex.
const bucketShards = 64

// RateLimiter enforces api_limits: one token bucket (golang.org/x/time/rate,
// safe for concurrent use) per tenant, limit scope and operation key, read
// against the service's cached effective limits. Buckets live in this
// replica's memory — the one piece of per-replica state; with N replicas a
// tenant can get up to N times its rate.
type RateLimiter struct {
	svc    *Service
	now    func() time.Time
	seed   maphash.Seed
	shards [bucketShards]bucketShard
}

type bucketShard struct {
	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	calls   int
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

// sweepEvery is how many calls into a shard pass between sweeps of its idle
// buckets.
const sweepEvery = 4096

func newRateLimiter(svc *Service, now func() time.Time) *RateLimiter {
	l := &RateLimiter{svc: svc, now: now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = map[bucketKey]*bucket{}
	}
	return l
}

// Limiter returns the service's API rate limiter.
func (s *Service) Limiter() *RateLimiter { return s.limiter }

func (l *RateLimiter) shard(k bucketKey) *bucketShard {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.Write(k.tenant[:])
	h.WriteString(k.scope)
	h.WriteByte(0)
	h.WriteString(k.key)
	return &l.shards[h.Sum64()%bucketShards]
}

// perSecond converts "rate per unit" into the limiter's events per second.
func perSecond(r RateLimit) rate.Limit {
	return rate.Limit(float64(r.Rate) / r.Unit.Duration().Seconds())
}

// bucketFor returns the bucket of k: new buckets start full; when the limit
// changed, the bucket is rebuilt with the new rate and size and the
// requests already spent carried over (a raised limit helps at once, a
// lowered one cannot be dodged).
func (l *RateLimiter) bucketFor(k bucketKey, r RateLimit, now time.Time) *rate.Limiter {
	sh := l.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.calls++; sh.calls%sweepEvery == 0 {
		sh.sweep(now)
	}
	b, ok := sh.buckets[k]
	limit, burst := perSecond(r), int(*r.Burst)
	switch {
	case !ok:
		b = &bucket{lim: rate.NewLimiter(limit, burst)}
		sh.buckets[k] = b
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
	eff, err := l.svc.EffectiveLimits(ctx, tenant, namespace)
	if err != nil {
		return err
	}
	key := l.svc.keys.Canonical(operationID)
	type take struct {
		bucket bucketKey
		limit  RateLimit
	}
	var takes [2]take
	n := 0
	if r, ok := eff.TenantAPIs[key]; ok {
		takes[n] = take{bucketKey{tenant, scopeTenant, key}, r}
		n++
	}
	if r, ok := eff.NamespaceAPIs[key]; ok {
		takes[n] = take{bucketKey{tenant, namespace, key}, r}
		n++
	}
	now := l.now()
	var taken [2]*rate.Reservation
	for i, t := range takes[:n] {
		res := l.bucketFor(t.bucket, t.limit, now).ReserveN(now, 1)
		retry := t.limit.Unit.Duration()
		if res.OK() {
			if retry = res.DelayFrom(now); retry == 0 {
				taken[i] = res
				continue
			}
			res.CancelAt(now)
		}
		for _, r := range taken[:i] {
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
	k := bucketKey{tenant, scope, key}
	sh := l.shard(k)
	sh.mu.Lock()
	b, ok := sh.buckets[k]
	sh.mu.Unlock()
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
func (sh *bucketShard) sweep(now time.Time) {
	for k, b := range sh.buckets {
		if now.Sub(b.lastUsed) > 25*time.Hour {
			delete(sh.buckets, k)
		}
	}
}

// Size is how many limit sets are cached and how many buckets are kept on
// this replica (for tests and metrics).
func (l *RateLimiter) Size() (cachedLimits, buckets int) {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		buckets += len(sh.buckets)
		sh.mu.Unlock()
	}
	return l.svc.effective.Len(), buckets
}
