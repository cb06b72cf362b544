package pvesim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestAuthToken(t *testing.T) {
	s := newCluster(t, nil)

	r := do(t, s, "GET", "/version", rootToken, nil)
	expectOK(t, r)
	if ct := r.header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Errorf("content-type %q", ct)
	}
	if sv := r.header.Get("Server"); sv != "pve-api-daemon/3.0" {
		t.Errorf("server header %q", sv)
	}
	var v map[string]string
	r.decode(t, &v)
	if v["version"] != "8.2.4" || v["release"] != "8.2" || v["repoid"] == "" {
		t.Errorf("version = %v", v)
	}

	for name, a := range map[string]auth{
		"wrong secret":  tokenAuth(PresetTokenID, "00000000-0000-0000-0000-000000000000"),
		"unknown token": tokenAuth("root@pam!nope", PresetTokenSecret),
		"garbage":       func(r *http.Request) { r.Header.Set("Authorization", "PVEAPIToken=garbage") },
	} {
		r := do(t, s, "GET", "/version", a, nil)
		expectError(t, r, 401, "Authentication failed!")
		if string(r.body) != "" {
			t.Errorf("%s: body %q", name, r.body)
		}
	}
	expectError(t, do(t, s, "GET", "/version", nil, nil), 401, "No ticket")

	// Read-only token may read but not power-manage.
	ro := tokenAuth(PresetReadOnlyTokenID, PresetReadOnlySecret)
	expectOK(t, do(t, s, "GET", "/cluster/resources", ro, nil))
	r = do(t, s, "POST", "/nodes/pve1/qemu/100/status/stop", ro, nil)
	expectError(t, r, 403, "Permission check failed (/vms/100, VM.PowerMgmt)")
	if g, _ := s.Guest("pve1", 100); g.Status != "running" {
		t.Errorf("read-only stop changed state to %s", g.Status)
	}
}

func TestTicketAndCSRF(t *testing.T) {
	s := newCluster(t, nil)

	r := do(t, s, "POST", "/access/ticket", nil, url.Values{"username": {"root@pam"}, "password": {"wrong"}})
	expectError(t, r, 401, "authentication failure")
	data, msg, _ := r.envelope(t)
	if string(data) != "null" || msg != "authentication failure\n" {
		t.Errorf("wrong password body %s", r.body)
	}

	// realm may be given separately
	r = do(t, s, "POST", "/access/ticket", nil, url.Values{"username": {"root"}, "realm": {"pam"}, "password": {PresetPassword}})
	expectOK(t, r)
	var tk struct {
		Username    string         `json:"username"`
		Ticket      string         `json:"ticket"`
		CSRF        string         `json:"CSRFPreventionToken"`
		Cap         map[string]any `json:"cap"`
		ClusterName string         `json:"clustername"`
	}
	r.decode(t, &tk)
	if tk.Username != "root@pam" || tk.ClusterName != "lab" || tk.Cap["vms"] == nil {
		t.Errorf("ticket answer %+v", tk)
	}
	if !regexp.MustCompile(`^PVE:root@pam:[0-9A-F]{8}::[A-Za-z0-9+/=]+$`).MatchString(tk.Ticket) {
		t.Errorf("ticket format %q", tk.Ticket)
	}
	if !regexp.MustCompile(`^[0-9A-F]{8}:[A-Za-z0-9+/]{43}$`).MatchString(tk.CSRF) {
		t.Errorf("csrf format %q", tk.CSRF)
	}

	// Reads need only the cookie.
	expectOK(t, do(t, s, "GET", "/nodes", ticketAuth(tk.Ticket, ""), nil))
	// Writes need the CSRF header too.
	r = do(t, s, "POST", "/nodes/pve1/qemu/100/status/shutdown", ticketAuth(tk.Ticket, ""), nil)
	expectError(t, r, 401, "Permission denied - invalid csrf token")
	r = do(t, s, "POST", "/nodes/pve1/qemu/100/status/shutdown", ticketAuth(tk.Ticket, "0000:bogus"), nil)
	expectError(t, r, 401, "Permission denied - invalid csrf token")
	r = do(t, s, "POST", "/nodes/pve1/qemu/100/status/shutdown", ticketAuth(tk.Ticket, tk.CSRF), nil)
	expectOK(t, r)
	var upid string
	r.decode(t, &upid)
	if !strings.HasSuffix(upid, ":qmshutdown:100:root@pam:") {
		t.Errorf("upid %q", upid)
	}

	// A tampered ticket is rejected; a valid ticket renews a ticket.
	expectError(t, do(t, s, "GET", "/nodes", ticketAuth(tk.Ticket+"x", ""), nil), 401, "Authentication failed!")
	r = do(t, s, "POST", "/access/ticket", nil, url.Values{"username": {"root@pam"}, "password": {tk.Ticket}})
	expectOK(t, r)
}

