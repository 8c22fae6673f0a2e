// Package ratelimit keeps token buckets that every replica shares, in Redis.
//
// Each bucket is a generic cell rate algorithm (GCRA) cell: Redis stores the
// bucket's theoretical arrival time, and one Lua script — one round trip —
// checks and takes from every bucket a request needs, atomically, on
// Redis's clock. The script is this package's own rather than
// github.com/go-redis/redis_rate's: a request may need two buckets (a
// tenant's and a namespace's) and must take from both or from neither,
// which redis_rate's one key per call cannot do in one round trip; and a
// changed limit must carry the requests already spent over at the new rate,
// as the per-replica buckets do, where redis_rate's stored time would be
// read at the new rate instead.
//
// When Redis does not answer within the timeout, Shared says so
// (ErrUnavailable) and the callers use their own per-replica buckets for
// that check. A few consecutive failures make an outage: it is logged once
// when it begins and once when it ends, and while it lasts only one call a
// probe interval tries Redis, the others use the local buckets at once.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds one check: a loopback or same-zone Redis answers
	// in well under a millisecond, so 20 ms is only reached when it is in
	// trouble, and it is what a request pays at most before falling back.
	DefaultTimeout = 20 * time.Millisecond
	// DefaultProbeEvery is how often a replica tries Redis while it is down.
	DefaultProbeEvery = time.Second
	// DefaultPrefix starts every key this package writes.
	DefaultPrefix = "billing-api:rl:"
	// outageAfter consecutive failed checks make an outage. A single late
	// answer is usually this process or Redis waiting for a CPU under load:
	// that check alone uses the local buckets. A Redis that is down or slow
	// fails every check, so the outage begins within a few of them.
	outageAfter = 3
)

// ErrUnavailable means Redis could not be used for this check: the caller
// decides with its own buckets.
var ErrUnavailable = errors.New("ratelimit: the shared buckets are unavailable")

// Config configures Shared.
type Config struct {
	// URL is the Redis URL (redis://[user:password@]host:port/db or
	// rediss://...).
	URL string
	// Prefix starts every key; "" means DefaultPrefix.
	Prefix string
	// Timeout bounds every check; 0 means DefaultTimeout.
	Timeout time.Duration
	// ProbeEvery is how often Redis is tried while it is down; 0 means
	// DefaultProbeEvery.
	ProbeEvery time.Duration
	Logger     *slog.Logger
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("ratelimit: URL is required")
	}
	if c.Timeout < 0 || c.ProbeEvery < 0 {
		return errors.New("ratelimit: Timeout and ProbeEvery must not be negative")
	}
	return nil
}

// Limit is a bucket's size and refill rate.
type Limit struct {
	PerSecond float64
	Burst     int
}

// interval is the time one request's token takes to refill, in
// microseconds, as the text the script stores and compares.
func (l Limit) interval() string {
	return strconv.FormatFloat(1e6/l.PerSecond, 'g', -1, 64)
}

// Bucket names a bucket (without the prefix) and its limit.
type Bucket struct {
	Key   string
	Limit Limit
}

// Shared is the set of buckets in one Redis, safe for concurrent use.
type Shared struct {
	client     *redis.Client
	prefix     string
	timeout    time.Duration
	probeEvery time.Duration
	log        *slog.Logger

	up        atomic.Bool
	failures  atomic.Int32 // consecutive, while up
	probing   atomic.Bool
	nextProbe atomic.Int64 // unix nanoseconds
	downSince atomic.Int64 // unix nanoseconds
	fallbacks atomic.Uint64
	// fallbacksAtDown is fallbacks when the outage began, for its log line.
	fallbacksAtDown atomic.Uint64
}

