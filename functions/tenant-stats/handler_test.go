package tenantstats_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tenantstats "github.com/pvetenant/backend/functions/tenant-stats"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

type obj = functest.Obj

const (
	fn  = tenantstats.Name
	MiB = int64(1) << 20
	GiB = int64(1) << 30
	TiB = int64(1) << 40
)

// newEnv builds the function with the given cache TTL and per-server timeout.
func newEnv(t testing.TB, ttl, timeout time.Duration) *functest.Env {
	return functest.New(t, functest.Options{Needs: tenantstats.Needs, Configure: func(c *functest.Config) {
		c.StatsCacheTTL = ttl
		c.ProxmoxTimeout = timeout
	}}, tenantstats.New)
}

type world struct {
	e             *functest.Env
	lab, edge     *pvesim.Sim
	labID, edgeID string
}

// ACME has the cluster3 preset ("lab") and the standalone preset ("edge").
// The cache TTL is a minute unless a test says otherwise, so that "served
// from the cache" never depends on how fast the machine is.
func newWorld(t *testing.T, ttl time.Duration) world {
	e := newEnv(t, ttl, 1500*time.Millisecond)
	w := world{e: e,
		lab:  pvesim.NewTestSim(t, pvesim.MustPreset("cluster3")),
		edge: pvesim.NewTestSim(t, pvesim.MustPreset("standalone")),
	}
	w.labID = e.AddServer(functest.TenantA, "lab", w.lab, functest.ServerOpts{})
	w.edgeID = e.AddServer(functest.TenantA, "edge", w.edge, functest.ServerOpts{Password: true})
	return w
}

func (w world) call(user, action string) functest.Response {
	p := obj{"tenantId": functest.TenantA}
	if action != "" {
		p["action"] = action
	}
	return w.e.Call(user, http.MethodPost, fn, p)
}

func (w world) resourceCalls() (lab, edge int) {
	return w.lab.Requests("/cluster/resources"), w.edge.Requests("/cluster/resources")
}

func liveStats(t *testing.T, res functest.Response) tenantstats.LiveTenantStats {
	t.Helper()
	var body struct {
		Stats tenantstats.LiveTenantStats `json:"stats"`
	}
	if err := json.Unmarshal([]byte(res.Raw), &body); err != nil {
		t.Fatalf("%v: %s", err, res.Raw)
	}
	return body.Stats
}

// numbers drops what describes the request rather than the data.
func numbers(s tenantstats.LiveTenantStats) tenantstats.LiveTenantStats {
	s.LastUpdated, s.ServerStatus = "", nil
	return s
}

func healthByName(s tenantstats.LiveTenantStats) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, h := range s.ServerStatus {
		b, _ := json.Marshal(h)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		out[h.Name] = m
	}
	return out
}

// text is a JSON string field, "" when absent: comparing the decoded any to
// "" directly would pass for a missing field, which decodes to nil.
func text(v any) string { s, _ := v.(string); return s }