func TestTicketExpires(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1732600000, 0)}
	s := newCluster(t, func(c *Config) { c.Clock = clk.now })
	r := do(t, s, "POST", "/access/ticket", nil, url.Values{"username": {"root@pam"}, "password": {PresetPassword}})
	expectOK(t, r)
	var tk struct{ Ticket string }
	r.decode(t, &tk)
	expectOK(t, do(t, s, "GET", "/version", ticketAuth(tk.Ticket, ""), nil))
	clk.advance(2*time.Hour + time.Second)
	expectError(t, do(t, s, "GET", "/version", ticketAuth(tk.Ticket, ""), nil), 401, "Authentication failed!")
}

func TestClusterResources(t *testing.T) {
	s := newCluster(t, nil)
	all := resources(t, s, "")
	// 1 pool + 12 guests + 3 nodes + 3 storages x 3 nodes + 1 zone x 3 nodes
	if len(all) != 1+12+3+9+3 {
		t.Fatalf("got %d resources", len(all))
	}
	for typ, want := range map[string]int{"vm": 12, "node": 3, "storage": 9, "sdn": 3} {
		if got := len(resources(t, s, typ)); got != want {
			t.Errorf("type=%s: %d entries, want %d", typ, got, want)
		}
	}
	m := byID(all)

	vm := m["qemu/100"]
	want := map[string]any{
		"vmid": 100.0, "name": "web-01", "node": "pve1", "type": "qemu", "status": "running", "template": 0.0,
		"maxcpu": 2.0, "cpu": 0.05, "mem": float64(2 * GiB), "maxmem": float64(4 * GiB), "disk": 0.0,
		"maxdisk": float64(32 * GiB), "uptime": 1209000.0, "netin": 1.2e9, "netout": 3.4e9,
		"diskread": 5e9, "diskwrite": 7e9, "tags": "prod;web", "pool": "prod",
	}
	for k, v := range want {
		if vm[k] != v {
			t.Errorf("qemu/100 %s = %v (%T), want %v", k, vm[k], vm[k], v)
		}
	}
	if _, ok := vm["hastate"]; ok {
		t.Errorf("qemu/100 has hastate")
	}
	if m["qemu/101"]["hastate"] != "started" {
		t.Errorf("qemu/101 hastate %v", m["qemu/101"]["hastate"])
	}
	if m["lxc/201"]["maxcpu"] != 1.5 {
		t.Errorf("lxc/201 maxcpu %v", m["lxc/201"]["maxcpu"])
	}
	if m["qemu/9000"]["template"] != 1.0 || m["qemu/9000"]["status"] != "stopped" {
		t.Errorf("template entry %v", m["qemu/9000"])
	}
	stopped := m["qemu/104"]
	if stopped["status"] != "stopped" || stopped["cpu"] != 0.0 || stopped["mem"] != 0.0 || stopped["uptime"] != 0.0 {
		t.Errorf("stopped entry %v", stopped)
	}

	// pve1: host 3 GiB + 100 (2 GiB) + 102 (12 GiB) + 200 (64 MiB)
	n1 := m["node/pve1"]
	if n1["mem"] != float64(17*GiB+64*MiB) || n1["maxmem"] != float64(64*GiB) || n1["maxcpu"] != 16.0 ||
		n1["status"] != "online" || n1["cgroup-mode"] != 2.0 || n1["level"] != "" {
		t.Errorf("node/pve1 %v", n1)
	}
	// cpu: 0.02 + (0.05*2 + 0.25*4 + 0.002*1)/16
	if c := n1["cpu"].(float64); c < 0.0888 || c > 0.0889 {
		t.Errorf("node/pve1 cpu %v", c)
	}
	if n1["disk"] != float64(10*GiB) || n1["maxdisk"] != float64(100*GiB) {
		t.Errorf("node/pve1 rootfs %v/%v", n1["disk"], n1["maxdisk"])
	}

	// Shared storage: once per node, identical numbers.
	for _, n := range []string{"pve1", "pve2", "pve3"} {
		st := m["storage/"+n+"/ceph-pool"]
		if st["shared"] != 1.0 || st["disk"] != float64(TiB) || st["maxdisk"] != float64(4*TiB) ||
			st["plugintype"] != "rbd" || st["status"] != "available" || st["content"] != "images,rootdir" {
			t.Errorf("ceph-pool on %s: %v", n, st)
		}
	}
	if l := m["storage/pve2/local-lvm"]; l["disk"] != float64(150*GiB) || l["shared"] != 0.0 {
		t.Errorf("local-lvm on pve2 %v", l)
	}
	if z := m["sdn/pve1/localnetwork"]; z["type"] != "sdn" || z["sdn"] != "localnetwork" || z["status"] != "ok" {
		t.Errorf("sdn entry %v", z)
	}

	// Pool aggregates running members 100,101,102,201,203.
	p := m["/pool/prod"]
	if p["type"] != "pool" || p["pool"] != "prod" ||
		p["mem"] != float64(2*GiB+1536*MiB+12*GiB+256*MiB+768*MiB) || p["maxcpu"] != 11.5 {
		t.Errorf("pool entry %v", p)
	}

	r := do(t, s, "GET", "/cluster/resources?type=pool", rootToken, nil)
	expectError(t, r, 400, "Parameter verification failed.")
	if _, _, errs := r.envelope(t); errs["type"] == "" {
		t.Errorf("missing type error: %s", r.body)
	}
}

