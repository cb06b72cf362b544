package tenantstats_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	tenantstats "github.com/pvetenant/backend/functions/tenant-stats"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
)

func nodeAddr(c *pvesim.Cluster, node string) string {
	return "127.0.0.1:" + strconv.Itoa(c.NodePort(node))
}

func clusterEnv(t *testing.T) (*functest.Env, *pvesim.Cluster) {
	e := newEnv(t, 0, 1500*time.Millisecond)
	return e, pvesim.NewTestCluster(t, pvesim.MustPreset("cluster3"))
}

func getStats(t *testing.T, e *functest.Env) (tenantstats.LiveTenantStats, map[string]map[string]any) {
	t.Helper()
	res := functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA, "action": "get-live-stats"}), 200)
	s := liveStats(t, res)
	return s, healthByName(s)
}

func endpointsOf(h map[string]any) (total, reachable int) {
	m, _ := h["endpoints"].(map[string]any)
	t, _ := m["total"].(float64)
	r, _ := m["reachable"].(float64)
	return int(t), int(r)
}

// The node the server is registered with is rebooted: the dashboard keeps
// the cluster online through another node, says which, counts the stopped
// node offline and the cluster quorate. Trust is the cluster's CA.
func TestClusterPrimaryDownDashboardThroughAnotherNode(t *testing.T) {
	e, c := clusterEnv(t)
	e.AddCluster(functest.TenantA, "lab", c, functest.ClusterOpts{Primary: "pve1", Endpoints: []string{"pve2", "pve3"}, CA: true})

	s, h := getStats(t, e)
	if str(h["lab"]["status"]) != "online" || str(h["lab"]["endpoint"]) != nodeAddr(c, "pve1") || h["lab"]["quorate"] != true {
		t.Fatalf("all up: %v", h["lab"])
	}
	if tot, r := endpointsOf(h["lab"]); tot != 3 || r != 3 {
		t.Fatalf("endpoints %d/%d, want 3 reachable of 3", r, tot)
	}
	if s.Nodes != (tenantstats.Counts{Total: 3, Online: 3}) {
		t.Fatalf("nodes %+v", s.Nodes)
	}

	if err := c.StopNode("pve1"); err != nil {
		t.Fatal(err)
	}
	before := len(c.Calls("pve2"))
	s, h = getStats(t, e)
	lab := h["lab"]
	if str(lab["status"]) != "online" || str(lab["endpoint"]) != nodeAddr(c, "pve2") || lab["quorate"] != true {
		t.Fatalf("primary down: %v", lab)
	}
	if tot, r := endpointsOf(lab); tot != 3 || r != 2 {
		t.Fatalf("endpoints %d/%d, want 2 reachable of 3", r, tot)
	}
	if s.Servers != (tenantstats.Counts{Total: 1, Online: 1}) || s.Nodes != (tenantstats.Counts{Total: 3, Online: 2, Offline: 1}) {
		t.Fatalf("servers %+v nodes %+v", s.Servers, s.Nodes)
	}
	// Every guest is still counted; pve1's as unknown, as PVE reports guests
	// of an offline node (11 guests besides the template).
	if s.TotalVMs+s.TotalContainers+s.UnknownGuests < 11 || s.UnknownGuests == 0 || s.RunningVMs == 0 {
		t.Fatalf("guests of the cluster must stay listed: %+v", s)
	}
	// One /cluster/resources and one /cluster/status, both on pve2.
	if got := c.Calls("pve2")[before:]; len(got) != 2 {
		t.Fatalf("calls on pve2: %+v", got)
	}

	// The next request goes straight to the endpoint that worked.
	if _, h = getStats(t, e); str(h["lab"]["endpoint"]) != nodeAddr(c, "pve2") {
		t.Fatalf("remembered endpoint: %v", h["lab"])
	}
	if err := c.StartNode("pve1"); err != nil {
		t.Fatal(err)
	}
}

