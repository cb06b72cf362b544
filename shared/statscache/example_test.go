package statscache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pvetenant/backend/shared/statscache"
)

// Many dashboards refreshing at once cost one call per server: concurrent
// misses of a key share one fetch, and its result (value or error) is kept
// for the TTL.
func ExampleCache_Get() {
	cache := statscache.New[int](5*time.Second, 0)
	var mu sync.Mutex
	calls := 0
	fetch := func(ctx context.Context) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return 42, nil // e.g. a server's /cluster/resources
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = cache.Get(context.Background(), "server-1", fetch)
		}()
	}
	wg.Wait()
	r, _ := cache.Get(context.Background(), "server-1", fetch)
	fmt.Println(r.Value, r.Cached, calls)
	// Output: 42 true 1
}

// A failure is cached too, so a hanging or broken server is not asked again
// by every refresh while the TTL runs.
func ExampleCache_Get_failure() {
	cache := statscache.New[string](5*time.Second, 0)
	calls := 0
	fetch := func(ctx context.Context) (string, error) {
		calls++
		return "", errors.New("connection refused")
	}
	for range 3 {
		r, _ := cache.Get(context.Background(), "server-2", fetch)
		fmt.Println(r.Err, r.Cached)
	}
	fmt.Println("calls:", calls)
	// Output:
	// connection refused false
	// connection refused true
	// connection refused true
	// calls: 1
}