func TestNodeOffline(t *testing.T) {
	s := newCluster(t, nil)
	if err := s.SetNodeOnline("pve3", false); err != nil {
		t.Fatal(err)
	}
	m := byID(resources(t, s, ""))
	g := m["qemu/103"]
	if g["status"] != "unknown" || g["vmid"] != 103.0 || g["node"] != "pve3" || g["tags"] != "ci" {
		t.Errorf("guest on offline node %v", g)
	}
	for _, k := range []string{"name", "cpu", "mem", "maxmem", "uptime", "template", "maxcpu"} {
		if _, ok := g[k]; ok {
			t.Errorf("guest on offline node has %s", k)
		}
	}
	n := m["node/pve3"]
	if n["status"] != "offline" {
		t.Errorf("node status %v", n["status"])
	}
	for _, k := range []string{"cpu", "mem", "uptime", "disk", "level"} {
		if _, ok := n[k]; ok {
			t.Errorf("offline node has %s", k)
		}
	}
	if st := m["storage/pve3/local"]; st["status"] != "unknown" || st["disk"] != nil {
		t.Errorf("storage on offline node %v", st)
	}

	r := do(t, s, "GET", "/nodes/pve3/qemu", rootToken, nil)
	if r.status != "595 No route to host" || len(r.body) != 0 {
		t.Errorf("proxied call to offline node: %q %q", r.status, r.body)
	}

	var cs []map[string]any
	r = do(t, s, "GET", "/cluster/status", rootToken, nil)
	expectOK(t, r)
	r.decode(t, &cs)
	if cs[0]["quorate"] != 1.0 || cs[0]["nodes"] != 3.0 || cs[3]["name"] != "pve3" || cs[3]["online"] != 0.0 {
		t.Errorf("cluster status %v", cs)
	}

	var nodes []map[string]any
	r = do(t, s, "GET", "/nodes", rootToken, nil)
	r.decode(t, &nodes)
	if nodes[2]["status"] != "offline" || nodes[2]["cpu"] != nil || nodes[0]["ssl_fingerprint"] != s.Fingerprint() {
		t.Errorf("nodes %v", nodes)
	}

	_ = s.SetNodeOnline("pve3", true)
	if g := byID(resources(t, s, "vm"))["qemu/103"]; g["status"] != "running" || g["name"] != "ci-runner" {
		t.Errorf("back online: %v", g)
	}
}