// The presets, by hand (infra/pvesim/presets.go; a node reports cpu =
// hostcpu + Σ running guests' cpu×maxcpu / cores and mem = hostmem + Σ
// running guests' mem):
//
// lab (cluster3): qemu 100,101,102,103,105,106 running, 104 stopped, 9000 a
// template; lxc 200,201,203 running, 202 stopped.
//
//	pve1 16 cores: 0.02×16 + (0.05×2 + 0.25×4 + 0.002×1) = 0.32 + 1.102 = 1.422 cores
//	     64 GiB:   3 GiB + 2 GiB + 12 GiB + 64 MiB             = 17 GiB + 64 MiB
//	pve2 16 cores: 0.02×16 + (0.04×2 + 0.03×2 + 0.01×1.5) = 0.32 + 0.155 = 0.475
//	     64 GiB:   3 GiB + 1536 MiB + 1 GiB + 256 MiB          = 5 GiB + 768 MiB
//	pve3 8 cores:  0.015×8 + (0.6×8 + 0.1×2 + 0.03×2)     = 0.12 + 5.06 = 5.18
//	     32 GiB:   2 GiB + 6 GiB + 3 GiB + 768 MiB             = 11 GiB + 768 MiB
//	storage: local 10+20+30 of 3×100 GiB, local-lvm 100+150+50 of 3×500 GiB,
//	         ceph-pool (shared) 1 TiB of 4 TiB once = 1384 of 5896 GiB
//
// edge (standalone): qemu 100 running, 102 stopped; lxc 101 running.
//
//	pve 8 cores: 0.01×8 + (0.02×2 + 0.005×1) = 0.08 + 0.045 = 0.125 cores
//	    32 GiB:  2 GiB + 1536 MiB + 128 MiB               = 3 GiB + 640 MiB
//	storage: local 15 of 100 GiB + local-lvm 40 of 350 GiB = 55 of 450 GiB
var (
	labAndEdge = tenantstats.LiveTenantStats{
		TotalVMs: 6 + 1 + 1 + 1, RunningVMs: 6 + 1, StoppedVMs: 1 + 1, // 9, 7, 2
		TotalContainers: 4 + 1, RunningContainers: 3 + 1, // 5, 4
		Nodes: tenantstats.Counts{Total: 4, Online: 4},
		// 1.422 + 0.475 + 5.18 + 0.125 = 7.202 of 16+16+8+8 = 48: 15.004…% → 15.0
		CPUUsage: tenantstats.CPUUsage{Used: 7.202, Total: 48, Percentage: 15},
		// 17 GiB+64 MiB + 5 GiB+768 MiB + 11 GiB+768 MiB + 3 GiB+640 MiB
		// = 36 GiB + 2240 MiB = 38 GiB + 192 MiB of 64+64+32+32 = 192 GiB:
		// 38.1875/192 = 19.889…% → 19.9
		MemoryUsage: tenantstats.ByteUsage{Used: 38*GiB + 192*MiB, Total: 192 * GiB, Percentage: 19.9},
		// 1384 + 55 = 1439 of 5896 + 450 = 6346 GiB: 22.675…% → 22.7
		StorageUsage: tenantstats.ByteUsage{Used: 1439 * GiB, Total: 6346 * GiB, Percentage: 22.7},
		Servers:      tenantstats.Counts{Total: 2, Online: 2},
	}
	labOnly = tenantstats.LiveTenantStats{
		TotalVMs: 7, RunningVMs: 6, StoppedVMs: 1, TotalContainers: 4, RunningContainers: 3,
		Nodes: tenantstats.Counts{Total: 3, Online: 3},
		// 1.422 + 0.475 + 5.18 = 7.077 of 40: 17.6925% → 17.7
		CPUUsage: tenantstats.CPUUsage{Used: 7.077, Total: 40, Percentage: 17.7},
		// 33 GiB + 1600 MiB = 34 GiB + 576 MiB of 160 GiB: 34.5625/160 = 21.60…% → 21.6
		MemoryUsage: tenantstats.ByteUsage{Used: 34*GiB + 576*MiB, Total: 160 * GiB, Percentage: 21.6},
		// 1384 of 5896 GiB: 23.473…% → 23.5
		StorageUsage: tenantstats.ByteUsage{Used: 1384 * GiB, Total: 5896 * GiB, Percentage: 23.5},
	}
)

