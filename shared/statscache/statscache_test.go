package statscache

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newFake(ttl time.Duration, max int) (*Cache[int], *clock) {
	c := New[int](ttl, max)
	clk := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	c.now = clk.Now
	return c, clk
}

func counting(n *atomic.Int32, v int, err error) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		n.Add(1)
		return v, err
	}
}

func TestFreshWithinTTLThenFetchedAgain(t *testing.T) {
	c, clk := newFake(5*time.Second, 0)
	var calls atomic.Int32
	ctx := context.Background()

	r, err := c.Get(ctx, "k", counting(&calls, 7, nil))
	if err != nil || r.Value != 7 || r.Cached || r.Err != nil {
		t.Fatalf("first: %+v %v", r, err)
	}
	clk.Add(4 * time.Second)
	r, _ = c.Get(ctx, "k", counting(&calls, 8, nil))
	if r.Value != 7 || !r.Cached || calls.Load() != 1 {
		t.Fatalf("within TTL: %+v, %d calls", r, calls.Load())
	}
	if age := r.Age(clk.Now()); age != 4*time.Second {
		t.Fatalf("age %s", age)
	}
	clk.Add(time.Second) // exactly at expiry: stale
	r, _ = c.Get(ctx, "k", counting(&calls, 9, nil))
	if r.Value != 9 || r.Cached || calls.Load() != 2 {
		t.Fatalf("after TTL: %+v, %d calls", r, calls.Load())
	}
	// Other keys are separate.
	r, _ = c.Get(ctx, "other", counting(&calls, 1, nil))
	if r.Value != 1 || calls.Load() != 3 {
		t.Fatalf("other key: %+v", r)
	}
}

func TestFailuresAreCachedToo(t *testing.T) {
	c, clk := newFake(5*time.Second, 0)
	var calls atomic.Int32
	boom := errors.New("timed out")
	r, _ := c.Get(context.Background(), "k", counting(&calls, 0, boom))
	if !errors.Is(r.Err, boom) || r.Cached {
		t.Fatalf("%+v", r)
	}
	clk.Add(2 * time.Second)
	r, _ = c.Get(context.Background(), "k", counting(&calls, 1, nil))
	if !errors.Is(r.Err, boom) || !r.Cached || calls.Load() != 1 {
		t.Fatalf("cached failure: %+v, %d calls", r, calls.Load())
	}
}

func TestDisabledFetchesEveryTimeUnderTheCallersContext(t *testing.T) {
	for _, c := range []*Cache[int]{New[int](0, 0), nil} {
		var calls atomic.Int32
		type key struct{}
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
		for range 3 {
			r, err := c.Get(ctx, "k", func(ctx context.Context) (int, error) {
				calls.Add(1)
				if ctx.Value(key{}) != "v" || ctx.Done() == nil {
					t.Error("fetch did not get the caller's context")
				}
				return 1, nil
			})
			if err != nil || r.Cached || r.Value != 1 {
				t.Fatalf("%+v %v", r, err)
			}
		}
		cancel()
		if calls.Load() != 3 || c.Len() != 0 {
			t.Fatalf("%d calls, %d entries", calls.Load(), c.Len())
		}
	}
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	c := New[int](time.Minute, 0)
	var calls atomic.Int32
	release := make(chan struct{})
	fetch := func(context.Context) (int, error) {
		calls.Add(1)
		<-release
		return 42, nil
	}
	const n = 50
	var wg sync.WaitGroup
	results := make([]Result[int], n)
	started := make(chan struct{}, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			results[i], _ = c.Get(context.Background(), "k", fetch)
		}()
	}
	for range n {
		<-started
	}
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("%d fetches, want 1", calls.Load())
	}
	for i, r := range results {
		if r.Value != 42 || r.Err != nil {
			t.Fatalf("caller %d: %+v", i, r)
		}
	}
}

// A caller that gives up leaves at once; the fetch runs on, detached, under
// its own bound, stores its result for the next caller, and no goroutine
// outlives it.
func TestCallerGivingUpDoesNotLeakOrCancelTheFetch(t *testing.T) {
	before := runtime.NumGoroutine()
	c := New[int](time.Minute, 0)
	var calls atomic.Int32
	release := make(chan struct{})
	fetchDone := make(chan error, 1)
	type key struct{}
	fetch := func(ctx context.Context) (int, error) {
		calls.Add(1)
		if ctx.Value(key{}) != "kept" {
			t.Error("the fetch lost the caller's values")
		}
		<-release
		fetchDone <- ctx.Err()
		return 5, nil
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "kept"))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, "k", fetch)
		errc <- err
	}()
	for calls.Load() == 0 {
		runtime.Gosched()
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get after cancel: %v", err)
	}
	close(release)
	if err := <-fetchDone; err != nil {
		t.Fatalf("the fetch was canceled with its caller: %v", err)
	}
	// The stored result serves the next caller without a fetch.
	deadline := time.Now().Add(5 * time.Second)
	for c.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	r, err := c.Get(context.Background(), "k", fetch)
	if err != nil || r.Value != 5 || !r.Cached || calls.Load() != 1 {
		t.Fatalf("%+v %v, %d calls", r, err, calls.Load())
	}
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines, %d before", n, before)
	}
}

func TestBoundedSize(t *testing.T) {
	c, clk := newFake(time.Minute, 3)
	ctx := context.Background()
	for i := range 10 {
		clk.Add(time.Second)
		_, _ = c.Get(ctx, fmt.Sprint(i), func(context.Context) (int, error) { return i, nil })
		if c.Len() > 3 {
			t.Fatalf("%d entries after %d keys", c.Len(), i+1)
		}
	}
	// The oldest went first: the last three are still cached.
	for i := 7; i < 10; i++ {
		r, _ := c.Get(ctx, fmt.Sprint(i), func(context.Context) (int, error) { return -1, nil })
		if !r.Cached || r.Value != i {
			t.Fatalf("key %d: %+v", i, r)
		}
	}
	// Expired entries are dropped when something new is stored.
	clk.Add(2 * time.Minute)
	_, _ = c.Get(ctx, "new", func(context.Context) (int, error) { return 0, nil })
	if c.Len() != 1 {
		t.Fatalf("%d entries after expiry", c.Len())
	}
}

func TestPanickingFetchIsAnErrorAndNotCached(t *testing.T) {
	c := New[int](time.Minute, 0)
	r, err := c.Get(context.Background(), "k", func(context.Context) (int, error) { panic("bug") })
	if err != nil || r.Err == nil {
		t.Fatalf("%+v %v", r, err)
	}
	r, _ = c.Get(context.Background(), "k", func(context.Context) (int, error) { return 3, nil })
	if r.Cached || r.Value != 3 {
		t.Fatalf("panic was cached: %+v", r)
	}
}