func TestGuestActions(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1732600000, 0)}
	s := newCluster(t, func(c *Config) { c.Clock = clk.now })

	// Start the stopped VM.
	r := do(t, s, "POST", "/nodes/pve2/qemu/104/status/start", rootToken, nil)
	expectOK(t, r)
	var upid string
	r.decode(t, &upid)
	if want := "UPID:pve2:0000C0DE:0001E240:674560C0:qmstart:104:root@pam!monitor:"; upid != want {
		t.Errorf("upid %q, want %q", upid, want)
	}
	clk.advance(9 * time.Second)
	g, ok := s.Guest("pve2", 104)
	if !ok || g.Status != "running" || g.Uptime != 10 || g.Mem != 2*GiB || g.CPU != 0.01 {
		t.Errorf("after start: %+v", g)
	}

	// Task status.
	r = do(t, s, "GET", "/nodes/pve2/tasks/"+url.PathEscape(upid)+"/status", rootToken, nil)
	expectOK(t, r)
	var ts map[string]any
	r.decode(t, &ts)
	want := map[string]any{
		"status": "stopped", "exitstatus": "OK", "upid": upid, "node": "pve2", "type": "qmstart",
		"id": "104", "user": "root@pam", "tokenid": "monitor", "starttime": 1732600000.0,
		"pid": float64(0xC0DE), "pstart": float64(0x1E240),
	}
	for k, v := range want {
		if ts[k] != v {
			t.Errorf("task %s = %v, want %v", k, ts[k], v)
		}
	}

	// Stop a running VM: usage drops to zero.
	r = do(t, s, "POST", "/nodes/pve1/qemu/100/status/stop", rootToken, nil)
	expectOK(t, r)
	r.decode(t, &upid)
	if !strings.Contains(upid, ":0000C0DF:0001E241:") || !strings.Contains(upid, ":qmstop:100:") {
		t.Errorf("second upid %q", upid)
	}
	g, _ = s.Guest("pve1", 100)
	if g.Status != "stopped" || g.CPU != 0 || g.Mem != 0 || g.Uptime != 0 {
		t.Errorf("after stop: %+v", g)
	}
	if e := byID(resources(t, s, "vm"))["qemu/100"]; e["status"] != "stopped" || e["mem"] != 0.0 {
		t.Errorf("resources after stop: %v", e)
	}
	// Stopping again is fine for qemu; rebooting a stopped VM is not.
	expectOK(t, do(t, s, "POST", "/nodes/pve1/qemu/100/status/stop", rootToken, nil))
	r = do(t, s, "POST", "/nodes/pve1/qemu/100/status/reboot", rootToken, nil)
	expectError(t, r, 500, "VM 100 not running")
	if _, msg, _ := r.envelope(t); msg != "VM 100 not running\n" {
		t.Errorf("message %q", msg)
	}

	// Reboot a running VM keeps it running with fresh uptime.
	expectOK(t, do(t, s, "POST", "/nodes/pve1/qemu/102/status/reboot", rootToken, nil))
	if g, _ := s.Guest("pve1", 102); g.Status != "running" || g.Uptime != 1 {
		t.Errorf("after reboot: %+v", g)
	}

	// Template, unknown vmid, wrong node: qemu decides inside the worker,
	// so the call answers a UPID and the task fails with PVE's message.
	for path, exit := range map[string]string{
		"/nodes/pve1/qemu/9000/status/start": "you can't start a vm if it's a template",
		"/nodes/pve1/qemu/999/status/start":  "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist",
		"/nodes/pve1/qemu/101/status/start":  "Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist",
		"/nodes/pve1/qemu/102/status/start":  "VM 102 already running",
		"/nodes/pve1/qemu/999/status/stop":   "unable to find configuration file for VM 999 on node 'pve1'",
	} {
		expectTaskFailed(t, s, "pve1", do(t, s, "POST", path, rootToken, nil), exit)
	}
	expectError(t, do(t, s, "POST", "/nodes/pve1/qemu/999/status/reboot", rootToken, nil), 500,
		"unable to find configuration file for VM 999 on node 'pve1'")
	expectError(t, do(t, s, "POST", "/nodes/pve1/qemu/abc/status/start", rootToken, nil), 400,
		"Parameter verification failed.")
	expectError(t, do(t, s, "POST", "/nodes/nope/qemu/100/status/start", rootToken, nil), 500,
		"hostname lookup 'nope' failed - failed to get address info for: nope: Name or service not known")

	// Containers use vz* task types and refuse to stop when stopped.
	r = do(t, s, "POST", "/nodes/pve3/lxc/202/status/start", rootToken, nil)
	expectOK(t, r)
	r.decode(t, &upid)
	if !strings.Contains(upid, ":vzstart:202:") {
		t.Errorf("lxc upid %q", upid)
	}
	expectOK(t, do(t, s, "POST", "/nodes/pve3/lxc/202/status/shutdown", rootToken, nil))
	expectError(t, do(t, s, "POST", "/nodes/pve3/lxc/202/status/stop", rootToken, nil), 500, "CT 202 not running")
	expectError(t, do(t, s, "POST", "/nodes/pve3/lxc/202/status/reboot", rootToken, nil), 500, "VM 202 not running")

	// HA-managed guests go through the HA manager.
	r = do(t, s, "POST", "/nodes/pve2/qemu/101/status/shutdown", rootToken, nil)
	expectOK(t, r)
	r.decode(t, &upid)
	if !strings.Contains(upid, ":hastop:101:") {
		t.Errorf("ha upid %q", upid)
	}
	if g, _ := s.Guest("pve2", 101); g.HAState != "stopped" || g.Status != "stopped" {
		t.Errorf("ha guest %+v", g)
	}

	// Suspend/resume.
	expectOK(t, do(t, s, "POST", "/nodes/pve3/qemu/105/status/suspend", rootToken, nil))
	r = do(t, s, "GET", "/nodes/pve3/qemu/105/status/current", rootToken, nil)
	var cur map[string]any
	r.decode(t, &cur)
	if cur["status"] != "running" || cur["qmpstatus"] != "paused" || cur["cpu"] != 0.0 {
		t.Errorf("paused current %v", cur)
	}
	expectOK(t, do(t, s, "POST", "/nodes/pve3/qemu/105/status/resume", rootToken, nil))

	// Wrong method / unknown action.
	expectError(t, do(t, s, "GET", "/nodes/pve1/qemu/100/status/start", rootToken, nil), 501,
		"Method 'GET /nodes/pve1/qemu/100/status/start' not implemented")
	expectError(t, do(t, s, "POST", "/nodes/pve1/lxc/200/status/suspend", rootToken, nil), 501,
		"Method 'POST /nodes/pve1/lxc/200/status/suspend' not implemented")

	// Task list, newest first.
	var tasks []map[string]any
	do(t, s, "GET", "/cluster/tasks", rootToken, nil).decode(t, &tasks)
	if len(tasks) != 14 || tasks[0]["type"] != "qmresume" || tasks[0]["status"] != "OK" {
		t.Errorf("cluster tasks %d %v", len(tasks), tasks[0])
	}
}

