package tenantstats

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pvetenant/backend/shared/guests"

	"github.com/pvetenant/backend/shared/proxmox"
)

const (
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
	TiB int64 = 1 << 40
)

// clusterJSON is a 3-node cluster's /cluster/resources as PVE 8 sends it
// (envelope, 0/1 booleans, offline node without usage fields), sizes in GiB
// where the comment says so:
//
//	n1 online  cpu 0.25 of 8 cores, mem 8 of 32 GiB, root disk 5 of 50 GiB
//	n2 online  cpu 0.5 of 4 cores,  mem 4 of 16 GiB
//	n3 offline (maxcpu 16, maxmem 64 GiB still reported, no usage)
//	qemu 100 running, 101 stopped, 102 on n3 "unknown" (no template field),
//	     9000 template; lxc 200 running (cpulimit 1.5), 201 stopped, 9001 template
//	pool "prod", an sdn zone and a PVE 9 network entry carrying numbers
//	storage local (dir) 10/100 on n1, 20/100 on n2, unknown on n3;
//	        ceph (shared) 1/4 TiB seen from n1 and n2, unknown on n3;
//	        nfs-iso (shared) enabled but "unknown" on n1 (not mounted)
const clusterJSON = `{"data":[
 {"id":"/pool/prod","type":"pool","pool":"prod","cpu":0.5,"maxcpu":64,"mem":999999999999,"maxmem":999999999999,"disk":7,"maxdisk":7},
 {"id":"qemu/100","type":"qemu","vmid":100,"name":"web","node":"n1","status":"running","template":0,"cpu":0.1,"maxcpu":2,"mem":2147483648,"maxmem":4294967296,"disk":0,"maxdisk":34359738368,"uptime":100,"tags":"prod;web","pool":"prod"},
 {"id":"qemu/101","type":"qemu","vmid":101,"name":"db","node":"n2","status":"stopped","template":0,"cpu":0,"maxcpu":4,"mem":0,"maxmem":8589934592,"disk":0,"maxdisk":68719476736,"uptime":0},
 {"id":"qemu/102","type":"qemu","vmid":102,"node":"n3","status":"unknown"},
 {"id":"qemu/9000","type":"qemu","vmid":9000,"name":"tmpl","node":"n1","status":"stopped","template":1,"cpu":0,"maxcpu":2,"mem":0,"maxmem":2147483648,"disk":0,"maxdisk":3221225472,"uptime":0},
 {"id":"lxc/200","type":"lxc","vmid":200,"name":"proxy","node":"n2","status":"running","template":0,"cpu":0.02,"maxcpu":1.5,"mem":268435456,"maxmem":1073741824,"disk":2147483648,"maxdisk":8589934592,"uptime":50},
 {"id":"lxc/201","type":"lxc","vmid":201,"name":"agent","node":"n1","status":"stopped","template":0,"cpu":0,"maxcpu":1,"mem":0,"maxmem":536870912,"disk":0,"maxdisk":8589934592,"uptime":0},
 {"id":"lxc/9001","type":"lxc","vmid":9001,"name":"ct-tmpl","node":"n1","status":"stopped","template":1,"cpu":0,"maxcpu":1,"mem":0,"maxmem":536870912,"disk":0,"maxdisk":4294967296,"uptime":0},
 {"id":"node/n1","type":"node","node":"n1","status":"online","cpu":0.25,"maxcpu":8,"mem":8589934592,"maxmem":34359738368,"disk":5368709120,"maxdisk":53687091200,"uptime":1000,"level":""},
 {"id":"node/n2","type":"node","node":"n2","status":"online","cpu":0.5,"maxcpu":4,"mem":4294967296,"maxmem":17179869184,"disk":5368709120,"maxdisk":53687091200,"uptime":900,"level":""},
 {"id":"node/n3","type":"node","node":"n3","status":"offline","maxcpu":16,"maxmem":68719476736,"maxdisk":53687091200},
 {"id":"storage/n1/local","type":"storage","storage":"local","node":"n1","status":"available","shared":0,"plugintype":"dir","content":"backup,iso,vztmpl","disk":10737418240,"maxdisk":107374182400},
 {"id":"storage/n2/local","type":"storage","storage":"local","node":"n2","status":"available","shared":0,"plugintype":"dir","content":"backup,iso,vztmpl","disk":21474836480,"maxdisk":107374182400},
 {"id":"storage/n3/local","type":"storage","storage":"local","node":"n3","status":"unknown","shared":0,"plugintype":"dir","content":"backup,iso,vztmpl"},
 {"id":"storage/n1/ceph","type":"storage","storage":"ceph","node":"n1","status":"available","shared":1,"plugintype":"rbd","content":"images,rootdir","disk":1099511627776,"maxdisk":4398046511104},
 {"id":"storage/n2/ceph","type":"storage","storage":"ceph","node":"n2","status":"available","shared":1,"plugintype":"rbd","content":"images,rootdir","disk":1099511627776,"maxdisk":4398046511104},
 {"id":"storage/n3/ceph","type":"storage","storage":"ceph","node":"n3","status":"unknown","shared":1,"plugintype":"rbd","content":"images,rootdir"},
 {"id":"storage/n1/nfs-iso","type":"storage","storage":"nfs-iso","node":"n1","status":"unknown","shared":1,"plugintype":"nfs","content":"iso","disk":5,"maxdisk":10},
 {"id":"sdn/n1/localnetwork","type":"sdn","sdn":"localnetwork","node":"n1","status":"ok"},
 {"id":"network/n2/zone/localnetwork","type":"network","network":"localnetwork","network-type":"zone","node":"n2","status":"ok","maxdisk":123456}
]}`

