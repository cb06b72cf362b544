package hardening_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pvetenant/backend/functions/catalog"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/localserver"
	"github.com/pvetenant/backend/infra/pvesim"
)

type obj = functest.Obj

// snapshot is a digest of every row of every table a function can write.
func snapshot(t *testing.T, e *functest.Env) string {
	t.Helper()
	h := sha256.New()
	for _, table := range []string{"public.tenants", "public.user_tenant_assignments", "public.proxmox_servers",
		"public.profiles", "public.user_roles", "private.proxmox_server_credentials", "public.audit_log", "auth.users"} {
		var text string
		if err := e.DB.Pool.QueryRow(context.Background(),
			`select coalesce(string_agg(t::text, E'\n' order by t::text), '') from `+table+` t`).Scan(&text); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s\n%s\n", table, text)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Every demo user without a system role tries every action of every
// function against the ids of a tenant they have no role in: tenants,
// servers, guests, members. Not one succeeds; each answer is 403 or 404;
// the database and the other tenant's Proxmox servers are unchanged.
func TestCrossTenantBattery(t *testing.T) {
	e := functest.New(t, functest.Options{Needs: catalog.Merge()}, localserver.Handler)
	simA := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	simB := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	serverA := e.AddServer(functest.TenantA, "acme-lab", simA, functest.ServerOpts{})
	serverB := e.AddServer(functest.TenantB, "globex-pve", simB, functest.ServerOpts{})

	type world struct{ tenant, server, node, member string }
	acme := world{functest.TenantA, serverA, "pve2", functest.ViewerA}
	globex := world{functest.TenantB, serverB, "pve", functest.AdminB}
	attackers := []struct {
		user        string
		own, target world
	}{
		{functest.AdminA, acme, globex}, {functest.ManagerA, acme, globex}, {functest.ViewerA, acme, globex},
		{functest.AdminB, globex, acme},
		{functest.Nobody, world{}, acme}, {functest.Nobody, world{}, globex},
	}
	server := func(w world, extra obj) obj {
		p := obj{"tenantId": w.tenant, "name": "x", "host": "pve.example.com", "tokenId": "root@pam!ci", "tokenSecret": "s3cret-value"}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	before := snapshot(t, e)
	simA.ResetRequests()
	simB.ResetRequests()
	attempts := 0
	for _, a := range attackers {
		v, own := a.target, a.own
		type call struct {
			fn     string
			method string
			params obj
		}
		calls := []call{
			{"proxmox-servers", "GET", obj{"tenantId": v.tenant}},
			{"proxmox-servers", "POST", obj{"action": "get", "serverId": v.server}},
			{"proxmox-servers", "POST", server(v, nil)},
			{"proxmox-servers", "PATCH", obj{"serverId": v.server, "name": "pwned"}},
			{"proxmox-servers", "PATCH", obj{"serverId": v.server, "isActive": false}},
			{"proxmox-servers", "DELETE", obj{"serverId": v.server}},
			{"proxmox-servers", "POST", obj{"action": "test", "serverId": v.server}},
			{"proxmox-servers", "POST", server(v, obj{"action": "test", "host": "127.0.0.1", "port": simB.Port()})},
			{"list-vms", "POST", obj{"tenantId": v.tenant}},
			{"list-vms", "POST", obj{"tenantId": v.tenant, "serverId": v.server}},
			{"tenant-stats", "POST", obj{"action": "get-live-stats", "tenantId": v.tenant}},
			{"tenant-stats", "POST", obj{"action": "get-resource-usage", "tenantId": v.tenant}},
			{"tenant-stats", "POST", obj{"action": "get-node-status", "tenantId": v.tenant}},
			{"tenants", "POST", obj{"action": "get", "tenantId": v.tenant}},
			{"tenants", "POST", obj{"action": "update", "tenantId": v.tenant, "name": "pwned"}},
			{"tenants", "POST", obj{"action": "delete", "tenantId": v.tenant}},
			{"tenants", "POST", obj{"action": "create", "name": "mine now"}},
			{"tenants", "POST", obj{"action": "list-users", "tenantId": v.tenant}},
			{"tenants", "POST", obj{"action": "assign-user", "tenantId": v.tenant, "userId": a.user, "role": "admin"}},
			{"tenants", "POST", obj{"action": "assign-user", "tenantId": v.tenant, "email": functest.Emails[a.user], "role": "admin"}},
			{"tenants", "POST", obj{"action": "update-user-role", "tenantId": v.tenant, "userId": v.member, "role": "viewer"}},
			{"tenants", "POST", obj{"action": "remove-user", "tenantId": v.tenant, "userId": v.member}},
			{"tenants", "POST", obj{"action": "lookup-users", "tenantId": v.tenant, "query": "bob@globex.test"}},
			{"tenants", "POST", obj{"action": "list-audit", "tenantId": v.tenant}},
		}
		for _, act := range []string{"start", "stop", "shutdown", "reboot"} {
			guest := obj{"action": act, "tenantId": v.tenant, "serverId": v.server, "node": v.node, "vmid": 100, "type": "qemu"}
			calls = append(calls, call{"list-vms", "POST", guest})
		}
		upid := "UPID:" + v.node + ":0000C0DE:0001E240:674560C9:qmstart:100:root@pam!monitor:"
		calls = append(calls, call{"list-vms", "POST", obj{"action": "task-status", "tenantId": v.tenant, "serverId": v.server, "node": v.node, "upid": upid}})
		if own.tenant != "" {
			calls = append(calls, call{"list-vms", "POST", obj{"action": "task-status", "tenantId": own.tenant, "serverId": v.server, "node": v.node, "upid": upid}})
		}
		if own.tenant != "" {
			// Mixing ids: my tenant, their server or member.
			calls = append(calls,
				call{"list-vms", "POST", obj{"tenantId": own.tenant, "serverId": v.server}},
				call{"list-vms", "POST", obj{"action": "start", "tenantId": own.tenant, "serverId": v.server, "node": v.node, "vmid": 100, "type": "qemu"}},
				call{"proxmox-servers", "PATCH", obj{"serverId": own.server, "tenantId": v.tenant}},
				call{"tenants", "POST", obj{"action": "update-user-role", "tenantId": own.tenant, "userId": v.member, "role": "admin"}},
				call{"tenants", "POST", obj{"action": "remove-user", "tenantId": own.tenant, "userId": v.member}},
			)
		}
		for _, c := range calls {
			attempts++
			res := e.Call(a.user, c.method, c.fn, c.params)
			if res.Status != http.StatusForbidden && res.Status != http.StatusNotFound {
				t.Errorf("%s %s %s %v: status %d: %s", functest.Emails[a.user], c.method, c.fn, c.params, res.Status, res.Raw)
			}
			for _, leak := range []string{"globex-pve", "acme-lab", "Globex", "ACME", "bob@globex.test", "victor@acme.test"} {
				if strings.Contains(res.Raw, leak) && !strings.Contains(fmt.Sprint(c.params), leak) {
					t.Errorf("%s %s: the answer names %q: %s", c.fn, c.params["action"], leak, res.Raw)
				}
			}
		}
		// my-permissions answers, but reveals nothing.
		res := functest.Expect(t, e.Call(a.user, "POST", "tenants", obj{"action": "my-permissions", "tenantId": v.tenant}), 200)
		if res.Body["role"] != nil || res.Body["canView"] != false {
			t.Errorf("my-permissions for another tenant: %s", res.Raw)
		}
	}
	if after := snapshot(t, e); after != before {
		t.Fatal("the database changed during the battery")
	}
	for name, sim := range map[string]*pvesim.Sim{"ACME's": simA, "Globex's": simB} {
		for path, n := range sim.RequestPaths() {
			if strings.Contains(path, "/status/") {
				t.Fatalf("a power action reached %s server: %s x%d", name, path, n)
			}
		}
	}
	t.Logf("%d cross-tenant attempts, 0 successes", attempts)
}