func TestTaskDurationAndUnknownTask(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1732600000, 0)}
	s := newCluster(t, func(c *Config) { c.Clock = clk.now; c.TaskDuration = 5 * time.Second })
	var upid string
	do(t, s, "POST", "/nodes/pve2/qemu/104/status/start", rootToken, nil).decode(t, &upid)
	path := "/nodes/pve2/tasks/" + url.PathEscape(upid) + "/status"
	var ts map[string]any
	do(t, s, "GET", path, rootToken, nil).decode(t, &ts)
	if ts["status"] != "running" || ts["exitstatus"] != nil {
		t.Errorf("running task %v", ts)
	}
	clk.advance(5 * time.Second)
	do(t, s, "GET", path, rootToken, nil).decode(t, &ts)
	if ts["status"] != "stopped" || ts["exitstatus"] != "OK" {
		t.Errorf("finished task %v", ts)
	}
	var log []map[string]any
	r := do(t, s, "GET", "/nodes/pve2/tasks/"+url.PathEscape(upid)+"/log", rootToken, nil)
	r.decode(t, &log)
	if len(log) != 1 || log[0]["t"] != "TASK OK" {
		t.Errorf("log %v", log)
	}

	bogus := "UPID:pve2:00001234:00001234:674560C0:qmstart:104:root@pam:"
	r = do(t, s, "GET", "/nodes/pve2/tasks/"+url.PathEscape(bogus)+"/status", rootToken, nil)
	if r.code != 500 || !strings.HasPrefix(r.status, "500 unable to open file") {
		t.Errorf("unknown task: %q", r.status)
	}
	expectError(t, do(t, s, "GET", "/nodes/pve2/tasks/nonsense/status", rootToken, nil), 400, "Parameter verification failed.")
}