// Open connects to Redis. An unreachable Redis is not an error: the
// buckets start as unavailable and are tried every ProbeEvery; a URL that
// does not parse is.
func Open(ctx context.Context, cfg Config) (*Shared, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	s := &Shared{prefix: cfg.Prefix, timeout: cfg.Timeout, probeEvery: cfg.ProbeEvery, log: cfg.Logger}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.probeEvery == 0 {
		s.probeEvery = DefaultProbeEvery
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	// Every wait is bounded by the check's timeout: no retries (the
	// caller's own buckets are the fallback), one dial attempt, and the
	// context's deadline on the socket.
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.DialTimeout = s.timeout
	opt.ReadTimeout = s.timeout
	opt.WriteTimeout = s.timeout
	opt.PoolTimeout = s.timeout
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	redis.SetLogger(clientLog{s.log})
	s.client = redis.NewClient(opt)

	// Loading the scripts is the first check: it tells whether Redis is
	// there, and later checks need no second round trip for NOSCRIPT.
	pctx, cancel := context.WithTimeout(ctx, max(s.timeout, time.Second))
	defer cancel()
	err = errors.Join(takeScript.Load(pctx, s.client).Err(), peekScript.Load(pctx, s.client).Err())
	now := time.Now()
	if err != nil {
		s.downSince.Store(now.UnixNano())
		s.nextProbe.Store(now.Add(s.probeEvery).UnixNano())
		s.log.Warn("Redis does not answer: rate limits use this replica's own buckets until it does",
			"redis", opt.Addr, "error", err.Error())
		return s, nil
	}
	s.up.Store(true)
	s.log.Info("rate limits are shared through Redis", "redis", opt.Addr, "db", opt.DB, "key_prefix", s.prefix, "timeout", s.timeout.String())
	return s, nil
}

// Close closes the connections to Redis.
func (s *Shared) Close() error { return s.client.Close() }

// Up is whether the last attempt to use Redis succeeded.
func (s *Shared) Up() bool { return s.up.Load() }

// FallbackChecks counts the checks Redis did not answer, which the callers
// decided with their own buckets.
func (s *Shared) FallbackChecks() uint64 { return s.fallbacks.Load() }

// Prefix is what starts every key.
func (s *Shared) Prefix() string { return s.prefix }

// takeScript takes one request from every bucket in KEYS, or from none.
// ARGV holds, per bucket, the interval in which one request refills
// (microseconds, as text) and the burst. A bucket is a hash: t is its
// theoretical arrival time (microseconds on Redis's clock: the bucket is
// full from then on), e the interval t was counted in. It answers
// {0, 0} when taken, else {i, wait}: bucket i (from 1) refused, and in wait
// microseconds one request fits.
var takeScript = redis.NewScript(`
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tats = {}
for i = 1, #KEYS do
  local interval_text = ARGV[2 * i - 1]
  local interval = tonumber(interval_text)
  local burst = tonumber(ARGV[2 * i])
  local stored = redis.call('HMGET', KEYS[i], 't', 'e')
  local tat = now
  if stored[1] then
    tat = tonumber(stored[1])
    if stored[2] ~= interval_text then
      -- The limit changed: the requests already spent stay spent, at the
      -- new rate and at most the new burst.
      local spent = 0
      local old = tonumber(stored[2])
      if tat > now and old and old > 0 then
        spent = math.ceil((tat - now) / old - 1e-9)
      end
      if spent > burst then
        spent = burst
      end
      tat = now + spent * interval
    end
  end
  if tat < now then
    tat = now
  end
  local next_tat = tat + interval
  -- Half a microsecond absorbs the floating point of fractional intervals.
  local over = next_tat - now - burst * interval
  if over > 0.5 then
    return {i, math.ceil(over)}
  end
  tats[i] = next_tat
end
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 't', tats[i], 'e', ARGV[2 * i - 1])
  -- Once refilled the bucket is as good as new: let Redis drop it.
  redis.call('PEXPIRE', KEYS[i], math.ceil((tats[i] - now) / 1000) + 1000)
end
return {0, 0}
`)

// peekScript answers, per bucket in KEYS, how many requests are taken
// from it now (as text: a fraction), without taking any.
var peekScript = redis.NewScript(`
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local out = {}
for i = 1, #KEYS do
  local stored = redis.call('HMGET', KEYS[i], 't', 'e')
  local used = 0
  if stored[1] and stored[2] then
    local tat = tonumber(stored[1])
    local interval = tonumber(stored[2])
    if tat > now and interval > 0 then
      used = (tat - now) / interval
    end
  end
  out[i] = tostring(used)
end
return out
`)

// Take takes one request from every bucket, or from none of them. It
// answers the index of the bucket that refused (-1 when taken) and how
// long until the request fits there; ErrUnavailable when Redis could not
// answer.
func (s *Shared) Take(ctx context.Context, buckets []Bucket) (refused int, retry time.Duration, err error) {
	keys := make([]string, len(buckets))
	args := make([]any, 0, 2*len(buckets))
	for i, b := range buckets {
		keys[i] = s.prefix + b.Key
		args = append(args, b.Limit.interval(), b.Limit.Burst)
	}
	var answer []int64
	err = s.do(ctx, func(ctx context.Context) error {
		var err error
		answer, err = takeScript.Run(ctx, s.client, keys, args...).Int64Slice()
		return err
	})
	if err != nil {
		return -1, 0, err
	}
	if len(answer) != 2 || answer[0] < 0 || answer[0] > int64(len(buckets)) {
		return -1, 0, fmt.Errorf("%w: unexpected answer %v", ErrUnavailable, answer)
	}
	if answer[0] == 0 {
		return -1, 0, nil
	}
	return int(answer[0]) - 1, time.Duration(answer[1]) * time.Microsecond, nil
}

// Taken answers how many requests are taken from each bucket (rounded, at
// most its burst), without taking any.
func (s *Shared) Taken(ctx context.Context, buckets []Bucket) ([]int64, error) {
	keys := make([]string, len(buckets))
	for i, b := range buckets {
		keys[i] = s.prefix + b.Key
	}
	var answer []string
	err := s.do(ctx, func(ctx context.Context) error {
		var err error
		answer, err = peekScript.Run(ctx, s.client, keys).StringSlice()
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(answer) != len(buckets) {
		return nil, fmt.Errorf("%w: unexpected answer %v", ErrUnavailable, answer)
	}
	out := make([]int64, len(buckets))
	for i, a := range answer {
		used, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: unexpected answer %q", ErrUnavailable, a)
		}
		out[i] = min(int64(math.Round(max(used, 0))), int64(buckets[i].Limit.Burst))
	}
	return out, nil
}

// do runs f against Redis within the timeout. outageAfter consecutive
// failures begin an outage; while it lasts do runs f only as the probe
// (one caller a ProbeEvery) and answers ErrUnavailable at once otherwise;
// only a probe ends it, so a slow Redis that answers some calls in time
// does not flap.
func (s *Shared) do(ctx context.Context, f func(context.Context) error) error {
	probe := false
	if !s.up.Load() {
		if time.Now().UnixNano() < s.nextProbe.Load() || !s.probing.CompareAndSwap(false, true) {
			s.fallbacks.Add(1)
			return ErrUnavailable
		}
		probe = true
		defer s.probing.Store(false)
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	err := f(cctx)
	cancel()
	if err == nil {
		s.failures.Store(0)
		if probe {
			s.recovered()
		}
		return nil
	}
	s.fallbacks.Add(1)
	if ctx.Err() != nil {
		// The caller gave up, not Redis.
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	if probe || s.failures.Add(1) >= outageAfter {
		s.failed(err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// clientLog sends go-redis's own messages (a dial that failed, say) to the
// service's log at debug level: during an outage each probe would repeat
// one, and the outage is logged once by Shared.
type clientLog struct{ log *slog.Logger }

func (l clientLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

func (s *Shared) failed(err error) {
	now := time.Now()
	s.nextProbe.Store(now.Add(s.probeEvery).UnixNano())
	if s.up.CompareAndSwap(true, false) {
		s.downSince.Store(now.UnixNano())
		s.fallbacksAtDown.Store(s.fallbacks.Load() - outageAfter)
		s.log.Warn("Redis does not answer: rate limits use this replica's own buckets until it does",
			"error", err.Error(), "timeout", s.timeout.String())
	}
}

func (s *Shared) recovered() {
	if s.up.CompareAndSwap(false, true) {
		s.failures.Store(0)
		down := time.Since(time.Unix(0, s.downSince.Load()))
		s.log.Info("Redis answers again: rate limits are shared again",
			"outage", down.Round(time.Millisecond).String(),
			"fallback_checks", s.fallbacks.Load()-s.fallbacksAtDown.Load())
	}
}
