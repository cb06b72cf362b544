package tenantstats_test

import (
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/shared/proxmox"
)

// Time to a full dashboard (get-live-stats, no cache) for a 3-node cluster
// registered with its three nodes as endpoints (CA trust):
//   - up: every node answers;
//   - primary-down: pve1 stopped, the process remembers pve2;
//   - primary-down-cold: pve1 stopped and the endpoint memory forgotten
//     before every request (a cold Lambda: one refused connect to pve1,
//     then pve2, plus the handshake-only check of pve3);
//   - today: the same cluster as one endpoint (before issue 14), pve1
//     stopped: the answer is "offline" and the cluster's guests vanish.
//
// Figures are reported, never asserted (README, "Issue 14").
func BenchmarkClusterDashboard(b *testing.B) {
	run := func(b *testing.B, endpoints []string, stop bool, cold bool) {
		e := newEnv(b, 0, 2*time.Second)
		c := pvesim.NewTestCluster(b, pvesim.MustPreset("cluster3"))
		e.AddCluster(functest.TenantA, "lab", c, functest.ClusterOpts{Primary: "pve1", Endpoints: endpoints, CA: true})
		if stop {
			if err := c.StopNode("pve1"); err != nil {
				b.Fatal(err)
			}
		}
		token := functest.Token(b, functest.ViewerA)
		serve(b, e.Handler, token)
		var took []time.Duration
		var body string
		for b.Loop() {
			if cold {
				proxmox.ResetEndpointMemory()
			}
			start := time.Now()
			body = serve(b, e.Handler, token)
			took = append(took, time.Since(start))
		}
		on, _ := serversOnline(b, body)
		b.ReportMetric(float64(on), "online")
		b.ReportMetric(float64(median(took).Microseconds())/1000, "median-ms")
	}
	b.Run("up", func(b *testing.B) { run(b, []string{"pve2", "pve3"}, false, false) })
	b.Run("primary-down", func(b *testing.B) { run(b, []string{"pve2", "pve3"}, true, false) })
	b.Run("primary-down-cold", func(b *testing.B) { run(b, []string{"pve2", "pve3"}, true, true) })
	b.Run("today", func(b *testing.B) { run(b, nil, true, false) })
}
