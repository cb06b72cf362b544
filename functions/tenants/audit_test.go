package tenants_test

import (
	"fmt"
	"net/http"
	"testing"

	listvms "github.com/pvetenant/backend/functions/list-vms"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
)

func entries(t *testing.T, e *functest.Env, user string, params obj) []map[string]any {
	t.Helper()
	p := obj{"tenantId": functest.TenantA}
	for k, v := range params {
		p[k] = v
	}
	return list(t, functest.Expect(t, call(e, user, "list-audit", p), 200), "entries")
}

// What the function changes lands in the trail, written by the database,
// with the caller as the actor; tenant admins read it newest first.
func TestFunctionCallsAreAudited(t *testing.T) {
	e := newEnv(t)
	functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "userId": functest.Nobody, "role": "viewer"}), 201)
	functest.Expect(t, call(e, functest.AdminA, "update-user-role", obj{"tenantId": functest.TenantA, "userId": functest.Nobody, "role": "manager"}), 200)
	functest.Expect(t, call(e, functest.SysAdmin, "update", obj{"tenantId": functest.TenantA, "name": "ACME Inc"}), 200)
	functest.Expect(t, call(e, functest.Nobody, "remove-user", obj{"tenantId": functest.TenantA, "userId": functest.Nobody}), 200)
	// Refused and idle requests leave nothing.
	functest.Expect(t, call(e, functest.ManagerA, "assign-user", obj{"tenantId": functest.TenantA, "userId": functest.AdminB, "role": "viewer"}), 403)
	functest.Expect(t, call(e, functest.AdminA, "update-user-role", obj{"tenantId": functest.TenantA, "userId": functest.AdminA, "role": "viewer"}), 409)

	got := entries(t, e, functest.AdminA, nil)
	var summary []string
	for _, en := range got {
		summary = append(summary, fmt.Sprintf("%s by %v on %v", en["action"], en["actor_id"], en["target_id"]))
	}
	want := []string{
		"member.removed by " + functest.Nobody + " on " + functest.Nobody,
		"tenant.renamed by " + functest.SysAdmin + " on " + functest.TenantA,
		"member.role_changed by " + functest.AdminA + " on " + functest.Nobody,
		"member.added by " + functest.AdminA + " on " + functest.Nobody,
		// functest.Seed wrote as the table owner: recorded too, without an actor.
		"member.added by <nil> on " + functest.ViewerA,
		"member.added by <nil> on " + functest.ManagerA,
		"member.added by <nil> on " + functest.AdminA,
		"tenant.created by <nil> on " + functest.TenantA,
	}
	if fmt.Sprint(summary) != fmt.Sprint(want) {
		t.Fatalf("trail:\n%v\nwant:\n%v", summary, want)
	}
	renamed := got[1]
	if renamed["before"].(map[string]any)["name"] != "ACME Corp" || renamed["after"].(map[string]any)["name"] != "ACME Inc" ||
		renamed["tenant_id"] != functest.TenantA || renamed["target_type"] != "tenant" {
		t.Fatalf("rename entry: %v", renamed)
	}
	changed := got[2]
	if changed["before"].(map[string]any)["role"] != "viewer" || changed["after"].(map[string]any)["role"] != "manager" {
		t.Fatalf("role change entry: %v", changed)
	}
	if got[3]["before"] != nil || got[0]["after"] != nil {
		t.Fatalf("added/removed entries: %v / %v", got[3], got[0])
	}
	// Paging: limit, then beforeId of the last entry seen.
	page := entries(t, e, functest.AdminA, obj{"limit": 2})
	next := entries(t, e, functest.AdminA, obj{"limit": 2, "beforeId": page[1]["id"]})
	if len(page) != 2 || len(next) != 2 || next[0]["id"] != got[2]["id"] || next[1]["id"] != got[3]["id"] {
		t.Fatalf("pages %v / %v", page, next)
	}
	if n := len(entries(t, e, functest.SysAdmin, nil)); n != len(want) {
		t.Fatalf("system admin reads %d entries", n)
	}
	// B's admin reads B's trail (its creation and its admin), none of A's.
	b := list(t, functest.Expect(t, call(e, functest.AdminB, "list-audit", obj{"tenantId": functest.TenantB}), 200), "entries")
	if len(b) != 2 || b[0]["tenant_id"] != functest.TenantB || b[1]["tenant_id"] != functest.TenantB {
		t.Fatalf("B's trail: %v", b)
	}
	functest.Expect(t, call(e, functest.AdminA, "list-audit", obj{"tenantId": functest.TenantA, "limit": 0}), 400)
	functest.Expect(t, call(e, functest.AdminA, "list-audit", obj{"tenantId": functest.TenantA, "beforeId": "x"}), 400)
}

// list-vms records a guest power action after Proxmox accepted it.
func TestGuestActionsAreAudited(t *testing.T) {
	e := newEnv(t)
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	serverID := e.AddServer(functest.TenantA, "lab", sim, functest.ServerOpts{})
	vms := *e
	vms.Handler = listvms.New(e.Deps)
	power := func(user, action string) functest.Response {
		return vms.Call(user, http.MethodPost, listvms.Name, obj{"action": action, "tenantId": functest.TenantA,
			"serverId": serverID, "node": "pve2", "vmid": 104, "type": "qemu"})
	}
	functest.Expect(t, power(functest.ViewerA, "start"), 403)
	res := functest.Expect(t, power(functest.ManagerA, "start"), 202)
	upid := res.Body["upid"].(string)

	got := entries(t, e, functest.AdminA, obj{"limit": 3})
	// Newest first: the start, then the server the table owner added and
	// gave credentials (no actor).
	if len(got) != 3 || got[1]["action"] != "server.updated" || got[2]["action"] != "server.created" || got[2]["actor_id"] != nil {
		t.Fatalf("trail: %v", got)
	}
	g := got[0]
	after := g["after"].(map[string]any)
	if g["action"] != "guest.start" || g["actor_id"] != functest.ManagerA || g["target_type"] != "guest" ||
		g["target_id"] != serverID+"/pve2/104" || after["upid"] != upid || after["vmid"] != float64(104) ||
		after["type"] != "qemu" || after["node"] != "pve2" || after["server_id"] != serverID {
		t.Fatalf("guest entry: %v", g)
	}
	// A failed action is not recorded.
	functest.Expect(t, power(functest.ManagerA, "reboot"), 202)
	sim.SetFault(pvesim.Fault{Status: 500})
	if res := power(functest.ManagerA, "stop"); res.Status < 500 {
		t.Fatalf("stop against a failing server: %s", res.Raw)
	}
	if n := count(t, e, `select count(*) from public.audit_log where target_type = 'guest'`); n != 2 {
		t.Fatalf("%d guest entries, want start and reboot", n)
	}
}