func TestLiveStatsMatchThePresets(t *testing.T) {
	w := newWorld(t, time.Minute)
	// A paused server is neither queried nor counted.
	idle := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	w.e.AddServer(functest.TenantA, "idle", idle, functest.ServerOpts{Inactive: true})

	before := time.Now().UTC().Truncate(time.Second)
	res := functest.Expect(t, w.call(functest.ViewerA, ""), 200)
	s := liveStats(t, res)
	if got := numbers(s); !reflect.DeepEqual(got, labAndEdge) {
		t.Fatalf("\n got %+v\nwant %+v", got, labAndEdge)
	}
	h := healthByName(s)
	if len(s.ServerStatus) != 2 || h["lab"]["status"] != "online" || h["edge"]["status"] != "online" ||
		h["lab"]["id"] != w.labID || h["edge"]["id"] != w.edgeID {
		t.Fatalf("serverStatus %v", h)
	}
	if _, hasErr := h["lab"]["error"]; hasErr {
		t.Fatalf("error on a healthy server: %v", h["lab"])
	}
	ts, err := time.Parse(time.RFC3339, s.LastUpdated)
	if err != nil || !strings.HasSuffix(s.LastUpdated, "Z") || ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
		t.Fatalf("lastUpdated %q: %v", s.LastUpdated, err)
	}
	if n := idle.Requests("/cluster/resources"); n != 0 {
		t.Fatalf("the inactive server was queried %d times", n)
	}
	// The JSON carries the contract's names.
	for _, k := range []string{`"totalVMs":9`, `"runningVMs":7`, `"stoppedVMs":2`, `"totalContainers":5`, `"runningContainers":4`,
		`"nodes":{"total":4,"online":4,"offline":0}`, `"cpuUsage":{"used":7.202,"total":48,"percentage":15}`,
		`"memoryUsage":{"used":41003515904,"total":206158430208,"percentage":19.9}`,
		`"servers":{"total":2,"online":2,"offline":0}`, `"lastUpdated":"`, `"serverStatus":[{"id":"`, `"latencyMs":`} {
		if !strings.Contains(res.Raw, k) {
			t.Fatalf("answer lacks %s: %s", k, res.Raw)
		}
	}

	// GET with the tenant in the query string is the same action, and so is
	// naming it.
	get := functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodGet, fn+"?tenantId="+functest.TenantA, nil), 200)
	if got := numbers(liveStats(t, get)); !reflect.DeepEqual(got, labAndEdge) {
		t.Fatalf("GET: %+v", got)
	}
	named := functest.Expect(t, w.call(functest.ViewerA, tenantstats.ActionLiveStats), 200)
	if got := numbers(liveStats(t, named)); !reflect.DeepEqual(got, labAndEdge) {
		t.Fatalf("named action: %+v", got)
	}
}

func TestOneServerDownStillAnswers(t *testing.T) {
	w := newWorld(t, time.Minute)
	w.edge.Close()
	s := liveStats(t, functest.Expect(t, w.call(functest.ViewerA, ""), 200))
	want := labOnly
	want.Servers = tenantstats.Counts{Total: 2, Online: 1, Offline: 1}
	if got := numbers(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
	h := healthByName(s)
	if h["edge"]["status"] != "offline" || text(h["edge"]["error"]) == "" || h["edge"]["id"] != w.edgeID || h["lab"]["status"] != "online" {
		t.Fatalf("serverStatus %v", h)
	}
}

func TestFailuresBecomeServerHealth(t *testing.T) {
	cases := []struct {
		name   string
		fault  pvesim.Fault
		rotate bool // the server presents a new certificate (the pin no longer matches)
		want   string
	}{
		{"401", pvesim.Fault{Unauthorized: true}, false, "auth_error"},
		{"500", pvesim.Fault{Status: 500}, false, "error"},
		{"503", pvesim.Fault{Status: 503}, false, "error"},
		{"595", pvesim.Fault{Status: 595}, false, "offline"},
		{"596", pvesim.Fault{Status: 596}, false, "offline"},
		{"malformed JSON", pvesim.Fault{MalformedJSON: true}, false, "error"},
		{"hang", pvesim.Fault{Hang: true}, false, "timeout"},
		{"slower than the timeout", pvesim.Fault{Latency: 10 * time.Second}, false, "timeout"},
		{"changed certificate", pvesim.Fault{}, true, "tls_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, 0)
			w.edge.SetFault(c.fault)
			if c.rotate {
				if err := w.edge.RotateCertificate(); err != nil {
					t.Fatal(err)
				}
			}
			s := liveStats(t, functest.Expect(t, w.call(functest.ViewerA, ""), 200))
			h := healthByName(s)
			if h["edge"]["status"] != c.want || text(h["edge"]["error"]) == "" {
				t.Fatalf("edge: %v, want %s", h["edge"], c.want)
			}
			if s.Servers != (tenantstats.Counts{Total: 2, Online: 1, Offline: 1}) || s.TotalVMs != labOnly.TotalVMs {
				t.Fatalf("%+v", numbers(s))
			}
		})
	}
}