// Every node down: offline, as a single server is, after one attempt per
// endpoint and no more.
func TestClusterAllEndpointsDownIsOffline(t *testing.T) {
	e, c := clusterEnv(t)
	e.AddCluster(functest.TenantA, "lab", c, functest.ClusterOpts{Primary: "pve1", Endpoints: []string{"pve2", "pve3"}, CA: true})
	for _, n := range c.Nodes() {
		if err := c.StopNode(n); err != nil {
			t.Fatal(err)
		}
	}
	s, h := getStats(t, e)
	if str(h["lab"]["status"]) != "offline" || str(h["lab"]["endpoint"]) != "" || h["lab"]["quorate"] != nil {
		t.Fatalf("all down: %v", h["lab"])
	}
	if tot, r := endpointsOf(h["lab"]); tot != 3 || r != 0 {
		t.Fatalf("endpoints %d/%d", r, tot)
	}
	if s.Servers != (tenantstats.Counts{Total: 1, Offline: 1}) {
		t.Fatalf("servers %+v", s.Servers)
	}
	for _, n := range c.Nodes() {
		if got := c.Calls(n); len(got) != 0 {
			t.Fatalf("%s got %v", n, got)
		}
	}
}

// Two of three nodes gone: the node that answers says the cluster is not
// quorate; the dashboard shows it online with a warning.
func TestClusterQuorumLostWarns(t *testing.T) {
	e, c := clusterEnv(t)
	e.AddCluster(functest.TenantA, "lab", c, functest.ClusterOpts{Primary: "pve1", Endpoints: []string{"pve2"}})
	for _, n := range []string{"pve2", "pve3"} {
		if err := c.SetNodeOnline(n, false); err != nil {
			t.Fatal(err)
		}
	}
	s, h := getStats(t, e)
	lab := h["lab"]
	if str(lab["status"]) != "online" || lab["quorate"] != false || str(lab["warning"]) != "no_quorum" || str(lab["warningMessage"]) != tenantstats.NoQuorumWarning {
		t.Fatalf("no quorum: %v", lab)
	}
	if s.Nodes != (tenantstats.Counts{Total: 3, Online: 1, Offline: 2}) {
		t.Fatalf("nodes %+v", s.Nodes)
	}
}

// The same cluster registered twice (rows from before this change): its
// guests, nodes and storage count once; both rows' health is shown, the
// second naming the first.
func TestClusterRegisteredTwiceCountedOnce(t *testing.T) {
	e, c := clusterEnv(t)
	first := e.AddCluster(functest.TenantA, "lab", c, functest.ClusterOpts{Primary: "pve1"})
	e.AddCluster(functest.TenantA, "lab-again", c, functest.ClusterOpts{Primary: "pve2"})
	s, h := getStats(t, e)
	if got := numbers(s); got.TotalVMs != labOnly.TotalVMs || got.Nodes != labOnly.Nodes || got.StorageUsage != labOnly.StorageUsage ||
		got.CPUUsage != labOnly.CPUUsage || got.Servers != (tenantstats.Counts{Total: 1, Online: 1}) {
		t.Fatalf("counted twice: %+v", got)
	}
	if len(s.ServerStatus) != 2 || str(h["lab"]["status"]) != "online" || str(h["lab-again"]["status"]) != "online" {
		t.Fatalf("health: %v", h)
	}
	// Rows come newest first, so the later row is the one counted; the
	// other names it.
	dup, kept := h["lab"], h["lab-again"]
	if str(dup["sameClusterAs"]) == "" {
		dup, kept = kept, dup
	}
	if str(kept["sameClusterAs"]) != "" || str(dup["warning"]) != "same_cluster" || str(dup["warningMessage"]) == "" {
		t.Fatalf("health: %v", h)
	}
	_ = first
}

// str is a JSON string field, "" when absent.
func str(v any) string { s, _ := v.(string); return s }
