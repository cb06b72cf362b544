package proxmox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func byID(rs []Resource) map[string]Resource {
	m := make(map[string]Resource, len(rs))
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

func TestDecodeResourcesVersions(t *testing.T) {
	tests := []struct {
		file  string
		total int
		types map[string]int
		check func(t *testing.T, m map[string]Resource)
	}{
		{
			file:  "pve7_cluster_resources.json",
			total: 15,
			types: map[string]int{"qemu": 3, "lxc": 2, "node": 2, "storage": 5, "pool": 1, "sdn": 2},
			check: func(t *testing.T, m map[string]Resource) {
				vm := m["qemu/100"]
				if vm.VMID != 100 || vm.Name != "win2019-dc" || vm.Status != "running" || vm.MaxCPU != 4 ||
					vm.MaxMem != 8589934592 || vm.HAState != "started" || vm.Pool != "prod" || vm.Uptime != 1209876 {
					t.Errorf("qemu/100 = %+v", vm)
				}
				if !m["qemu/9000"].Template || m["qemu/101"].Template {
					t.Errorf("template flags wrong")
				}
				if got := m["qemu/101"].TagList(); len(got) != 2 || got[0] != "web" {
					t.Errorf("tags = %v", got)
				}
				if !m["storage/pve1/nfs-backup"].Shared || m["storage/pve1/local"].Shared {
					t.Errorf("shared flags wrong")
				}
				if s := m["storage/pve1/local-lvm"]; s.PluginType != "lvmthin" || s.Content != "rootdir,images" || s.MaxDisk != 374538444800 {
					t.Errorf("local-lvm = %+v", s)
				}
				if n := m["node/pve1"]; n.CGroupMode != 2 || n.Level != "c" || n.MaxCPU != 16 {
					t.Errorf("node/pve1 = %+v", n)
				}
				if p := m["/pool/prod"]; p.Pool != "prod" || p.MaxCPU != 6 {
					t.Errorf("pool = %+v", p)
				}
				if s := m["sdn/pve1/vxzone"]; s.SDN != "vxzone" || s.Status != "ok" {
					t.Errorf("sdn = %+v", s)
				}
			},
		},
		{
			file:  "pve8_cluster_resources.json",
			total: 24,
			types: map[string]int{"qemu": 5, "lxc": 2, "node": 3, "storage": 7, "pool": 2, "sdn": 5},
			check: func(t *testing.T, m map[string]Resource) {
				if ct := m["lxc/200"]; ct.MaxCPU != 1.5 || ct.VMID != 200 {
					t.Errorf("lxc cpulimit: %+v", ct)
				}
				if vm := m["qemu/103"]; vm.Status != "unknown" || vm.Name != "" || vm.VMID != 103 || vm.Node != "pve-c" {
					t.Errorf("unknown guest: %+v", vm)
				}
				if n := m["node/pve-c"]; n.Status != "offline" || n.CPU != 0 || n.Mem != 0 || n.Uptime != 0 || n.MaxMem != 67307839488 {
					t.Errorf("offline node: %+v", n)
				}
				if vm := m["qemu/102"]; vm.Lock != "backup" {
					t.Errorf("lock: %+v", vm)
				}
				if s := m["storage/pve-c/local"]; s.Status != "unknown" || s.MaxDisk != 0 {
					t.Errorf("unknown storage: %+v", s)
				}
				if p := m["/pool/empty"]; p.Type != "pool" || p.CPU != 0 {
					t.Errorf("empty pool: %+v", p)
				}
			},
		},
		{
			file:  "pve9_cluster_resources.json",
			total: 20,
			types: map[string]int{"qemu": 3, "lxc": 2, "node": 2, "storage": 5, "pool": 1, "network": 6, "sdn": 1},
			check: func(t *testing.T, m map[string]Resource) {
				if vm := m["qemu/100"]; vm.MemHost != 3019898880 || vm.Mem != 2684354560 {
					t.Errorf("memhost: %+v", vm)
				}
				if n := m["network/pve9-1/fabric/underlay"]; n.Network != "underlay" || n.NetworkType != "fabric" || n.Protocol != "openfabric" || n.Node != "pve9-1" {
					t.Errorf("fabric: %+v", n)
				}
				if n := m["network/pve9-1/zone/vlanz"]; n.ZoneType != "vlan" || n.NetworkType != "zone" {
					t.Errorf("zone: %+v", n)
				}
				if n := m["sdn/pve9-3/vlanz"]; n.ZoneType != "vlan" || n.SDN != "vlanz" {
					t.Errorf("legacy sdn: %+v", n)
				}
				if !m["lxc/104"].Template {
					t.Errorf("ct template")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			rs, st, err := DecodeResources(readFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if st.Total != tc.total || st.Kept != tc.total || st.Skipped != 0 || st.Partial != 0 {
				t.Fatalf("stats = %+v", st)
			}
			counts := map[string]int{}
			for _, r := range rs {
				counts[r.Type]++
				if r.ID == "" {
					t.Errorf("empty id: %+v", r)
				}
				if r.IsGuest() && r.VMID < 100 {
					t.Errorf("guest without vmid: %+v", r)
				}
			}
			for typ, n := range tc.types {
				if counts[typ] != n {
					t.Errorf("type %s: got %d want %d (all: %v)", typ, counts[typ], n, counts)
				}
			}
			tc.check(t, byID(rs))
		})
	}
}

func TestDecodeResourcesOddValues(t *testing.T) {
	rs, st, err := DecodeResources(readFixture(t, "odd_cluster_resources.json"))
	if err != nil {
		t.Fatal(err)
	}
	// 21 elements: 4 non-objects and {"foo":"bar"} are skipped; bad-cpu,
	// bad-vmid and fractional-vmid are kept with the bad fields zeroed.
	if st.Total != 21 || st.Skipped != 5 || st.Kept != 16 || st.Partial != 3 {
		t.Fatalf("stats = %+v", st)
	}
	for _, p := range st.Problems {
		if strings.Contains(p, "abc") || strings.Contains(p, "cores") {
			t.Errorf("problem leaks a value: %q", p)
		}
	}
	m := byID(rs)

	if r := m["lxc/300"]; r.MaxCPU != 1.5 || r.CPU != 0.5 {
		t.Errorf("maxcpu 1.5: %+v", r)
	}
	if r := m["qemu/301"]; r.Status != "unknown" || r.Name != "" || r.VMID != 301 {
		t.Errorf("unknown guest: %+v", r)
	}
	if r := m["node/pve3"]; r.Status != "offline" || r.Uptime != 0 || r.CPU != 0 || r.MaxCPU != 8 {
		t.Errorf("offline node: %+v", r)
	}
	if r := m["node/pve4"]; r.Status != "unknown" || r.MaxMem != 0 {
		t.Errorf("unknown node: %+v", r)
	}
	if r := m["qemu/302"]; r.VMID != 302 || r.Uptime != 42 || r.MaxMem != 2147483648 || r.Mem != 1073741824 || r.MaxCPU != 2 || r.CPU != 0.25 {
		t.Errorf("numbers as strings: %+v", r)
	}
	for _, id := range []string{"qemu/303", "qemu/304", "qemu/305"} {
		if !m[id].Template {
			t.Errorf("%s: template not decoded", id)
		}
	}
	if r := m["qemu/306"]; r.Name != "" || r.Template || r.CPU != 0 || r.Tags != "" || r.VMID != 306 {
		t.Errorf("nulls: %+v", r)
	}
	if r := m["storage/pve1/nas"]; !r.Shared || r.Disk != 1099511627776 || r.MaxDisk != 2199023255552 {
		t.Errorf("string shared/disk: %+v", r)
	}
	if r := m["storage/pve1/usb"]; r.Shared {
		t.Errorf("shared false: %+v", r)
	}
	if r, ok := m["qemu/666"]; !ok || r.CPU != 0 || r.MaxCPU != 0 || r.Mem != 0 || r.Name != "bad-cpu" || r.Status != "running" {
		t.Errorf("bad-cpu entry: %+v (present=%v)", r, ok)
	}
	if r, ok := m["qemu/307"]; !ok || r.Name != "no-id" {
		t.Errorf("missing id not synthesized: %+v", r)
	}
	if r := m["qemu/308"]; r.VMID != 308 || r.Name != "bad-vmid" {
		t.Errorf("bad vmid recovered from id: %+v", r)
	}
	if r := m["qemu/309"]; r.VMID != 309 {
		t.Errorf("fractional vmid: %+v", r)
	}
	if r := m["qemu/310"]; r.Name != `escäped "name"` || len(r.TagList()) != 4 {
		t.Errorf("escaped name/tags: %+v %v", r, r.TagList())
	}
}

func TestDecodeResourcesNotArray(t *testing.T) {
	for _, in := range []string{``, `{}`, `{"data":{}}`, `{"data":null}`, `"x"`, `[1,2`, `{"data":[{"id":"a"}`} {
		if _, _, err := DecodeResources([]byte(in)); err == nil {
			t.Errorf("DecodeResources(%q): expected error", in)
		}
	}
	rs, st, err := DecodeResources([]byte(`{"data":[]}`))
	if err != nil || len(rs) != 0 || st.Total != 0 {
		t.Errorf("empty list: %v %v %+v", rs, err, st)
	}
}

func TestFlexScalars(t *testing.T) {
	nums := []struct {
		in  string
		f   float64
		i   int64
		bad bool
	}{
		{`1`, 1, 1, false}, {`1.5`, 1.5, 1, false}, {`"101"`, 101, 101, false}, {`" 7 "`, 7, 7, false},
		{`""`, 0, 0, false}, {`null`, 0, 0, false}, {`true`, 1, 1, false}, {`false`, 0, 0, false},
		{`1e3`, 1000, 1000, false}, {`"abc"`, 0, 0, true}, {`{}`, 0, 0, true}, {`[]`, 0, 0, true},
		{`"NaN"`, 0, 0, true}, {`-3`, -3, -3, false}, {`9007199254740993`, 9007199254740992, 9007199254740993, false},
	}
	for _, tc := range nums {
		var n fNum
		if err := json.Unmarshal([]byte(tc.in), &n); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if n.bad != tc.bad || (!tc.bad && (n.f != tc.f || n.i != tc.i)) {
			t.Errorf("fNum(%s) = %+v", tc.in, n)
		}
	}
	bools := []struct {
		in   string
		want bool
		bad  bool
	}{
		{`1`, true, false}, {`0`, false, false}, {`true`, true, false}, {`false`, false, false},
		{`"1"`, true, false}, {`"0"`, false, false}, {`"yes"`, true, false}, {`"off"`, false, false},
		{`null`, false, false}, {`""`, false, false}, {`"maybe"`, false, true}, {`{}`, false, true},
	}
	for _, tc := range bools {
		var b fBool
		if err := json.Unmarshal([]byte(tc.in), &b); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if b.b != tc.want || b.bad != tc.bad {
			t.Errorf("fBool(%s) = %+v", tc.in, b)
		}
	}
	strs := []struct {
		in   string
		want string
		bad  bool
	}{
		{`"a"`, "a", false}, {`"a\nb"`, "a\nb", false}, {`12`, "12", false}, {`null`, "", false},
		{`true`, "", true}, {`{"x":1}`, "", true}, {`["a"]`, "", true},
	}
	for _, tc := range strs {
		var s fStr
		if err := json.Unmarshal([]byte(tc.in), &s); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if s.s != tc.want || s.bad != tc.bad {
			t.Errorf("fStr(%s) = %+v", tc.in, s)
		}
	}
}

func TestDecodeNodes(t *testing.T) {
	nodes, st, err := decodeNodes(readFixture(t, "pve8_nodes.json"))
	if err != nil || st.Kept != 3 {
		t.Fatalf("nodes: %v %+v", err, st)
	}
	if nodes[0].SSLFingerprint == "" || nodes[0].MaxCPU != 32 || nodes[2].Status != "offline" || nodes[2].Mem != 0 {
		t.Errorf("nodes = %+v", nodes)
	}
	nodes, st, err = decodeNodes([]byte(`[{"node":"a","status":"online","maxcpu":"4"},"x",{"status":"online"}]`))
	if err != nil || len(nodes) != 1 || st.Skipped != 2 || nodes[0].MaxCPU != 4 {
		t.Errorf("odd nodes: %+v %+v %v", nodes, st, err)
	}
}

func TestDecodeClusterStatus(t *testing.T) {
	cs, _, err := decodeClusterStatus(readFixture(t, "pve8_cluster_status.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !cs.Clustered || cs.Name != "homelab" || !cs.Quorate || cs.NodeCount != 3 || cs.Version != 7 || len(cs.Nodes) != 3 {
		t.Fatalf("cluster = %+v", cs)
	}
	if !cs.Nodes[0].Local || !cs.Nodes[0].Online || cs.Nodes[2].Online || cs.Nodes[1].IP != "192.168.10.12" || cs.Nodes[2].NodeID != 3 {
		t.Errorf("nodes = %+v", cs.Nodes)
	}

	cs, _, err = decodeClusterStatus(readFixture(t, "standalone_cluster_status.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cs.Clustered || !cs.Quorate || cs.NodeCount != 1 || cs.Nodes[0].Name != "pve" {
		t.Errorf("standalone = %+v", cs)
	}

	cs, _, err = decodeClusterStatus([]byte(`[{"type":"cluster","name":"c","quorate":"0","nodes":"2"},{"type":"node","name":"n1","online":"1"},{"type":"weird"}]`))
	if err != nil || cs.Quorate || cs.NodeCount != 2 || len(cs.Nodes) != 1 || !cs.Nodes[0].Online {
		t.Errorf("odd cluster status = %+v %v", cs, err)
	}
}

func TestDecodeVersionTaskUPID(t *testing.T) {
	v, err := decodeVersion([]byte(`{"version":"9.0.3","release":"9.0","repoid":"025864202ebb6109","console":"html5"}`))
	if err != nil || v.Version != "9.0.3" || v.Release != "9.0" || v.RepoID != "025864202ebb6109" {
		t.Errorf("version = %+v %v", v, err)
	}
	if _, err := decodeVersion([]byte(`{"release":"9.0"}`)); err == nil {
		t.Error("version without version field accepted")
	}
	if _, err := decodeVersion([]byte(`[]`)); err == nil {
		t.Error("array accepted as version")
	}

	ts, err := decodeTask([]byte(`{"upid":"UPID:pve1:000A1B2C:0B3C4D5E:66F1A2B3:qmstart:101:root@pam:","node":"pve1","pid":662316,"pstart":"188631390","starttime":1727111859,"type":"qmstart","id":"101","user":"root@pam","status":"stopped","exitstatus":"OK"}`))
	if err != nil || !ts.Succeeded() || ts.Running() || ts.PID != 662316 || ts.StartTime != 1727111859 {
		t.Errorf("task = %+v %v", ts, err)
	}

	upid, err := decodeUPID([]byte(`"UPID:pve1:000A1B2C:0B3C4D5E:66F1A2B3:qmstart:101:root@pam!ci:"`))
	if err != nil || !strings.HasPrefix(upid, "UPID:pve1:") {
		t.Errorf("upid = %q %v", upid, err)
	}
	for _, in := range []string{`null`, `""`, `"not a upid"`, `{}`, `42`} {
		if _, err := decodeUPID([]byte(in)); err == nil {
			t.Errorf("decodeUPID(%s) accepted", in)
		}
	}
}

// makeResources builds a /cluster/resources payload with n guests in the
// shapes PVE 8 sends, plus nodes and storage.
func makeResources(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"data":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		vmid := 100 + i
		node := fmt.Sprintf("pve%d", i%5+1)
		if i%4 == 0 {
			fmt.Fprintf(&b, `{"id":"lxc/%d","vmid":%d,"name":"ct-%d","node":"%s","type":"lxc","status":"running","template":0,"uptime":%d,"maxcpu":1.5,"cpu":0.0123,"maxmem":1073741824,"mem":201326592,"maxdisk":8589934592,"disk":2147483648,"netin":3928475601,"netout":1283746501,"diskread":592834560,"diskwrite":2039485440,"tags":"dev;web"}`,
				vmid, vmid, i, node, 1000+i)
		} else {
			fmt.Fprintf(&b, `{"id":"qemu/%d","vmid":%d,"name":"vm-%d","node":"%s","type":"qemu","status":"running","template":0,"uptime":%d,"maxcpu":4,"cpu":0.0921873645,"maxmem":8589934592,"mem":5368709120,"maxdisk":68719476736,"disk":0,"netin":192837465012,"netout":98234765123,"diskread":39485763584,"diskwrite":483920384000,"tags":"k8s;prod","hastate":"started","pool":"k8s"}`,
				vmid, vmid, i, node, 1000+i)
		}
	}
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&b, `,{"id":"node/pve%d","node":"pve%d","type":"node","status":"online","level":"c","uptime":2592300,"cpu":0.0934562,"maxcpu":32,"mem":54760833024,"maxmem":135013904384,"disk":21474836480,"maxdisk":100861726720,"cgroup-mode":2}`, i, i)
		fmt.Fprintf(&b, `,{"id":"storage/pve%d/local","storage":"local","node":"pve%d","type":"storage","plugintype":"dir","status":"available","shared":0,"content":"iso,backup,vztmpl","disk":21474836480,"maxdisk":100861726720}`, i, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func BenchmarkDecodeResources500(b *testing.B) {
	payload := makeResources(500)
	// What go-proxmox hands us: the "data" member.
	data := unwrapData(payload)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs, st, err := decodeList(data, decodeResource)
		if err != nil || len(rs) != 510 || st.Skipped != 0 {
			b.Fatalf("decode: %v %d %+v", err, len(rs), st)
		}
	}
}

// BenchmarkDecodeResources500Std is the baseline: plain encoding/json into a
// strict struct (what go-proxmox's ClusterResource decode costs).
func BenchmarkDecodeResources500Std(b *testing.B) {
	type strict struct {
		ID, Type, Node, Status, Name, Tags, Pool, HAState, Storage, PluginType, Content, Level         string
		VMID, Template, Uptime, Mem, MaxMem, Disk, MaxDisk, NetIn, NetOut, DiskRead, DiskWrite, Shared int64
		CPU, MaxCPU                                                                                    float64
		CGroupMode                                                                                     int `json:"cgroup-mode"`
	}
	data := unwrapData(makeResources(500))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var rs []strict
		if err := json.Unmarshal(data, &rs); err != nil {
			b.Fatal(err)
		}
	}
}