// A node down: its guests turn "unknown" (still counted, neither running nor
// stopped), its storage "unknown" (not counted), its cores and memory leave
// the totals; the shared ceph-pool is still seen by pve1 and pve2.
func TestOfflineNode(t *testing.T) {
	e := newEnv(t, 0, 1500*time.Millisecond)
	lab := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	e.AddServer(functest.TenantA, "lab", lab, functest.ServerOpts{})
	if err := lab.SetNodeOnline("pve3", false); err != nil {
		t.Fatal(err)
	}
	s := liveStats(t, functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200))
	want := tenantstats.LiveTenantStats{
		// 103, 105, 202 and 203 on pve3 come without status data (no
		// template field): 4 unknown guests, in no other count. 5 VMs,
		// 100/101/102/106 running, 104 stopped; 2 containers, both running.
		TotalVMs: 5, RunningVMs: 4, StoppedVMs: 1, UnknownGuests: 4,
		TotalContainers: 2, RunningContainers: 2,
		Nodes: tenantstats.Counts{Total: 3, Online: 2, Offline: 1},
		// 1.422 + 0.475 = 1.897 of 32 cores: 5.928…% → 5.9
		CPUUsage: tenantstats.CPUUsage{Used: 1.897, Total: 32, Percentage: 5.9},
		// 17 GiB+64 MiB + 5 GiB+768 MiB = 22 GiB + 832 MiB of 128 GiB: 17.82…% → 17.8
		MemoryUsage: tenantstats.ByteUsage{Used: 22*GiB + 832*MiB, Total: 128 * GiB, Percentage: 17.8},
		// local 10+20 of 200, local-lvm 100+150 of 1000, ceph 1024 of 4096:
		// 1304 of 5296 GiB: 24.62…% → 24.6
		StorageUsage: tenantstats.ByteUsage{Used: 1304 * GiB, Total: 5296 * GiB, Percentage: 24.6},
		Servers:      tenantstats.Counts{Total: 1, Online: 1},
	}
	if got := numbers(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
}

func TestWhoMaySee(t *testing.T) {
	w := newWorld(t, time.Minute)
	for _, u := range []string{functest.ViewerA, functest.ManagerA, functest.AdminA, functest.SysAdmin} {
		functest.Expect(t, w.call(u, ""), 200)
	}
	lab, edge := w.resourceCalls()
	for _, u := range []string{functest.Nobody, functest.AdminB} {
		for _, a := range []string{"", tenantstats.ActionResourceUsage, tenantstats.ActionNodeStatus} {
			if res := functest.Expect(t, w.call(u, a), 404); res.Code() != "tenant_not_found" {
				t.Fatalf("%s %s: %s", u, a, res.Raw)
			}
		}
	}
	functest.Expect(t, w.call("", ""), 401)
	functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodPost, fn, obj{}), 400)
	functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": "acme"}), 400)
	functest.Expect(t, w.call(functest.ViewerA, "get-everything"), 400)
	functest.Expect(t, w.e.Call(functest.SysAdmin, http.MethodPost, fn, obj{"tenantId": "cccccccc-0000-4000-8000-000000000003"}), 404)
	functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodDelete, fn, obj{"tenantId": functest.TenantA}), 405)
	if l, e := w.resourceCalls(); l != lab || e != edge {
		t.Fatal("refused requests reached Proxmox")
	}
}

func TestEmptyTenant(t *testing.T) {
	e := newEnv(t, time.Minute, time.Second)
	res := functest.Expect(t, e.Call(functest.AdminB, http.MethodPost, fn, obj{"tenantId": functest.TenantB}), 200)
	s := liveStats(t, res)
	if !reflect.DeepEqual(numbers(s), tenantstats.LiveTenantStats{}) || s.ServerStatus == nil || len(s.ServerStatus) != 0 {
		t.Fatalf("%+v", s)
	}
	if !strings.Contains(res.Raw, `"serverStatus":[]`) || !strings.Contains(res.Raw, `"storageUsage":{"used":0,"total":0,"percentage":0}`) {
		t.Fatal(res.Raw)
	}
	for _, a := range []string{tenantstats.ActionResourceUsage, tenantstats.ActionNodeStatus} {
		res := functest.Expect(t, e.Call(functest.AdminB, http.MethodPost, fn, obj{"tenantId": functest.TenantB, "action": a}), 200)
		if !strings.Contains(res.Raw, `"servers":[]`) || !(strings.Contains(res.Raw, `"resources":[]`) || strings.Contains(res.Raw, `"nodes":[]`)) {
			t.Fatalf("%s: %s", a, res.Raw)
		}
	}
}

