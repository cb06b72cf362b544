package listvms_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
)

func nodeAddr(c *pvesim.Cluster, node string) string {
	return "127.0.0.1:" + strconv.Itoa(c.NodePort(node))
}

func clusterWorld(t *testing.T, o functest.ClusterOpts) (*functest.Env, *pvesim.Cluster, string) {
	e := newEnv(t)
	c := pvesim.NewTestCluster(t, pvesim.MustPreset("cluster3"))
	return e, c, e.AddCluster(functest.TenantA, "lab", c, o)
}

func startGuest(e *functest.Env, serverID, node string, vmid int) functest.Response {
	return e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "start", "tenantId": functest.TenantA,
		"serverId": serverID, "node": node, "vmid": vmid, "type": "qemu"})
}

func posts(calls []pvesim.NodeCall) int {
	n := 0
	for _, c := range calls {
		if c.Method == http.MethodPost {
			n++
		}
	}
	return n
}

// The primary node is stopped: the list and a start still work through
// another node, and both answers name it.
func TestClusterPrimaryDownListAndStartThroughAnotherNode(t *testing.T) {
	e, c, id := clusterWorld(t, functest.ClusterOpts{Primary: "pve1", Endpoints: []string{"pve2", "pve3"}, CA: true})
	if err := c.StopNode("pve1"); err != nil {
		t.Fatal(err)
	}
	res := functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
	h := health(t, res)["lab"]
	if h["status"] != "online" || h["endpoint"] != nodeAddr(c, "pve2") {
		t.Fatalf("health %v", h)
	}
	if got := vms(t, res); len(got) != 12 {
		t.Fatalf("%d guests, want the cluster's 12", len(got))
	}

	// vmid 104 (stopped) lives on pve2; the action goes through pve2 too.
	res = functest.Expect(t, startGuest(e, id, "pve2", 104), 202)
	if res.Body["endpoint"] != nodeAddr(c, "pve2") || !strings.HasPrefix(res.Body["upid"].(string), "UPID:pve2:") {
		t.Fatalf("start: %s", res.Raw)
	}
	if g, _ := c.Guest("pve2", 104); g.Status != "running" {
		t.Fatalf("guest is %s", g.Status)
	}
	// task-status (issue 13) through the cluster as well.
	before := len(c.Calls("pve2"))
	res = functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"action": "task-status", "tenantId": functest.TenantA,
		"serverId": id, "node": "pve2", "upid": res.Body["upid"]}), 200)
	if res.Body["status"] != "stopped" || res.Body["exitstatus"] != "OK" {
		t.Fatalf("task-status: %s", res.Raw)
	}
	if got := c.Calls("pve2")[before:]; len(got) != 1 || !strings.Contains(got[0].Path, "/tasks/") {
		t.Fatalf("task-status calls on pve2: %+v", got)
	}
}

// Quorum lost: a power action is refused with 409 no_quorum before any
// action is sent to Proxmox.
func TestClusterNoQuorumRefusesPowerActions(t *testing.T) {
	e, c, id := clusterWorld(t, functest.ClusterOpts{Primary: "pve1", Endpoints: []string{"pve2"}})
	for _, n := range []string{"pve2", "pve3"} {
		if err := c.SetNodeOnline(n, false); err != nil {
			t.Fatal(err)
		}
	}
	res := functest.Expect(t, startGuest(e, id, "pve1", 100), 409)
	if res.Code() != "no_quorum" || !strings.Contains(res.Body["error"].(string), "quorum") {
		t.Fatalf("%s", res.Raw)
	}
	for _, n := range c.Nodes() {
		if p := posts(c.Calls(n)); p != 0 {
			t.Fatalf("%s received %d POSTs", n, p)
		}
	}
}

// An endpoint presenting a certificate from another CA is refused at the
// handshake: it never receives a request (so never credentials), the
// cluster answers through the next endpoint, and it is not counted as
// reachable. With no other endpoint the server is tls_error.
func TestClusterForeignCertificateNeverGetsCredentials(t *testing.T) {
	e, c, _ := clusterWorld(t, functest.ClusterOpts{Primary: "pve1", Endpoints: []string{"pve2"}, CA: true})
	if err := c.UseForeignCertificate("pve1"); err != nil {
		t.Fatal(err)
	}
	res := functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
	h := health(t, res)["lab"]
	eps, _ := h["endpoints"].(map[string]any)
	if h["status"] != "online" || h["endpoint"] != nodeAddr(c, "pve2") || eps["total"] != 2.0 || eps["reachable"] != 1.0 {
		t.Fatalf("health %v", h)
	}
	if got := c.Calls("pve1"); len(got) != 0 {
		t.Fatalf("the impostor received %v", got)
	}

	if err := c.UseForeignCertificate("pve2"); err != nil {
		t.Fatal(err)
	}
	e2, c2, _ := clusterWorld(t, functest.ClusterOpts{Primary: "pve1", CA: true})
	if err := c2.UseForeignCertificate("pve1"); err != nil {
		t.Fatal(err)
	}
	res = functest.Expect(t, e2.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
	if h := health(t, res)["lab"]; h["status"] != "tls_error" {
		t.Fatalf("health %v", h)
	}
	if got := c2.Calls("pve1"); len(got) != 0 {
		t.Fatalf("the impostor received %v", got)
	}
}

// The address guard applies to every endpoint: with the primary stopped,
// an endpoint on ::1 (outside PROXMOX_ALLOW_CIDRS' 127.0.0.0/8) is refused
// before connecting, and the health says so.
func TestClusterAddressGuardOnEveryEndpoint(t *testing.T) {
	e, c, id := clusterWorld(t, functest.ClusterOpts{Primary: "pve1", CA: true})
	if _, err := e.DB.Pool.Exec(t.Context(), `update public.proxmox_servers set endpoints = $2::jsonb where id = $1`,
		id, `[{"host": "::1", "port": `+strconv.Itoa(c.NodePort("pve2"))+`}]`); err != nil {
		t.Fatal(err)
	}
	if err := c.StopNode("pve1"); err != nil {
		t.Fatal(err)
	}
	res := functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
	h := health(t, res)["lab"]
	if h["status"] != "error" || !strings.Contains(h["error"].(string), "forbidden address") {
		t.Fatalf("health %v", h)
	}
}