func TestGuestLists(t *testing.T) {
	s := newCluster(t, nil)
	var raw []map[string]json.RawMessage
	do(t, s, "GET", "/nodes/pve2/lxc", rootToken, nil).decode(t, &raw)
	if len(raw) != 1 || string(raw[0]["vmid"]) != `"201"` || string(raw[0]["type"]) != `"lxc"` ||
		string(raw[0]["cpus"]) != "1.5" || string(raw[0]["status"]) != `"running"` {
		t.Errorf("lxc list %v", raw)
	}
	do(t, s, "GET", "/nodes/pve1/qemu", rootToken, nil).decode(t, &raw)
	if len(raw) != 3 || string(raw[0]["vmid"]) != "100" || string(raw[2]["template"]) != "1" {
		t.Errorf("qemu list %d entries", len(raw))
	}
	if _, ok := raw[0]["template"]; ok {
		t.Errorf("non-template has template field")
	}

	var st map[string]any
	do(t, s, "GET", "/nodes/pve1/status", rootToken, nil).decode(t, &st)
	mem := st["memory"].(map[string]any)
	ci := st["cpuinfo"].(map[string]any)
	if mem["total"] != float64(64*GiB) || mem["used"] != float64(17*GiB+64*MiB) ||
		ci["cpus"] != 16.0 || ci["sockets"] != 2.0 || ci["cores"] != 8.0 ||
		st["pveversion"] != "pve-manager/8.2.4/faa83925c9641325" || st["uptime"] != 1209600.0 {
		t.Errorf("node status %v", st)
	}
	var storages []map[string]any
	do(t, s, "GET", "/nodes/pve3/storage", rootToken, nil).decode(t, &storages)
	if len(storages) != 3 || storages[0]["storage"] != "ceph-pool" || storages[1]["used"] != float64(30*GiB) {
		t.Errorf("node storage %v", storages)
	}

	if err := s.SetOddGuest(100); err != nil {
		t.Fatal(err)
	}
	do(t, s, "GET", "/nodes/pve1/qemu", rootToken, nil).decode(t, &raw)
	if string(raw[0]["vmid"]) != `"100"` || string(raw[0]["cpus"]) != "1.5" {
		t.Errorf("odd guest list entry vmid=%s cpus=%s", raw[0]["vmid"], raw[0]["cpus"])
	}
	odd := byID(resources(t, s, "vm"))["qemu/100"]
	if odd["vmid"] != "100" || odd["maxcpu"] != 1.5 {
		t.Errorf("odd guest resource %v", odd)
	}
}