func TestResourceUsage(t *testing.T) {
	w := newWorld(t, time.Minute)
	w.edge.Close()
	res := functest.Expect(t, w.call(functest.ViewerA, tenantstats.ActionResourceUsage), 200)
	var body struct {
		Resources []map[string]any `json:"resources"`
		Servers   []map[string]any `json:"servers"`
	}
	if err := json.Unmarshal([]byte(res.Raw), &body); err != nil {
		t.Fatal(err)
	}
	// lab only: 12 guests (template 9000 included) + 3 storages × 3 nodes.
	var guests, storages int
	var proxy, ceph2 map[string]any
	for _, r := range body.Resources {
		switch r["type"] {
		case "qemu", "lxc":
			guests++
			if r["vmid"] == float64(201) {
				proxy = r
			}
		case "storage":
			storages++
			if r["storage"] == "ceph-pool" && r["node"] == "pve2" {
				ceph2 = r
			}
		default:
			t.Fatalf("unexpected entry %v", r)
		}
	}
	if guests != 12 || storages != 9 {
		t.Fatalf("%d guests, %d storage entries", guests, storages)
	}
	wantProxy := map[string]any{"serverId": w.labID, "serverName": "lab", "node": "pve2", "vmid": float64(201), "name": "proxy-01",
		"type": "lxc", "status": "running", "template": false, "cpu": 0.01, "maxcpu": 1.5, "mem": float64(256 * MiB),
		"maxmem": float64(GiB), "disk": float64(2 * GiB), "maxdisk": float64(8 * GiB), "uptime": float64(1205500),
		"tags": []any{"infra", "prod"}}
	if !reflect.DeepEqual(proxy, wantProxy) {
		t.Fatalf("\n got %v\nwant %v", proxy, wantProxy)
	}
	wantCeph := map[string]any{"serverId": w.labID, "serverName": "lab", "type": "storage", "storage": "ceph-pool", "node": "pve2",
		"status": "available", "shared": true, "plugintype": "rbd", "content": []any{"images", "rootdir"},
		"disk": float64(TiB), "maxdisk": float64(4 * TiB)}
	if !reflect.DeepEqual(ceph2, wantCeph) {
		t.Fatalf("\n got %v\nwant %v", ceph2, wantCeph)
	}
	if len(body.Servers) != 2 || body.Servers[1]["name"] != "edge" && body.Servers[0]["name"] != "edge" {
		t.Fatalf("servers %v", body.Servers)
	}
	for _, s := range body.Servers {
		if s["name"] == "edge" && s["status"] != "offline" {
			t.Fatalf("edge %v", s)
		}
	}
}

