package listvms_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
)

// matrixSim: one node "pve" with a guest per state and type.
//
//	qemu: 100 running, 101 stopped, 102 paused, 103 locked (backup, running), 104 template; 199 missing
//	lxc:  200 running, 201 stopped, 203 locked (backup, running), 204 template; 299 missing
//
// A container has no paused state in /cluster/resources (a frozen CT reports
// "running"), so the lxc "paused" cell is a running CT (202).
func matrixSim(t *testing.T) *pvesim.Sim {
	cfg := pvesim.MustPreset("standalone")
	cfg.Guests = []pvesim.Guest{
		{VMID: 100, Type: "qemu", Node: "pve", Status: "running"},
		{VMID: 101, Type: "qemu", Node: "pve", Status: "stopped"},
		{VMID: 102, Type: "qemu", Node: "pve", Status: "paused"},
		{VMID: 103, Type: "qemu", Node: "pve", Status: "running", Lock: "backup"},
		{VMID: 104, Type: "qemu", Node: "pve", Status: "stopped", Template: true},
		{VMID: 200, Type: "lxc", Node: "pve", Status: "running"},
		{VMID: 201, Type: "lxc", Node: "pve", Status: "stopped"},
		{VMID: 202, Type: "lxc", Node: "pve", Status: "running"},
		{VMID: 203, Type: "lxc", Node: "pve", Status: "running", Lock: "backup"},
		{VMID: 204, Type: "lxc", Node: "pve", Status: "stopped", Template: true},
	}
	return pvesim.NewTestSim(t, cfg)
}

type auditRow struct {
	action, outcome, exit, upid string
}