func TestVersions(t *testing.T) {
	s9 := newCluster(t, func(c *Config) { c.Version = "9" })
	m := byID(resources(t, s9, ""))
	z := m["network/pve1/zone/localnetwork"]
	if z == nil || z["type"] != "network" || z["network-type"] != "zone" || z["network"] != "localnetwork" {
		t.Errorf("pve9 network entry %v", z)
	}
	if m["sdn/pve1/localnetwork"] != nil {
		t.Errorf("pve9 still has sdn entries")
	}
	if m["qemu/100"]["memhost"] != float64(2*GiB) {
		t.Errorf("pve9 memhost %v", m["qemu/100"]["memhost"])
	}
	if len(resources(t, s9, "sdn")) != 3 {
		t.Errorf("pve9 type=sdn")
	}
	var raw []map[string]json.RawMessage
	do(t, s9, "GET", "/nodes/pve2/lxc", rootToken, nil).decode(t, &raw)
	if string(raw[0]["vmid"]) != "201" {
		t.Errorf("pve9 lxc vmid %s", raw[0]["vmid"])
	}
	var v map[string]string
	do(t, s9, "GET", "/version", rootToken, nil).decode(t, &v)
	if v["version"] != "9.0.3" || v["release"] != "9.0" {
		t.Errorf("pve9 version %v", v)
	}

	s7 := newCluster(t, func(c *Config) { c.Version = "7" })
	for _, e := range resources(t, s7, "") {
		if e["type"] == "network" || e["memhost"] != nil {
			t.Errorf("pve7 entry %v", e)
		}
	}
	do(t, s7, "GET", "/version", rootToken, nil).decode(t, &v)
	if v["version"] != "7.4-3" || v["release"] != "7.4" {
		t.Errorf("pve7 version %v", v)
	}
	var st map[string]any
	do(t, s7, "GET", "/nodes/pve1/status", rootToken, nil).decode(t, &st)
	if st["current-kernel"] != nil {
		t.Errorf("pve7 has current-kernel")
	}
}

func TestStandalone(t *testing.T) {
	s := NewTestSim(t, MustPreset("standalone"))
	var cs []map[string]any
	do(t, s, "GET", "/cluster/status", rootToken, nil).decode(t, &cs)
	if len(cs) != 1 || cs[0]["type"] != "node" || cs[0]["name"] != "pve" || cs[0]["local"] != 1.0 || cs[0]["nodeid"] != 0.0 {
		t.Errorf("standalone status %v", cs)
	}
	all := resources(t, s, "")
	if len(all) != 3+1+2+1 {
		t.Errorf("standalone resources %d", len(all))
	}
	var tk map[string]any
	do(t, s, "POST", "/access/ticket", nil, url.Values{"username": {"root@pam"}, "password": {PresetPassword}}).decode(t, &tk)
	if _, ok := tk["clustername"]; ok {
		t.Errorf("standalone ticket has clustername")
	}
}