func TestNodeStatus(t *testing.T) {
	w := newWorld(t, time.Minute)
	res := functest.Expect(t, w.call(functest.ViewerA, tenantstats.ActionNodeStatus), 200)
	var body struct {
		Nodes   []tenantstats.NodeStatus `json:"nodes"`
		Servers []map[string]any         `json:"servers"`
	}
	if err := json.Unmarshal([]byte(res.Raw), &body); err != nil {
		t.Fatal(err)
	}
	// Sorted by server name: edge's pve, then lab's pve1..3.
	if len(body.Nodes) != 4 || body.Nodes[0].Node != "pve" || body.Nodes[3].Node != "pve3" || len(body.Servers) != 2 {
		t.Fatalf("%s", res.Raw)
	}
	// edge/pve: cpu 0.01 + (0.02×2 + 0.005×1)/8 = 0.015625; mem 3 GiB + 640 MiB
	// (see above); root disk = the "local" dir storage, 15 of 100 GiB.
	want := tenantstats.NodeStatus{ServerID: w.edgeID, ServerName: "edge", Node: "pve", Status: "online",
		CPU: 0.015625, MaxCPU: 8, Mem: 3*GiB + 640*MiB, MaxMem: 32 * GiB, Disk: 15 * GiB, MaxDisk: 100 * GiB, Uptime: 432000}
	if body.Nodes[0] != want {
		t.Fatalf("\n got %+v\nwant %+v", body.Nodes[0], want)
	}
	for _, k := range []string{`"serverId"`, `"serverName"`, `"node"`, `"status"`, `"cpu"`, `"maxcpu"`, `"mem"`, `"maxmem"`, `"disk"`, `"maxdisk"`, `"uptime"`} {
		if !strings.Contains(res.Raw, k+":") {
			t.Fatalf("no %s in %s", k, res.Raw)
		}
	}
	// A node going down shows as offline, with no usage (fresh data: the
	// cache is keyed by the server's configuration, so use a new server row).
	if err := w.lab.SetNodeOnline("pve3", false); err != nil {
		t.Fatal(err)
	}
	bump(t, w.e, w.labID)
	res = functest.Expect(t, w.call(functest.ViewerA, tenantstats.ActionNodeStatus), 200)
	_ = json.Unmarshal([]byte(res.Raw), &body)
	if n := body.Nodes[3]; n.Node != "pve3" || n.Status != "offline" || n.CPU != 0 || n.Mem != 0 || n.MaxCPU != 8 || n.MaxMem != 32*GiB {
		t.Fatalf("pve3 %+v", n)
	}
}

// bump changes a server's credentials version, as an update of its secret does.
func bump(t *testing.T, e *functest.Env, id string) {
	t.Helper()
	if _, err := e.DB.Pool.Exec(context.Background(),
		`update public.proxmox_servers set credentials_version = credentials_version + 1 where id = $1`, id); err != nil {
		t.Fatal(err)
	}
}

func TestCacheServesQuickRefreshes(t *testing.T) {
	w := newWorld(t, time.Minute)
	first := liveStats(t, functest.Expect(t, w.call(functest.ViewerA, ""), 200))
	second := liveStats(t, functest.Expect(t, w.call(functest.AdminA, ""), 200))
	// The other actions read the same per-server answers.
	functest.Expect(t, w.call(functest.ViewerA, tenantstats.ActionResourceUsage), 200)
	functest.Expect(t, w.call(functest.ViewerA, tenantstats.ActionNodeStatus), 200)
	if lab, edge := w.resourceCalls(); lab != 1 || edge != 1 {
		t.Fatalf("/cluster/resources called %d and %d times, want once each", lab, edge)
	}
	if !reflect.DeepEqual(numbers(first), numbers(second)) || first.LastUpdated != second.LastUpdated {
		t.Fatalf("cached answer differs:\n%+v\n%+v", first, second)
	}
	// A cached answer reports the latency of the call it came from, and
	// how old that answer is by now (ageMs grows; it is not compared).
	for i := range second.ServerStatus {
		if second.ServerStatus[i].AgeMs < first.ServerStatus[i].AgeMs {
			t.Fatalf("ageMs went down: %+v / %+v", first.ServerStatus, second.ServerStatus)
		}
		first.ServerStatus[i].AgeMs, second.ServerStatus[i].AgeMs = 0, 0
	}
	if !reflect.DeepEqual(first.ServerStatus, second.ServerStatus) {
		t.Fatalf("serverStatus differs: %+v / %+v", first.ServerStatus, second.ServerStatus)
	}

	// An edited server (its credentials version moves on an update) is
	// fetched afresh; the other one stays cached.
	bump(t, w.e, w.labID)
	functest.Expect(t, w.call(functest.ViewerA, ""), 200)
	if lab, edge := w.resourceCalls(); lab != 2 || edge != 1 {
		t.Fatalf("after the edit: %d and %d calls, want 2 and 1", lab, edge)
	}
}

func TestCacheDisabledWithZeroTTL(t *testing.T) {
	w := newWorld(t, 0)
	functest.Expect(t, w.call(functest.ViewerA, ""), 200)
	functest.Expect(t, w.call(functest.ViewerA, ""), 200)
	if lab, edge := w.resourceCalls(); lab != 2 || edge != 2 {
		t.Fatalf("%d and %d calls, want 2 each", lab, edge)
	}
}

