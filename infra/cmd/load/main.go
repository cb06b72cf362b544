// Command load drives mixed traffic over the four functions from concurrent
// clients against the local stack (brought up in-process in a temporary
// folder: its own PostgreSQL, the simulators, the functions on loopback),
// then reports latency percentiles per request kind, the answers the input
// did not earn, and memory.
//
//	go run ./infra/cmd/load -duration 30s -clients 16
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/stack"
)

type kind struct {
	name   string
	weight int
	user   string
	body   func(st *stack.Stack, r *rand.Rand) map[string]any
	fn     string
	earned map[int]bool // statuses this request can rightly get
}

func main() {
	duration := flag.Duration("duration", 30*time.Second, "how long to send traffic")
	clients := flag.Int("clients", 16, "concurrent clients")
	only := flag.String("only", "", "send only the request kind with this name (e.g. \"tenant-stats get-live-stats\")")
	flag.Parse()
	if err := run(*duration, *clients, *only); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(duration time.Duration, clients int, only string) error {
	base, err := os.MkdirTemp("", "load-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	_ = os.Chmod(base, 0o755)
	fnPort, _ := pgcluster.FreePort()
	dbPort, _ := pgcluster.FreePort()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *stack.Stack, 1)
	done := make(chan error, 1)
	go func() {
		done <- stack.Run(ctx, stack.Options{Dir: filepath.Join(base, "local"), Addr: fmt.Sprintf("127.0.0.1:%d", fnPort),
			DBPort: dbPort, Out: io.Discard, Ready: ready, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	}()
	var st *stack.Stack
	select {
	case st = <-ready:
	case err := <-done:
		cancel()
		return err
	}
	defer func() { cancel(); <-done }()

	acme := st.TenantIDs["ACME Corp"]
	cluster := st.ServerIDs["pve-cluster"]
	kinds := []kind{
		{"tenant-stats get-live-stats", 30, "victor@acme.test", func(*stack.Stack, *rand.Rand) map[string]any {
			return map[string]any{"action": "get-live-stats", "tenantId": acme}
		}, "tenant-stats", map[int]bool{200: true}},
		{"tenant-stats get-node-status", 5, "alice@acme.test", func(*stack.Stack, *rand.Rand) map[string]any {
			return map[string]any{"action": "get-node-status", "tenantId": acme}
		}, "tenant-stats", map[int]bool{200: true}},
		{"list-vms list", 20, "mona@acme.test", func(*stack.Stack, *rand.Rand) map[string]any {
			return map[string]any{"tenantId": acme}
		}, "list-vms", map[int]bool{200: true}},
		{"proxmox-servers list", 15, "victor@acme.test", func(*stack.Stack, *rand.Rand) map[string]any {
			return map[string]any{"action": "list", "tenantId": acme}
		}, "proxmox-servers", map[int]bool{200: true}},
		{"tenants my-permissions", 10, "mona@acme.test", func(*stack.Stack, *rand.Rand) map[string]any {
			return map[string]any{"action": "my-permissions", "tenantId": acme}
		}, "tenants", map[int]bool{200: true}},
		{"tenants list-users", 5, "alice@acme.test", func(*stack.Stack, *rand.Rand) map[string]any {
			return map[string]any{"action": "list-users", "tenantId": acme}
		}, "tenants", map[int]bool{200: true}},
		// Guests flip between states under concurrent clients: refusing to
		// start a running guest (409, before or from Proxmox) is an earned answer.
		{"list-vms start/stop", 5, "mona@acme.test", func(_ *stack.Stack, r *rand.Rand) map[string]any {
			act := []string{"start", "stop"}[r.IntN(2)]
			return map[string]any{"action": act, "tenantId": acme, "serverId": cluster, "node": "pve2", "vmid": 104, "type": "qemu"}
		}, "list-vms", map[int]bool{202: true, 409: true, 429: true}}, // 429: the per-user power-action limit (issue 18)
		{"viewer power action (refused)", 5, "victor@acme.test", func(*stack.Stack, *rand.Rand) map[string]any {
			return map[string]any{"action": "reboot", "tenantId": acme, "serverId": cluster, "node": "pve1", "vmid": 100, "type": "qemu"}
		}, "list-vms", map[int]bool{403: true, 429: true}},
		{"stranger reads stats (refused)", 5, "bob@globex.test", func(*stack.Stack, *rand.Rand) map[string]any {
			return map[string]any{"action": "get-live-stats", "tenantId": acme}
		}, "tenant-stats", map[int]bool{404: true}},
	}
	if only != "" {
		var picked []kind
		for _, k := range kinds {
			if k.name == only {
				picked = append(picked, k)
			}
		}
		if len(picked) == 0 {
			return fmt.Errorf("no request kind named %q", only)
		}
		kinds = picked
	}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}

	type sample struct {
		kind   int
		took   time.Duration
		status int
	}
	var mu sync.Mutex
	var samples []sample
	unearned := map[string]int{}
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, seed))
			hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			var local []sample
			for time.Now().Before(deadline) {
				n, i := r.IntN(total), 0
				for n >= kinds[i].weight {
					n -= kinds[i].weight
					i++
				}
				k := kinds[i]
				b, _ := json.Marshal(k.body(st, r))
				req, _ := http.NewRequest(http.MethodPost, st.URL+k.fn, bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+st.Tokens[k.user])
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				res, err := hc.Do(req)
				status := 0
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					status = res.StatusCode
				}
				local = append(local, sample{i, time.Since(start), status})
				if !k.earned[status] {
					mu.Lock()
					unearned[fmt.Sprintf("%s -> %d", k.name, status)]++
					mu.Unlock()
				}
			}
			mu.Lock()
			samples = append(samples, local...)
			mu.Unlock()
		}(uint64(c + 1))
	}
	wg.Wait()

	fmt.Printf("load: %d clients for %s against the local stack, %d requests (%.0f/s)\n\n",
		clients, duration, len(samples), float64(len(samples))/duration.Seconds())
	fmt.Printf("%-34s %8s %9s %9s %9s\n", "request", "count", "p50 ms", "p99 ms", "max ms")
	var all []time.Duration
	for i, k := range kinds {
		var d []time.Duration
		for _, s := range samples {
			if s.kind == i {
				d = append(d, s.took)
			}
		}
		all = append(all, d...)
		p50, p99, max := pct(d)
		fmt.Printf("%-34s %8d %9.1f %9.1f %9.1f\n", k.name, len(d), p50, p99, max)
	}
	p50, p99, max := pct(all)
	fmt.Printf("%-34s %8d %9.1f %9.1f %9.1f\n\n", "all", len(all), p50, p99, max)

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("memory of this process (functions, simulators and load clients; PostgreSQL apart): peak RSS %.0f MiB, Go heap in use %.0f MiB\n",
		float64(ru.Maxrss)/1024, float64(ms.HeapInuse)/(1<<20))
	if len(unearned) == 0 {
		fmt.Println("answers the input did not earn: 0")
		return nil
	}
	fmt.Println("answers the input did not earn:")
	keys := make([]string, 0, len(unearned))
	for k := range unearned {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %s: %d\n", k, unearned[k])
	}
	return fmt.Errorf("%d kinds of unearned answers", len(unearned))
}

func pct(d []time.Duration) (p50, p99, max float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	return ms(d[len(d)/2]), ms(d[len(d)*99/100]), ms(d[len(d)-1])
}