func TestUnknownPathsAndCounters(t *testing.T) {
	s := newCluster(t, nil)
	expectError(t, do(t, s, "GET", "/foo", rootToken, nil), 501, "Method 'GET /foo' not implemented")
	expectError(t, do(t, s, "POST", "/version", rootToken, nil), 501, "Method 'POST /version' not implemented")
	expectError(t, do(t, s, "GET", "/nodes/pve1/nonsense", rootToken, nil), 501, "Method 'GET /nodes/pve1/nonsense' not implemented")
	// Unauthenticated unknown paths fail auth first, like pveproxy.
	expectError(t, do(t, s, "GET", "/foo", nil, nil), 401, "No ticket")

	s.ResetRequests()
	for i := 0; i < 3; i++ {
		resources(t, s, "vm")
	}
	do(t, s, "GET", "/version", nil, nil)
	if n := s.Requests("/cluster/resources"); n != 3 {
		t.Errorf("resources counter %d", n)
	}
	if n := s.Requests("/api2/json/version"); n != 1 {
		t.Errorf("version counter %d", n)
	}
	if s.TotalRequests() != 4 {
		t.Errorf("total %d", s.TotalRequests())
	}
	var nextid string
	do(t, s, "GET", "/cluster/nextid", rootToken, nil).decode(t, &nextid)
	if nextid != "107" {
		t.Errorf("nextid %q", nextid)
	}
}

func TestConfigValidation(t *testing.T) {
	cfg := MustPreset("standalone")
	cfg.Addr = "0.0.0.0:8006"
	if _, err := New(cfg); err == nil {
		t.Error("non-loopback address accepted")
	}
	cfg.Addr = "localhost:0"
	if _, err := New(cfg); err != nil {
		t.Errorf("localhost rejected: %v", err)
	}
	cfg = MustPreset("cluster3")
	cfg.Guests[0].Node = "pve9"
	if _, err := New(cfg); err == nil {
		t.Error("guest on unknown node accepted")
	}
	if _, err := ParseConfig([]byte(`{"nodes":[{"name":"a"}],"bogus":1}`)); err == nil {
		t.Error("unknown field accepted")
	}

	// A JSON topology round-trips through ParseConfig.
	raw, err := json.Marshal(MustPreset("cluster3"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	s := NewTestSim(t, parsed)
	if len(resources(t, s, "")) != 28 {
		t.Error("parsed topology differs")
	}
	if _, err := Preset("nope"); err == nil {
		t.Error("unknown preset accepted")
	}
}

func TestExampleTopologyFile(t *testing.T) {
	raw, err := os.ReadFile("testdata/example-topology.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	s := NewTestSim(t, cfg)
	tok := tokenAuth("root@pam!demo", "11111111-2222-4333-8444-555555555555")
	r := do(t, s, "GET", "/cluster/resources", tok, nil)
	expectOK(t, r)
	var list []map[string]any
	r.decode(t, &list)
	m := byID(list)
	if m["lxc/101"]["status"] != "unknown" || m["node/edge2"]["status"] != "offline" ||
		m["network/edge1/zone/localnetwork"] == nil || m["storage/edge2/nfs-share"]["status"] != "unknown" ||
		m["storage/edge1/nfs-share"]["maxdisk"] != float64(TiB) {
		t.Errorf("example topology resources: %v", list)
	}
	// Node root fs defaults to the local dir storage.
	if m["node/edge1"]["disk"] != float64(5*GiB) {
		t.Errorf("edge1 disk %v", m["node/edge1"]["disk"])
	}
}

// expectTaskFailed: the call was accepted (a UPID) and its task stopped
// with exit as exitstatus, "TASK ERROR: <exit>" as its last log line.
func expectTaskFailed(t *testing.T, s *Sim, node string, r result, exit string) {
	t.Helper()
	expectOK(t, r)
	var upid string
	r.decode(t, &upid)
	var ts map[string]any
	do(t, s, "GET", "/nodes/"+node+"/tasks/"+url.PathEscape(upid)+"/status", rootToken, nil).decode(t, &ts)
	if ts["status"] != "stopped" || ts["exitstatus"] != exit {
		t.Errorf("task of %s: %v, want exitstatus %q", upid, ts, exit)
	}
	var log []map[string]any
	do(t, s, "GET", "/nodes/"+node+"/tasks/"+url.PathEscape(upid)+"/log", rootToken, nil).decode(t, &log)
	if len(log) == 0 || log[len(log)-1]["t"] != "TASK ERROR: "+exit {
		t.Errorf("task log %v", log)
	}
}