// standaloneJSON is a single node "pve": cpu 0.1 of 8 cores, mem 2 of 16
// GiB; qemu 100 and lxc 101 running; local 5/50 GiB and local-lvm 15/200 GiB.
const standaloneJSON = `[
 {"id":"qemu/100","type":"qemu","vmid":100,"name":"debian","node":"pve","status":"running","template":0,"cpu":0.02,"maxcpu":2,"mem":1610612736,"maxmem":4294967296,"disk":0,"maxdisk":34359738368,"uptime":431000},
 {"id":"lxc/101","type":"lxc","vmid":101,"name":"nginx","node":"pve","status":"running","template":0,"cpu":0.005,"maxcpu":1,"mem":134217728,"maxmem":536870912,"disk":1258291200,"maxdisk":8589934592,"uptime":431500,"tags":"web"},
 {"id":"node/pve","type":"node","node":"pve","status":"online","cpu":0.1,"maxcpu":8,"mem":2147483648,"maxmem":17179869184,"disk":16106127360,"maxdisk":107374182400,"uptime":432000},
 {"id":"storage/pve/local","type":"storage","storage":"local","node":"pve","status":"available","shared":0,"plugintype":"dir","content":"backup,iso,vztmpl","disk":5368709120,"maxdisk":53687091200},
 {"id":"storage/pve/local-lvm","type":"storage","storage":"local-lvm","node":"pve","status":"available","shared":0,"plugintype":"lvmthin","content":"images,rootdir","disk":16106127360,"maxdisk":214748364800}
]`

func decode(t testing.TB, body string) []proxmox.Resource {
	t.Helper()
	res, st, err := proxmox.DecodeResources([]byte(body))
	if err != nil || st.Skipped != 0 || st.Partial != 0 {
		t.Fatalf("fixture: %v %+v", err, st)
	}
	return res
}

func online(id string, res []proxmox.Resource) serverData {
	return serverData{ID: id, Name: id, Online: true, Resources: res}
}