func auditRows(t *testing.T, e *functest.Env, serverID string, vmid int) []auditRow {
	t.Helper()
	rows, err := e.DB.Pool.Query(context.Background(), `select action, coalesce(after->>'outcome', ''), coalesce(after->>'exitstatus', ''),
		coalesce(after->>'upid', '') from public.audit_log where target_type = 'guest' and after->>'server_id' = $1
		and (after->>'vmid')::int = $2 order by id`, serverID, vmid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.action, &r.outcome, &r.exit, &r.upid); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// Every cell of {qemu, lxc} × {start, stop, shutdown, reboot} × {running,
// stopped, paused, locked, template, missing}: the answer is what PVE would
// make true, the guest's state changes only when the action succeeded, and
// the audit trail records exactly the actions that happened.
func TestPowerActionMatrix(t *testing.T) {
	e := newEnv(t)
	type cell struct {
		status int
		code   string
		after  string // guest status afterwards ("" = unchanged / none)
	}
	ok := func(after string) cell { return cell{202, "", after} }
	no := func(status int, code string) cell { return cell{status, code, ""} }
	vmids := map[string]map[string]int{
		"qemu": {"running": 100, "stopped": 101, "paused": 102, "locked": 103, "template": 104, "missing": 199},
		"lxc":  {"running": 200, "stopped": 201, "paused": 202, "locked": 203, "template": 204, "missing": 299},
	}
	want := map[string]map[string]cell{
		"running": {"start": no(409, "guest_already_running"), "stop": ok("stopped"), "shutdown": ok("stopped"), "reboot": ok("running")},
		"stopped": {"start": ok("running"), "stop": no(409, "guest_not_running"), "shutdown": no(409, "guest_not_running"), "reboot": no(409, "guest_not_running")},
		"locked":  {"start": no(409, "guest_locked"), "stop": no(409, "guest_locked"), "shutdown": no(409, "guest_locked"), "reboot": no(409, "guest_locked")},
		"template": {"start": no(409, "guest_is_template"), "stop": no(409, "guest_is_template"),
			"shutdown": no(409, "guest_is_template"), "reboot": no(409, "guest_is_template")},
		"missing": {"start": no(404, "guest_not_found"), "stop": no(404, "guest_not_found"), "shutdown": no(404, "guest_not_found"), "reboot": no(404, "guest_not_found")},
	}
	pausedQemu := map[string]cell{"start": no(409, "guest_already_running"), "stop": ok("stopped"),
		"shutdown": no(409, "guest_paused"), "reboot": no(409, "guest_paused")}
	for _, typ := range []string{"qemu", "lxc"} {
		for _, state := range []string{"running", "stopped", "paused", "locked", "template", "missing"} {
			for _, action := range []string{"start", "stop", "shutdown", "reboot"} {
				name := fmt.Sprintf("%s/%s/%s", typ, state, action)
				t.Run(name, func(t *testing.T) {
					sim := matrixSim(t) // a fresh guest per cell
					id := e.AddServer(functest.TenantA, name, sim, functest.ServerOpts{})
					vmid := vmids[typ][state]
					w := want[state][action]
					if state == "paused" {
						w = pausedQemu[action]
						if typ == "lxc" {
							w = want["running"][action]
						}
					}
					before, _ := sim.Guest("pve", vmid)
					res := e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": action, "tenantId": functest.TenantA,
						"serverId": id, "node": "pve", "vmid": vmid, "type": typ})
					if res.Status != w.status || res.Code() != w.code {
						t.Fatalf("%d %q, want %d %q: %s", res.Status, res.Code(), w.status, w.code, res.Raw)
					}
					g, _ := sim.Guest("pve", vmid)
					mine := auditRows(t, e, id, vmid)
					if w.status == 202 {
						if g.Status != w.after {
							t.Errorf("guest is %s after %s, want %s", g.Status, action, w.after)
						}
						if res.Body["status"] != "stopped" || res.Body["exitstatus"] != "OK" {
							t.Errorf("answer %s", res.Raw)
						}
						if len(mine) != 1 || mine[0].action != "guest."+action || mine[0].outcome != "succeeded" {
							t.Errorf("audit %+v", mine)
						}
						// The row, the quorum (/cluster/status, issue 14), the
						// action, one task status: the task had finished by
						// the first poll.
						if n := sim.TotalRequests(); n != 4 {
							t.Errorf("%d requests: %v", n, sim.RequestPaths())
						}
						return
					}
					if len(mine) != 0 {
						t.Errorf("a refused action is in the audit trail: %+v", mine)
					}
					if g.Status != before.Status {
						t.Errorf("refused %s changed the guest: %s -> %s", action, before.Status, g.Status)
					}
					if n := sim.Requests("/nodes/pve/" + typ + "/" + fmt.Sprint(vmid) + "/status/" + action); n != 0 {
						t.Errorf("a refused action reached Proxmox %d times", n)
					}
				})
			}
		}
	}
	// Refused cells never reached Proxmox, so the trail holds only the
	// succeeded ones: 2 types × (running 3 + stopped 1 + paused) cells.
	var n int
	if err := e.DB.Pool.QueryRow(context.Background(), `select count(*) from public.audit_log where target_type = 'guest'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := (3 + 1 + 1) + (3 + 1 + 3); n != want {
		t.Errorf("%d audit rows, want %d", n, want)
	}
}

// The guest's row lags (pvestatd broadcasts every 10 s): the pre-check lets
// the action through, Proxmox accepts it and the task fails. The answer is
// 409 with PVE's exitstatus, the guest is unchanged and the audit trail says
// failed, never done.
func TestFailedTaskIsRefusalNotSuccess(t *testing.T) {
	e := newEnv(t)
	sim := matrixSim(t)
	id := e.AddServer(functest.TenantA, "m", sim, functest.ServerOpts{})
	call := func(action string, vmid int, typ string) functest.Response {
		return e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": action, "tenantId": functest.TenantA,
			"serverId": id, "node": "pve", "vmid": vmid, "type": typ})
	}
	// qemu 101 looks stopped but was started meanwhile.
	if err := sim.HoldGuestRow(101, true); err != nil {
		t.Fatal(err)
	}
	_ = sim.SetGuestStatus(101, "running")
	res := functest.Expect(t, call("start", 101, "qemu"), 409)
	if res.Code() != "guest_already_running" || !strings.Contains(res.Body["error"].(string), "VM 101 already running") {
		t.Fatalf("%s", res.Raw)
	}
	if rows := auditRows(t, e, id, 101); len(rows) != 1 || rows[0].action != "guest.start_failed" || rows[0].outcome != "failed" ||
		rows[0].exit != "VM 101 already running" || !strings.HasPrefix(rows[0].upid, "UPID:pve:") {
		t.Fatalf("audit %+v", rows)
	}
	// A backup took the lock after the row was broadcast: task fails.
	_ = sim.SetGuestStatus(101, "stopped")
	_ = sim.HoldGuestRow(101, false)
	_ = sim.HoldGuestRow(101, true)
	_ = sim.SetGuestLock(101, "backup")
	res = functest.Expect(t, call("start", 101, "qemu"), 409)
	if res.Code() != "guest_locked" || !strings.Contains(res.Body["error"].(string), "VM is locked (backup)") {
		t.Fatalf("%s", res.Raw)
	}
	if g, _ := sim.Guest("pve", 101); g.Status != "stopped" {
		t.Fatalf("failed start changed the guest: %s", g.Status)
	}
	// LXC refuses a start of a running CT at once (before its worker): the
	// reason reaches the user, the trail records a failed attempt.
	_ = sim.HoldGuestRow(201, true)
	_ = sim.SetGuestStatus(201, "running")
	res = functest.Expect(t, call("start", 201, "lxc"), 409)
	if res.Code() != "guest_already_running" || !strings.Contains(res.Body["error"].(string), "CT 201 already running") {
		t.Fatalf("%s", res.Raw)
	}
	if rows := auditRows(t, e, id, 201); len(rows) != 1 || rows[0].action != "guest.start_failed" || rows[0].upid != "" {
		t.Fatalf("audit %+v", rows)
	}
	// No audit row of these says the action was done.
	var done int
	_ = e.DB.Pool.QueryRow(context.Background(), `select count(*) from public.audit_log where action in ('guest.start', 'guest.stop', 'guest.shutdown', 'guest.reboot')`).Scan(&done)
	if done != 0 {
		t.Fatalf("%d failed actions recorded as done", done)
	}
}

// A task still running when list-vms stops following: 202 running, and the
// trail says running; task-status then follows it to the end.
func TestRunningTaskAndTaskStatus(t *testing.T) {
	e := newEnv(t)
	cfg := pvesim.MustPreset("standalone")
	clock := &fakeClock{}
	cfg.Clock = clock.Now
	cfg.TaskDuration = 30e9 // 30 s on the simulator's clock, which the test moves
	sim := pvesim.NewTestSim(t, cfg)
	id := e.AddServer(functest.TenantA, "edge", sim, functest.ServerOpts{})
	res := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "start", "tenantId": functest.TenantA,
		"serverId": id, "node": "pve", "vmid": 102, "type": "qemu"}), 202)
	upid, _ := res.Body["upid"].(string)
	if res.Body["status"] != "running" || upid == "" {
		t.Fatalf("%s", res.Raw)
	}
	if rows := auditRows(t, e, id, 102); len(rows) != 1 || rows[0].action != "guest.start" || rows[0].outcome != "running" {
		t.Fatalf("audit %+v", rows)
	}
	ts := func(user string, p obj) functest.Response {
		q := obj{"action": "task-status", "tenantId": functest.TenantA, "serverId": id, "node": "pve", "upid": upid}
		for k, v := range p {
			q[k] = v
		}
		return e.Call(user, http.MethodPost, fn, q)
	}
	st := functest.Expect(t, ts(functest.ViewerA, nil), 200)
	if st.Body["status"] != "running" || st.Body["exitstatus"] != nil || st.Body["startedAt"] == nil {
		t.Fatalf("%s", st.Raw)
	}
	clock.Advance(31e9)
	st = functest.Expect(t, ts(functest.ViewerA, nil), 200)
	if st.Body["status"] != "stopped" || st.Body["exitstatus"] != "OK" {
		t.Fatalf("%s", st.Raw)
	}
	// Malformed UPID, other node, unknown task, stranger.
	if r := functest.Expect(t, ts(functest.ViewerA, obj{"upid": "UPID:pve:nope"}), 400); r.Code() != "invalid_upid" {
		t.Fatalf("%s", r.Raw)
	}
	functest.Expect(t, ts(functest.ViewerA, obj{"node": "pve2"}), 400)
	other := strings.Replace(upid, ":qmstart:", ":qmstop:", 1)
	if r := functest.Expect(t, ts(functest.ViewerA, obj{"upid": other}), 404); r.Code() != "task_not_found" {
		t.Fatalf("%s", r.Raw)
	}
	functest.Expect(t, ts(functest.AdminB, nil), 404)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		c.t = time.Now()
	}
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.Now()
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A token without VM.PowerMgmt: PVE's 403 reason reaches the user and the
// trail records a failed attempt.
func TestPowerWithoutPowerMgmt(t *testing.T) {
	e := newEnv(t)
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	id := e.AddServer(functest.TenantA, "lab", sim, functest.ServerOpts{TokenID: pvesim.PresetAuditorTokenID, Secret: pvesim.PresetAuditorSecret})
	res := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "start", "tenantId": functest.TenantA,
		"serverId": id, "node": "pve2", "vmid": 104, "type": "qemu"}), 502)
	if res.Code() != "proxmox_auth_error" || !strings.Contains(res.Body["error"].(string), "Permission check failed (/vms/104, VM.PowerMgmt)") {
		t.Fatalf("%s", res.Raw)
	}
	if rows := auditRows(t, e, id, 104); len(rows) != 1 || rows[0].action != "guest.start_failed" {
		t.Fatalf("audit %+v", rows)
	}
}