// Twenty dashboards refreshing at once, while the servers take 300 ms to
// answer, cost one Proxmox call per server.
func TestBurstIsSingleFlight(t *testing.T) {
	w := newWorld(t, time.Minute)
	w.lab.SetFault(pvesim.Fault{Latency: 300 * time.Millisecond})
	w.edge.SetFault(pvesim.Fault{Latency: 300 * time.Millisecond})
	token := functest.Token(t, functest.ViewerA)
	const n = 20
	codes := make([]int, n)
	bodies := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest(http.MethodPost, "/functions/v1/"+fn, strings.NewReader(`{"tenantId":"`+functest.TenantA+`"}`))
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			<-start
			w.e.Handler.ServeHTTP(rec, req)
			codes[i], bodies[i] = rec.Code, rec.Body.String()
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if codes[i] != 200 {
			t.Fatalf("call %d: %d %s", i, codes[i], bodies[i])
		}
		res := functest.Response{Raw: bodies[i]}
		if got := numbers(liveStats(t, res)); !reflect.DeepEqual(got, labAndEdge) {
			t.Fatalf("call %d: %+v", i, got)
		}
	}
	if lab, edge := w.resourceCalls(); lab != 1 || edge != 1 {
		t.Fatalf("%d and %d calls for %d requests, want 1 each", lab, edge, n)
	}
}

// The access check runs before the cache is read: a revoked viewer gets 404
// even though the tenant's answers are cached.
func TestRevokedAccessBeatsAWarmCache(t *testing.T) {
	w := newWorld(t, time.Minute)
	functest.Expect(t, w.call(functest.ViewerA, ""), 200)
	if _, err := w.e.DB.Pool.Exec(context.Background(),
		`delete from public.user_tenant_assignments where user_id = $1 and tenant_id = $2`, functest.ViewerA, functest.TenantA); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"", tenantstats.ActionResourceUsage, tenantstats.ActionNodeStatus} {
		functest.Expect(t, w.call(functest.ViewerA, a), 404)
	}
	functest.Expect(t, w.call(functest.ManagerA, ""), 200) // still warm for the others
	if lab, edge := w.resourceCalls(); lab != 1 || edge != 1 {
		t.Fatalf("%d and %d calls", lab, edge)
	}
}

// A hanging server is asked once per TTL, not by every refresh, and the
// cached failure is reported as a failure, saying when it was seen.
func TestCachedFailureIsReportedHonestly(t *testing.T) {
	e := newEnv(t, time.Minute, 500*time.Millisecond)
	lab := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	edge := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	e.AddServer(functest.TenantA, "lab", lab, functest.ServerOpts{})
	e.AddServer(functest.TenantA, "edge", edge, functest.ServerOpts{})
	edge.SetFault(pvesim.Fault{Hang: true})
	call := func() tenantstats.LiveTenantStats {
		return liveStats(t, functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200))
	}
	first := healthByName(call())["edge"]
	if first["status"] != "timeout" {
		t.Fatalf("first: %v", first)
	}
	// The detached fetch stores its failure just after the caller's own
	// deadline; wait for it rather than for a fixed time.
	deadline := time.Now().Add(10 * time.Second)
	var second map[string]any
	var s tenantstats.LiveTenantStats
	for {
		s = call()
		second = healthByName(s)["edge"]
		if strings.Contains(second["error"].(string), "last checked") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if second["status"] != "timeout" || !strings.Contains(second["error"].(string), "last checked") {
		t.Fatalf("cached failure: %v", second)
	}
	if s.Servers != (tenantstats.Counts{Total: 2, Online: 1, Offline: 1}) {
		t.Fatalf("%+v", s.Servers)
	}
	// Callers that came while the first call was still hanging joined it.
	if n := edge.Requests("/cluster/resources"); n != 1 {
		t.Fatalf("the hanging server was asked %d times", n)
	}
	edgeCalls := edge.Requests("/cluster/resources")
	call()
	call()
	if n := edge.Requests("/cluster/resources"); n != edgeCalls || lab.Requests("/cluster/resources") != 1 {
		t.Fatalf("hanging server asked again within the TTL: %d -> %d", edgeCalls, n)
	}
}
