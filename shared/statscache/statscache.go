// Package statscache remembers, for a short TTL, what fetching a key gave
// (a value or an error) and lets concurrent misses of one key share a single
// fetch. It exists so that a burst of dashboard refreshes costs one Proxmox
// call per server, and so that a hanging server is not asked again by every
// refresh while it hangs.
//
// It starts no goroutine of its own: expired entries are dropped lazily, and
// the only goroutine it creates is the one running a shared fetch, which ends
// when the fetch does (the fetch must bound itself, e.g. with the per-server
// timeout). A caller that gives up waiting leaves at once; the fetch finishes
// for whoever else waits and for the next caller.
package statscache

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultMax bounds the number of entries when New is given max <= 0.
const DefaultMax = 1024

// Result is the outcome of one fetch.
type Result[V any] struct {
	Value   V
	Err     error         // the fetch's error; failures are cached like values
	Fetched time.Time     // when the fetch finished
	Took    time.Duration // how long the fetch took
	// Cached is true when the result was stored by an earlier fetch rather
	// than fetched for this call (alone or shared with concurrent callers).
	Cached bool
}

// Age is how old the result is at now.
func (r Result[V]) Age(now time.Time) time.Duration { return now.Sub(r.Fetched) }

type entry[V any] struct {
	r       Result[V]
	expires time.Time
}

// Cache is safe for concurrent use. The zero value is not usable; use New.
// A nil *Cache, or one with a TTL <= 0, caches nothing and shares nothing:
// every Get fetches under the caller's context.
type Cache[V any] struct {
	ttl    time.Duration
	max    int
	now    func() time.Time
	flight singleflight.Group

	mu        sync.Mutex
	m         map[string]*entry[V]
	lastSweep time.Time
}

// New returns a cache keeping results for ttl, at most max of them (DefaultMax
// when max <= 0). ttl <= 0 disables it.
func New[V any](ttl time.Duration, max int) *Cache[V] {
	if max <= 0 {
		max = DefaultMax
	}
	return &Cache[V]{ttl: ttl, max: max, now: time.Now, m: map[string]*entry[V]{}}
}

// TTL returns how long results are kept (0: disabled).
func (c *Cache[V]) TTL() time.Duration {
	if c == nil || c.ttl < 0 {
		return 0
	}
	return c.ttl
}

// Len returns the number of entries held, expired ones not yet dropped included.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Get returns key's result: from the cache while fresh, otherwise from fetch,
// run once for every concurrent caller of the same key. A shared fetch runs
// detached from ctx (context.WithoutCancel keeps its values, drops its
// cancellation and deadline), so one caller leaving does not fail the others;
// fetch must therefore bound its own duration. Get returns ctx's error when
// ctx ends before the result is there; the fetch goes on and stores its result.
func (c *Cache[V]) Get(ctx context.Context, key string, fetch func(context.Context) (V, error)) (Result[V], error) {
	return c.GetResult(ctx, key, func(ctx context.Context) Result[V] { return run(ctx, c.clock(), fetch) })
}

// GetResult is Get for a fetch that knows better when its value was read
// (Fetched) and how long that took (Took), e.g. one taken from a shared
// store where another process read it earlier. The result is kept until
// Fetched + TTL, so a second-level cache never makes an answer live longer.
func (c *Cache[V]) GetResult(ctx context.Context, key string, fetch func(context.Context) Result[V]) (Result[V], error) {
	if c.TTL() == 0 {
		return guard(ctx, fetch), nil
	}
	if r, ok := c.lookup(key); ok {
		return r, nil
	}
	ch := c.flight.DoChan(key, func() (any, error) {
		// A fetch that ended between our lookup and joining the flight has
		// already stored a fresh result: use it instead of fetching again.
		if r, ok := c.lookup(key); ok {
			return r, nil
		}
		r := guard(context.WithoutCancel(ctx), fetch)
		if _, panicked := r.Err.(*panicError); !panicked {
			c.store(key, r)
		}
		return r, nil
	})
	select {
	case res := <-ch: // buffered by singleflight: nobody blocks if we left
		return res.Val.(Result[V]), nil
	case <-ctx.Done():
		return Result[V]{}, ctx.Err()
	}
}

func (c *Cache[V]) clock() func() time.Time {
	if c == nil || c.now == nil {
		return time.Now
	}
	return c.now
}

// panicError is a fetch that panicked: reported to the callers, never cached,
// and never re-panicked (singleflight would crash the process with it).
type panicError struct{ v any }

func (e *panicError) Error() string { return fmt.Sprintf("statscache: fetch panicked: %v", e.v) }

func run[V any](ctx context.Context, now func() time.Time, fetch func(context.Context) (V, error)) (r Result[V]) {
	start := now()
	defer func() {
		if p := recover(); p != nil {
			var zero V
			r = Result[V]{Value: zero, Err: &panicError{p}}
		}
		r.Fetched = now()
		r.Took = r.Fetched.Sub(start)
	}()
	r.Value, r.Err = fetch(ctx)
	return r
}

// guard runs a result-returning fetch, turning a panic into a result.
func guard[V any](ctx context.Context, fetch func(context.Context) Result[V]) (r Result[V]) {
	defer func() {
		if p := recover(); p != nil {
			r = Result[V]{Err: &panicError{p}, Fetched: time.Now()}
		}
	}()
	return fetch(ctx)
}

func (c *Cache[V]) lookup(key string) (Result[V], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return Result[V]{}, false
	}
	if !c.now().Before(e.expires) {
		delete(c.m, key)
		return Result[V]{}, false
	}
	r := e.r
	r.Cached = true
	return r, true
}

func (c *Cache[V]) store(key string, r Result[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	// Drop expired entries at most once per TTL (or when full), so memory
	// follows the servers asked about recently without a janitor goroutine.
	if now.Sub(c.lastSweep) >= c.ttl || len(c.m) >= c.max {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		c.lastSweep = now
	}
	if _, exists := c.m[key]; !exists && len(c.m) >= c.max {
		var oldest string
		for k, e := range c.m {
			if oldest == "" || e.expires.Before(c.m[oldest].expires) {
				oldest = k
			}
		}
		delete(c.m, oldest)
	}
	c.m[key] = &entry[V]{r: r, expires: r.Fetched.Add(c.ttl)}
}
