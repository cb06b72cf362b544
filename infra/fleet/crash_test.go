package fleet_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/pvesim"
)

// PostgreSQL crashes under traffic, on a cluster of this test's own: an
// immediate shutdown (no clean goodbye to the clients) and then a killed
// postmaster. Every answer of every function is 200 or 503
// database_unavailable, never 500; once the database is back, the same
// running processes answer 200 again without being restarted: the first
// request on a dead pooled connection is retried on a fresh one.
func TestDatabaseCrashUnderTraffic(t *testing.T) {
	c, url, pool, w := dedicated(t)
	w.url = url + "&connect_timeout=2"
	w.addServer(t, pool, functest.TenantA, "lab", pvesim.NewTestSim(t, pvesim.MustPreset("cluster3")))
	w.addServer(t, pool, functest.TenantA, "edge", pvesim.NewTestSim(t, pvesim.MustPreset("standalone")))
	pool.Close() // the test's own connections would die with the server anyway
	procs := []*proc{w.start(t, "STATS_CACHE_TTL=300ms"), w.start(t, "STATS_CACHE_TTL=300ms")}
	a := newAnswers(t)
	kinds := []struct {
		fn   string
		body map[string]any
	}{
		{"tenant-stats", map[string]any{"tenantId": functest.TenantA}},
		{"list-vms", map[string]any{"action": "list", "tenantId": functest.TenantA}},
		{"tenants", map[string]any{"action": "my-permissions", "tenantId": functest.TenantA}},
		{"proxmox-servers", map[string]any{"action": "list", "tenantId": functest.TenantA}},
	}

	var phase atomic.Int32 // 0 up, 1 down, 2 back
	var mu sync.Mutex
	seen := map[string]int{}
	var back200 [4]atomic.Int32 // per kind: 200s of requests sent after the restart
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var n atomic.Int64
	for cl := 0; cl < 4; cl++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(n.Add(1))
				k, p := i%len(kinds), procs[i%len(procs)]
				ph := phase.Load()
				status, body, err := a.call(p, functest.ViewerA, kinds[k].fn, kinds[k].body)
				mu.Lock()
				seen[fmt.Sprintf("phase%d/%d", ph, status)]++
				mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("%s: %v", kinds[k].fn, err)
				case status == 503 && !has(body, `"code":"database_unavailable"`):
					t.Errorf("%s: 503 %s", kinds[k].fn, body)
				case status != 200 && status != 503:
					t.Errorf("%s: status %d in phase %d: %s", kinds[k].fn, status, ph, body)
				case status == 200 && ph == 2:
					back200[k].Add(1)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	defer func() { stop(); wg.Wait() }()

	crashes := []struct {
		name  string
		crash func() error
	}{
		{"immediate shutdown", func() error {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return c.Run(cctx, "pg_ctl", "-D", c.Dir, "-m", "immediate", "-w", "stop")
		}},
		{"postmaster killed", func() error {
			b, err := os.ReadFile(filepath.Join(c.Dir, "postmaster.pid"))
			if err != nil {
				return err
			}
			pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
			if err != nil {
				return err
			}
			return syscall.Kill(pid, syscall.SIGKILL)
		}},
	}
	for _, cr := range crashes {
		phase.Store(0)
		time.Sleep(500 * time.Millisecond)
		if err := cr.crash(); err != nil {
			t.Fatalf("%s: %v", cr.name, err)
		}
		phase.Store(1)
		time.Sleep(700 * time.Millisecond)
		restart(t, c)
		for i := range back200 {
			back200[i].Store(0)
		}
		phase.Store(2)
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok := true
			for i := range back200 {
				ok = ok && back200[i].Load() > 0
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not every function answered 200 within 10 s of the restart: %v", cr.name, seen)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("%s: answers by phase/status so far: %v", cr.name, seen)
	}
	stop()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if seen["phase1/503"] == 0 {
		t.Fatalf("the crashes were never seen: %v", seen)
	}
	// Sent once the database accepted connections again: none met a dead
	// pooled connection without a retry on a fresh one.
	if seen["phase2/503"] != 0 {
		t.Fatalf("503 after the database was back: %v", seen)
	}
}

// restart starts the crashed cluster again on its port. After a killed
// postmaster its orphaned backends may hold the shared memory for a moment,
// so a refused start is tried again.
func restart(t *testing.T, c *pgcluster.Cluster) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := c.Start(ctx, c.Port)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
