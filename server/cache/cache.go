// Package cache is the short-lived read-through cache of the request path:
// tokens, namespaces, tenants' plans, limit overrides, effective limits,
// usage query results and the keys that sign breakdown queries.
// Entries live for at most a TTL (one second), counted from when their load
// began, so a change committed anywhere is seen by every replica within the
// TTL; the replica that made a change drops the affected entries at once.
// Concurrent misses of one key make one load (singleflight), and a load that
// began before an invalidation never puts its older value back.
package cache

import (
	"context"
	"hash/maphash"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"billing-api/server/clock"
)

const shardCount = 32

// sweepEvery is how many stores into a shard pass between sweeps of its
// expired entries.
const sweepEvery = 256

// Cache maps keys to values loaded on a miss.
type Cache[K comparable, V any] struct {
	ttl    time.Duration
	now    clock.Clock
	name   func(K) string
	seed   maphash.Seed
	shards [shardCount]shard[K, V]
	flight singleflight.Group
}

type shard[K comparable, V any] struct {
	mu sync.Mutex
	// gen counts invalidations: a load stores its value only if no
	// invalidation happened in the shard since it began.
	gen     uint64
	stores  int
	entries map[K]entry[V]
}

type entry[V any] struct {
	value   V
	expires time.Time
}

// New returns a cache whose entries live for ttl on the clock now; name
// renders a key as a string (for the singleflight key).
func New[K comparable, V any](ttl time.Duration, now clock.Clock, name func(K) string) *Cache[K, V] {
	c := &Cache[K, V]{ttl: ttl, now: clock.Normalized(now), name: name, seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].entries = map[K]entry[V]{}
	}
	return c
}

func (c *Cache[K, V]) shard(name string) *shard[K, V] {
	return &c.shards[maphash.String(c.seed, name)%shardCount]
}

// Get returns the value of k: a live entry, or what load returns (errors
// are not cached). Inside a transaction (see Fresh) it always loads.
func (c *Cache[K, V]) Get(ctx context.Context, k K, load func(ctx context.Context) (V, error)) (V, error) {
	if isFresh(ctx) {
		return load(ctx)
	}
	name := c.name(k)
	sh := c.shard(name)
	now := c.now()
	sh.mu.Lock()
	if e, ok := sh.entries[k]; ok && now.Before(e.expires) {
		sh.mu.Unlock()
		return e.value, nil
	}
	gen := sh.gen
	sh.mu.Unlock()
	// Callers that miss after an invalidation start a new load instead of
	// joining one that began before it.
	v, err, _ := c.flight.Do(name+"\x00"+strconv.FormatUint(gen, 10), func() (any, error) {
		began := c.now()
		// One caller's cancellation must not fail the others sharing the load.
		v, err := load(context.WithoutCancel(ctx))
		if err != nil {
			return v, err
		}
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if sh.gen == gen {
			sh.entries[k] = entry[V]{value: v, expires: began.Add(c.ttl)}
			if sh.stores++; sh.stores%sweepEvery == 0 {
				sh.sweep(began)
			}
		}
		return v, nil
	})
	if err != nil {
		var zero V
		return zero, err
	}
	return v.(V), nil
}

// Invalidate drops k's entry and any load of it in flight.
func (c *Cache[K, V]) Invalidate(k K) {
	sh := c.shard(c.name(k))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.entries, k)
	sh.gen++
}

// InvalidateWhere drops every entry that match reports, and every load in
// flight.
func (c *Cache[K, V]) InvalidateWhere(match func(K, V) bool) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, e := range sh.entries {
			if match(k, e.value) {
				delete(sh.entries, k)
			}
		}
		sh.gen++
		sh.mu.Unlock()
	}
}

// Len is the number of entries held, live or expired (for tests and
// metrics).
func (c *Cache[K, V]) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.entries)
		sh.mu.Unlock()
	}
	return n
}

func (sh *shard[K, V]) sweep(now time.Time) {
	for k, e := range sh.entries {
		if !now.Before(e.expires) {
			delete(sh.entries, k)
		}
	}
}

type freshKey struct{}

// Fresh marks ctx so that every cache read through it loads from the
// store: the store marks its transactions, whose reads must see the
// database as the transaction does, and whose results must not be kept.
func Fresh(ctx context.Context) context.Context { return context.WithValue(ctx, freshKey{}, true) }

func isFresh(ctx context.Context) bool { return ctx.Value(freshKey{}) != nil }
