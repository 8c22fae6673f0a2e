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
	"billing-api/server/ratelimit"
)

// scopeTenant marks a tenant-wide bucket; a namespace name marks that
// namespace's own.
const scopeTenant = ""

// bucketShards spreads the buckets over independently locked maps, so
// requests of different tenants do not queue on one mutex.
const bucketShards = 64

// RateLimiter enforces api_limits: one token bucket per tenant, limit scope
// and operation key, read against the service's cached effective limits.
// With shared buckets (Redis) every replica takes from the same ones;
// without them, or while Redis does not answer, the buckets live in this
// replica's memory (golang.org/x/time/rate, safe for concurrent use), and
// with N replicas a tenant can get up to N times its rate. Both kinds have
// the same rate and burst and start full.
type RateLimiter struct {
	svc    *Service
	now    func() time.Time
	shared *ratelimit.Shared
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

func newRateLimiter(svc *Service, now func() time.Time, shared *ratelimit.Shared) *RateLimiter {
	l := &RateLimiter{svc: svc, now: now, shared: shared, seed: maphash.MakeSeed()}
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

// sharedBucket is k's bucket among the shared ones, with the same rate and
// burst as the local one. The tenant in braces is a Redis Cluster hash tag:
// the buckets one request takes from live on one node.
func sharedBucket(k bucketKey, r RateLimit) ratelimit.Bucket {
	scope := k.scope
	if scope == scopeTenant {
		scope = "*" // not a namespace name
	}
	return ratelimit.Bucket{
		Key:   "t:{" + k.tenant.String() + "}:" + scope + ":" + k.key,
		Limit: ratelimit.Limit{PerSecond: float64(perSecond(r)), Burst: int(*r.Burst)},
	}
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
	if n == 0 {
		return nil
	}
	if l.shared != nil {
		var buckets [2]ratelimit.Bucket
		for i, t := range takes[:n] {
			buckets[i] = sharedBucket(t.bucket, t.limit)
		}
		refused, retry, err := l.shared.Take(ctx, buckets[:n])
		if err == nil {
			if refused < 0 {
				return nil
			}
			return rateLimited(operationID, takes[refused].limit, retry)
		}
		// Redis did not answer: this replica's own buckets decide.
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

// taken is, per API limit of the namespace, how many requests are
// currently taken from the bucket that holds it (the namespace's own where
// it has one, else the tenant's): from the shared buckets when Redis
// answers, else from this replica's (0 for a bucket not used here).
func (l *RateLimiter) taken(ctx context.Context, tenant uuid.UUID, namespace string, eff Effective) map[string]int64 {
	out := make(map[string]int64, len(eff.APIs))
	keys := make([]string, 0, len(eff.APIs))
	buckets := make([]bucketKey, 0, len(eff.APIs))
	limits := make([]RateLimit, 0, len(eff.APIs))
	for key := range eff.APIs {
		scope, r := scopeTenant, eff.TenantAPIs[key]
		if own, ok := eff.NamespaceAPIs[key]; ok {
			scope, r = namespace, own
		}
		if r.Burst == nil {
			out[key] = 0
			continue
		}
		keys = append(keys, key)
		buckets = append(buckets, bucketKey{tenant, scope, key})
		limits = append(limits, r)
	}
	if l.shared != nil && len(buckets) > 0 {
		shared := make([]ratelimit.Bucket, len(buckets))
		for i := range buckets {
			shared[i] = sharedBucket(buckets[i], limits[i])
		}
		if n, err := l.shared.Taken(ctx, shared); err == nil {
			for i, key := range keys {
				out[key] = n[i]
			}
			return out
		}
	}
	now := l.now()
	for i, key := range keys {
		out[key] = l.localTaken(buckets[i], limits[i], now)
	}
	return out
}

func (l *RateLimiter) localTaken(k bucketKey, r RateLimit, now time.Time) int64 {
	sh := l.shard(k)
	sh.mu.Lock()
	b, ok := sh.buckets[k]
	sh.mu.Unlock()
	if !ok {
		return 0
	}
	used := float64(*r.Burst) - b.lim.TokensAt(now)
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
