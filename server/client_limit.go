package server

import (
	"context"
	"hash/maphash"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/ratelimit"
)

// Public operations (the no-auth plan-transition status) are rate limited
// per client address, so ids cannot be tried at speed: by default
// defaultPublicRate requests a second with bursts of four times as many
// (Config.PublicRate). The address is the connection's peer, not a
// forwarded-for header a client could vary at will. With shared buckets
// (Redis) every replica takes from the same bucket per address; while
// Redis does not answer, and without it, each replica keeps its own.
const (
	defaultPublicRate = 5
	// publicIdle is how long an address's bucket is kept without requests.
	publicIdle = 10 * time.Minute
)

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

type clientShard struct {
	mu      sync.Mutex
	buckets map[string]*clientBucket
	sweeps  int
}

// clientLimiter holds a token bucket per client address, in shards.
type clientLimiter struct {
	rate   int
	now    clock.Clock
	shared *ratelimit.Shared
	seed   maphash.Seed
	shards [32]clientShard
}

func newClientLimiter(perSecond int, now clock.Clock, shared *ratelimit.Shared) *clientLimiter {
	if perSecond <= 0 {
		perSecond = defaultPublicRate
	}
	l := &clientLimiter{rate: perSecond, now: clock.Normalized(now), shared: shared, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = map[string]*clientBucket{}
	}
	return l
}

// allow takes a token for addr, or says how long until one is there.
func (l *clientLimiter) allow(ctx context.Context, addr string) (bool, time.Duration) {
	if l.shared != nil {
		b := [1]ratelimit.Bucket{{Key: "ip:" + addr, Limit: ratelimit.Limit{PerSecond: float64(l.rate), Burst: 4 * l.rate}}}
		refused, retry, err := l.shared.Take(ctx, b[:])
		if err == nil {
			return refused < 0, retry
		}
		// Redis did not answer: this replica's own bucket decides.
	}
	now := l.now()
	sh := &l.shards[maphash.String(l.seed, addr)%uint64(len(l.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.sweeps++; sh.sweeps%1024 == 0 {
		for k, b := range sh.buckets {
			if now.Sub(b.seen) > publicIdle {
				delete(sh.buckets, k)
			}
		}
	}
	b := sh.buckets[addr]
	if b == nil {
		b = &clientBucket{lim: rate.NewLimiter(rate.Limit(l.rate), 4*l.rate)}
		sh.buckets[addr] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limitByClient answers 429 with Retry-After when the client's address has
// used its bucket.
func limitByClient(l *clientLimiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			addr, _, err := net.SplitHostPort(c.Request().RemoteAddr)
			if err != nil {
				addr = c.Request().RemoteAddr
			}
			if ok, wait := l.allow(c.Request().Context(), addr); !ok {
				secs := int(wait/time.Second) + 1
				return &fault.Error{Kind: fault.KindRateLimited, RetryAfter: time.Duration(secs) * time.Second,
					Message: "too many requests from this address; retry in " + strconv.Itoa(secs) + "s"}
			}
			return next(c)
		}
	}
}
