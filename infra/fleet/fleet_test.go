package fleet_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/testdb"
)

// fleetRun is what one run of K processes saw.
type fleetRun struct {
	calls    map[string][]time.Time // server name -> /cluster/resources arrivals
	answers  int
	statuses map[int]int
	windows  float64 // TTL windows the clients polled
}

// runFleet starts k functions processes on one database and three
// simulators (a 3-node cluster, a standalone node, and a node answering
// after 300 ms so that fetches overlap), and has clients poll one tenant's
// get-live-stats round-robin across the processes for d.
func runFleet(t testing.TB, k, clients int, ttl, d time.Duration) fleetRun {
	db := testdb.Fresh(t)
	w := newWorld(t, db.URL, db.Pool)
	sims := map[string]*pvesim.Sim{
		"lab":  pvesim.NewTestSim(t, pvesim.MustPreset("cluster3")),
		"edge": pvesim.NewTestSim(t, pvesim.MustPreset("standalone")),
		"slow": pvesim.NewTestSim(t, pvesim.MustPreset("standalone")),
	}
	sims["slow"].SetFault(pvesim.Fault{PathPrefix: "/cluster/resources", Latency: 300 * time.Millisecond})
	for name, s := range sims {
		w.addServer(t, db.Pool, functest.TenantA, name, s)
	}
	procs := make([]*proc, k)
	var wg sync.WaitGroup
	for i := range procs {
		procs[i] = w.start(t, "STATS_CACHE_TTL="+ttl.String())
	}
	a := newAnswers(t)
	for _, s := range sims {
		s.ResetRequests()
	}
	var next atomic.Int64
	var mu sync.Mutex
	run := fleetRun{statuses: map[int]int{}, calls: map[string][]time.Time{}}
	users := []string{functest.ViewerA, functest.AdminA, functest.ManagerA, functest.SysAdmin}
	start := time.Now()
	stop := start.Add(d)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for time.Now().Before(stop) {
				p := procs[int(next.Add(1))%k]
				status, body, err := a.call(p, users[c%len(users)], "tenant-stats", map[string]any{"tenantId": functest.TenantA})
				mu.Lock()
				run.answers++
				run.statuses[status]++
				mu.Unlock()
				if err != nil || status != 200 {
					t.Errorf("status %d err %v: %s", status, err, body)
					return
				}
				if strings.Count(string(body), `"status":"online"`) != 3 {
					t.Errorf("a server is not online: %s", body)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	if t.Failed() {
		for i, p := range procs {
			t.Logf("process %d logs:\n%s", i, tail(p.Logs.String(), 3000))
		}
	}
	run.windows = float64(time.Since(start)) / float64(ttl)
	for name, s := range sims {
		for _, c := range s.Calls("/cluster/resources") {
			run.calls[name] = append(run.calls[name], c.At)
		}
	}
	return run
}

// The whole fleet asks each server at most once per TTL window, whatever
// the number of processes. Before the shared store, each process asked on
// its own: K calls per server per TTL.
func TestFleetAsksEachServerOncePerTTL(t *testing.T) {
	const ttl = 1 * time.Second
	for _, k := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("K=%d", k), func(t *testing.T) {
			r := runFleet(t, k, 6, ttl, 4*ttl+ttl/2)
			t.Logf("K=%d: %d answers %v over %.1f TTL windows; calls per server: %s", k, r.answers, r.statuses, r.windows, summary(r))
			for name, at := range r.calls {
				sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
				// A new fetch needs the last snapshot to be older than the TTL
				// (by the database clock, measured when it was stored, after
				// the call arrived here), so consecutive arrivals are at least
				// a TTL apart; 5 ms allows for two clocks reading the same time.
				for i := 1; i < len(at); i++ {
					if gap := at[i].Sub(at[i-1]); gap < ttl-5*time.Millisecond {
						t.Errorf("%s: calls %d and %d only %v apart (TTL %v): %s", name, i-1, i, gap, ttl, summary(r))
					}
				}
				// The dashboard stayed live: a call in (nearly) every window.
				if float64(len(at)) < r.windows/2 {
					t.Errorf("%s: only %d calls in %.1f windows", name, len(at), r.windows)
				}
			}
			if len(r.calls) != 3 {
				t.Fatalf("servers called: %v", r.calls)
			}
		})
	}
}

func summary(r fleetRun) string {
	var b strings.Builder
	names := make([]string, 0, len(r.calls))
	for n := range r.calls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%d (%.2f per TTL) ", n, len(r.calls[n]), float64(len(r.calls[n]))/r.windows)
	}
	return b.String()
}

// BenchmarkFleetCallsPerTTL reports Proxmox calls per server per TTL window
// for K = 1, 2, 4, 8 processes (FLEET_BIN selects another build, e.g. the
// previous design). One iteration is a 5-window run.
func BenchmarkFleetCallsPerTTL(b *testing.B) {
	const ttl = time.Second
	for _, k := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			var perTTL float64
			for i := 0; i < b.N; i++ {
				r := runFleet(b, k, 8, ttl, 5*ttl)
				n := 0
				for _, at := range r.calls {
					n += len(at)
				}
				perTTL += float64(n) / float64(len(r.calls)) / r.windows
			}
			b.ReportMetric(perTTL/float64(b.N), "calls/server/TTL")
		})
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