func TestAggregateOneCluster(t *testing.T) {
	got := aggregate([]serverData{online("lab", decode(t, clusterJSON))})
	want := LiveTenantStats{
		// qemu 100 running + 101 stopped; 9000 is a template; 102 on the
		// offline node has no status data (no template field: it may be a
		// template), so it is an unknown guest, not a VM.
		TotalVMs: 2, RunningVMs: 1, StoppedVMs: 1, UnknownGuests: 1,
		// lxc 200 running + 201 stopped; 9001 is a template.
		TotalContainers: 2, RunningContainers: 1,
		Nodes: Counts{Total: 3, Online: 2, Offline: 1},
		// used 0.25×8 + 0.5×4 = 2 + 2 = 4 cores; total 8 + 4 = 12 (n3 is
		// offline); 4/12 = 33.33…% → 33.3.
		CPUUsage: CPUUsage{Used: 4, Total: 12, Percentage: 33.3},
		// 8 + 4 = 12 GiB of 32 + 16 = 48 GiB = 25%; the pool's 999 GB and
		// the offline n3's 64 GiB are not counted.
		MemoryUsage: ByteUsage{Used: 12 * GiB, Total: 48 * GiB, Percentage: 25},
		// local on n1 (10/100) and n2 (20/100), once per node; ceph once for
		// the cluster (1/4 TiB), not three times; unknown entries and node
		// root disks ignored: (10+20+1024) / (100+100+4096) = 1054/4296 GiB
		// = 24.53…% → 24.5.
		StorageUsage: ByteUsage{Used: 1054 * GiB, Total: 4296 * GiB, Percentage: 24.5},
		Servers:      Counts{Total: 1, Online: 1, Offline: 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
}

func TestAggregateTwoServersAndAnOfflineOne(t *testing.T) {
	lab, edge := decode(t, clusterJSON), decode(t, standaloneJSON)

	got := aggregate([]serverData{online("edge", edge)})
	want := LiveTenantStats{
		TotalVMs: 1, RunningVMs: 1, TotalContainers: 1, RunningContainers: 1,
		Nodes:        Counts{Total: 1, Online: 1},
		CPUUsage:     CPUUsage{Used: 0.8, Total: 8, Percentage: 10},               // 0.1×8 = 0.8 of 8
		MemoryUsage:  ByteUsage{Used: 2 * GiB, Total: 16 * GiB, Percentage: 12.5}, // 2/16
		StorageUsage: ByteUsage{Used: 20 * GiB, Total: 250 * GiB, Percentage: 8},  // (5+15)/(50+200)
		Servers:      Counts{Total: 1, Online: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("standalone\n got %+v\nwant %+v", got, want)
	}

	got = aggregate([]serverData{online("lab", lab), online("edge", edge), {ID: "down", Name: "down"}})
	want = LiveTenantStats{
		TotalVMs: 2 + 1, RunningVMs: 1 + 1, StoppedVMs: 1 + 0, UnknownGuests: 1,
		TotalContainers: 2 + 1, RunningContainers: 1 + 1,
		Nodes: Counts{Total: 3 + 1, Online: 2 + 1, Offline: 1},
		// (4 + 0.8) / (12 + 8) = 4.8/20 = 24%
		CPUUsage: CPUUsage{Used: 4.8, Total: 20, Percentage: 24},
		// (12 + 2) / (48 + 16) = 14/64 GiB = 21.875% → 21.9
		MemoryUsage: ByteUsage{Used: 14 * GiB, Total: 64 * GiB, Percentage: 21.9},
		// (1054 + 20) / (4296 + 250) = 1074/4546 GiB = 23.625…% → 23.6
		StorageUsage: ByteUsage{Used: 1074 * GiB, Total: 4546 * GiB, Percentage: 23.6},
		// The failed server counts here and nowhere else.
		Servers: Counts{Total: 3, Online: 2, Offline: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("two servers + one down\n got %+v\nwant %+v", got, want)
	}
}

// Shared storage is counted once per server, so the same storage id on two
// different clusters counts twice (they are different storages), while a
// local storage counts once per node.
func TestStorageDeduplication(t *testing.T) {
	entry := func(node, id string, shared bool, used, total int64) proxmox.Resource {
		return proxmox.Resource{Type: "storage", Node: node, Storage: id, Shared: shared, Status: "available", Disk: used, MaxDisk: total}
	}
	a := []proxmox.Resource{
		entry("n1", "ceph", true, 1*TiB, 4*TiB), entry("n2", "ceph", true, 1*TiB, 4*TiB), entry("n3", "ceph", true, 1*TiB, 4*TiB),
		entry("n1", "local", false, 1*GiB, 10*GiB), entry("n2", "local", false, 2*GiB, 10*GiB), entry("n3", "local", false, 3*GiB, 10*GiB),
		// The same local storage listed twice for one node counts once.
		entry("n3", "local", false, 3*GiB, 10*GiB),
	}
	b := []proxmox.Resource{entry("m1", "ceph", true, 2*TiB, 8*TiB), entry("m2", "ceph", true, 2*TiB, 8*TiB)}
	got := aggregate([]serverData{online("a", a), online("b", b)}).StorageUsage
	// used: 1 TiB (a/ceph) + 1+2+3 GiB (a/local) + 2 TiB (b/ceph) = 3 TiB + 6 GiB
	// total: 4 TiB + 30 GiB + 8 TiB = 12 TiB + 30 GiB; 3078/12318 = 24.98…% → 25.0
	want := ByteUsage{Used: 3*TiB + 6*GiB, Total: 12*TiB + 30*GiB, Percentage: 25}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestFractionsAndRounding(t *testing.T) {
	res := []proxmox.Resource{
		// 0.0625 × 12 = 0.75 cores of 12 = 6.25% → 6.3 (halves round up).
		{Type: "node", Node: "a", Status: "online", CPU: 0.0625, MaxCPU: 12, Mem: 1, MaxMem: 3},
		// A guest's fractional maxcpu (LXC cpulimit) is kept as sent.
		{Type: "lxc", VMID: 200, Node: "a", Status: "running", MaxCPU: 1.5, CPU: 0.5},
		// Storage: 2 of 3 bytes = 66.66…% → 66.7.
		{Type: "storage", Node: "a", Storage: "s", Status: "available", Disk: 2, MaxDisk: 3},
	}
	got := aggregate([]serverData{online("x", res)})
	if got.CPUUsage != (CPUUsage{Used: 0.75, Total: 12, Percentage: 6.3}) {
		t.Fatalf("cpu %+v", got.CPUUsage)
	}
	if got.MemoryUsage != (ByteUsage{Used: 1, Total: 3, Percentage: 33.3}) { // 1/3 = 33.33…%
		t.Fatalf("mem %+v", got.MemoryUsage)
	}
	if got.StorageUsage.Percentage != 66.7 || got.TotalContainers != 1 || got.RunningContainers != 1 {
		t.Fatalf("%+v", got)
	}
	g := resourceUsage([]serverData{online("x", res)})
	if len(g) != 2 || g[0].(guests.VM).MaxCPU != 1.5 {
		t.Fatalf("resources %+v", g)
	}
	// A fractional node total (nested or odd reports) stays fractional:
	// 0.5 × 1.5 = 0.75 of 1.5 cores = 50%.
	got = aggregate([]serverData{online("y", []proxmox.Resource{{Type: "node", Status: "online", CPU: 0.5, MaxCPU: 1.5}})})
	if got.CPUUsage != (CPUUsage{Used: 0.75, Total: 1.5, Percentage: 50}) {
		t.Fatalf("cpu %+v", got.CPUUsage)
	}
}

func TestEmptyTenantIsAllZeros(t *testing.T) {
	for _, in := range [][]serverData{nil, {online("empty", nil)}} {
		got := aggregate(in)
		got.Servers = Counts{}
		if !reflect.DeepEqual(got, LiveTenantStats{}) {
			t.Fatalf("%+v", got)
		}
	}
	// Zeros, not NaN, and every field present in JSON.
	b, err := json.Marshal(aggregate(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"totalVMs":0`, `"cpuUsage":{"used":0,"total":0,"percentage":0}`,
		`"storageUsage":{"used":0,"total":0,"percentage":0}`, `"servers":{"total":0,"online":0,"offline":0}`} {
		if !strings.Contains(string(b), f) {
			t.Fatalf("%s lacks %s", b, f)
		}
	}
}

func TestResourceUsageAndNodeStatusShapes(t *testing.T) {
	data := []serverData{online("id-lab", decode(t, clusterJSON)), {ID: "id-down", Name: "down"}}
	data[0].Name = "lab"
	res := resourceUsage(data)
	// 7 guests (templates included) and 7 storage entries (every node's
	// view, whatever its status); nothing of the offline server.
	var nGuests, storages int
	for i, r := range res {
		switch v := r.(type) {
		case guests.VM:
			nGuests++
			if storages > 0 {
				t.Fatalf("guest after storage at %d", i)
			}
			if v.Tags == nil {
				t.Fatalf("nil tags: %+v", v)
			}
		case Storage:
			storages++
			if v.Type != "storage" || v.Content == nil || v.ServerName != "lab" {
				t.Fatalf("%+v", v)
			}
		}
	}
	if nGuests != 7 || storages != 7 {
		t.Fatalf("%d guests, %d storage entries", nGuests, storages)
	}
	b, _ := json.Marshal(res)
	for _, f := range []string{
		`{"serverId":"id-lab","serverName":"lab","node":"n1","vmid":100,"name":"web","type":"qemu","status":"running","template":false,"cpu":0.1,"maxcpu":2,"mem":2147483648,"maxmem":4294967296,"disk":0,"maxdisk":34359738368,"uptime":100,"tags":["prod","web"]}`,
		`{"serverId":"id-lab","serverName":"lab","type":"storage","storage":"ceph","node":"n1","status":"available","shared":true,"plugintype":"rbd","content":["images","rootdir"],"disk":1099511627776,"maxdisk":4398046511104}`,
		`"vmid":9000,"name":"tmpl","type":"qemu","status":"stopped","template":true`,
	} {
		if !strings.Contains(string(b), f) {
			t.Fatalf("resources lack %s:\n%s", f, b)
		}
	}

	nodes := nodeStatus(data)
	want := []NodeStatus{
		{ServerID: "id-lab", ServerName: "lab", Node: "n1", Status: "online", CPU: 0.25, MaxCPU: 8, Mem: 8 * GiB, MaxMem: 32 * GiB, Disk: 5 * GiB, MaxDisk: 50 * GiB, Uptime: 1000},
		{ServerID: "id-lab", ServerName: "lab", Node: "n2", Status: "online", CPU: 0.5, MaxCPU: 4, Mem: 4 * GiB, MaxMem: 16 * GiB, Disk: 5 * GiB, MaxDisk: 50 * GiB, Uptime: 900},
		{ServerID: "id-lab", ServerName: "lab", Node: "n3", Status: "offline", MaxCPU: 16, MaxMem: 64 * GiB, MaxDisk: 50 * GiB},
	}
	if !reflect.DeepEqual(nodes, want) {
		t.Fatalf("\n got %+v\nwant %+v", nodes, want)
	}
	if n := nodeStatus(nil); n == nil || len(n) != 0 {
		t.Fatalf("no servers: %#v", n)
	}
}

// benchServers builds n servers of a 3-node cluster with guests guests each
// (a third of them stopped, one in fifty a template), per-node local storage
// and a shared one, plus pool and sdn entries.
func benchServers(n, guests int) []serverData {
	out := make([]serverData, n)
	for s := range out {
		var res []proxmox.Resource
		res = append(res, proxmox.Resource{ID: "/pool/prod", Type: "pool", Mem: 1, MaxMem: 2})
		for g := range guests {
			typ := "qemu"
			if g%4 == 3 {
				typ = "lxc"
			}
			status := "running"
			if g%3 == 0 {
				status = "stopped"
			}
			res = append(res, proxmox.Resource{ID: fmt.Sprintf("%s/%d", typ, 100+g), Type: typ, VMID: 100 + g,
				Node: fmt.Sprintf("pve%d", g%3+1), Status: status, Template: g%50 == 49, CPU: 0.1, MaxCPU: 2,
				Mem: GiB, MaxMem: 4 * GiB, MaxDisk: 32 * GiB, Uptime: 1000, Tags: "a;b"})
		}
		for i := 1; i <= 3; i++ {
			node := fmt.Sprintf("pve%d", i)
			res = append(res,
				proxmox.Resource{Type: "node", Node: node, Status: "online", CPU: 0.3, MaxCPU: 32, Mem: 100 * GiB, MaxMem: 256 * GiB},
				proxmox.Resource{Type: "storage", Node: node, Storage: "local", Status: "available", Disk: 10 * GiB, MaxDisk: 100 * GiB},
				proxmox.Resource{Type: "storage", Node: node, Storage: "ceph", Shared: true, Status: "available", Disk: TiB, MaxDisk: 4 * TiB},
				proxmox.Resource{Type: "sdn", Node: node, SDN: "localnetwork", Status: "ok"})
		}
		out[s] = serverData{ID: fmt.Sprint(s), Name: fmt.Sprint(s), Online: true, Resources: res}
	}
	return out
}

func TestBenchFixtureCounts(t *testing.T) {
	got := aggregate(benchServers(20, 500))
	// Per server: 500 guests, lxc when g%4 == 3 (125), qemu otherwise (375);
	// templates g%50 == 49: g = 49, 99, …, 499 (10), of which lxc when
	// g%4 == 3: 99, 199, 299, 399, 499 (5), qemu 5. So 370 VMs, 120 lxc.
	// Stopped: g%3 == 0 among the non-template qemu.
	if got.TotalVMs != 20*370 || got.TotalContainers != 20*120 || got.Nodes.Total != 60 {
		t.Fatalf("%+v", got)
	}
	// Storage per server: 3 × 10 GiB local + 1 TiB ceph once.
	if got.StorageUsage.Used != 20*(30*GiB+TiB) {
		t.Fatalf("%+v", got.StorageUsage)
	}
}

func BenchmarkAggregate20x500(b *testing.B) {
	servers := benchServers(20, 500)
	b.ReportAllocs()
	for b.Loop() {
		aggregate(servers)
	}
}
