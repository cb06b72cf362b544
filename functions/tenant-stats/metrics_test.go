package tenantstats_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	tenantstats "github.com/pvetenant/backend/functions/tenant-stats"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/shared/metrics"
	"github.com/pvetenant/backend/shared/metrics/emftest"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// What an operator watches, as EMF lines: per request, the servers covered
// and offline, cache hits and misses, and one latency sample per Proxmox call
// actually made; plus the request metrics every function emits.
func TestStatsMetrics(t *testing.T) {
	out := &lockedBuf{}
	defer metrics.SetOutput(out)()
	w := newWorld(t, time.Minute)
	w.edge.Close()

	functest.Expect(t, w.call(functest.ViewerA, ""), 200) // both fetched: lab answers, edge fails
	functest.Expect(t, w.call(functest.ViewerA, ""), 200) // both from the cache
	functest.Expect(t, w.e.Call(functest.Nobody, "POST", fn, obj{"tenantId": functest.TenantA}), 404)

	lines := emftest.Parse(t, out.String())
	sum := func(name string) float64 { return emftest.Sum(lines, tenantstats.Name, name) }
	got := map[string]float64{}
	for _, n := range []string{"ServersQueried", "ServersOffline", "CacheHits", "CacheMisses", "ProxmoxErrors", "Requests", "Errors4xx", "Errors5xx"} {
		got[n] = sum(n)
	}
	want := map[string]float64{"ServersQueried": 4, "ServersOffline": 2, "CacheHits": 2, "CacheMisses": 2, "ProxmoxErrors": 1,
		"Requests": 3, "Errors4xx": 1, "Errors5xx": 0}
	for n, v := range want {
		if got[n] != v {
			t.Errorf("%s = %v, want %v (all: %v)", n, got[n], v, got)
		}
	}
	if n := emftest.Samples(lines, tenantstats.Name, "ProxmoxLatency"); n != 2 {
		t.Errorf("%d latency samples, want 2 (one per Proxmox call)", n)
	}
	if n := emftest.Samples(lines, tenantstats.Name, "Duration"); n != 3 {
		t.Errorf("%d duration samples, want 3", n)
	}
}
