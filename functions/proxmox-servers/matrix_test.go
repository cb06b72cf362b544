package proxmoxservers_test

import (
	"net/http"
	"testing"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
)

// Every action of the contract for every role, on a server of tenant A:
// the role table, as statuses. Deletes get a server of their own per caller.
func TestActionRoleMatrix(t *testing.T) {
	e := newEnv(t)
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	id := e.AddServer(functest.TenantA, "matrix", sim, functest.ServerOpts{})
	const anon = ""
	roles := []string{functest.SysAdmin, functest.AdminA, functest.ManagerA, functest.ViewerA, functest.AdminB, functest.Nobody, anon}
	want := map[string][]int{ // in the order of roles
		"list":   {200, 200, 200, 200, 404, 404, 401},
		"get":    {200, 200, 200, 200, 404, 404, 401},
		"create": {201, 201, 201, 403, 404, 404, 401},
		"update": {200, 200, 200, 403, 404, 404, 401},
		"test":   {200, 200, 200, 403, 404, 404, 401},
		"delete": {200, 200, 403, 403, 404, 404, 401},
	}
	for action, statuses := range want {
		for i, user := range roles {
			name := functest.Emails[user]
			if user == anon {
				name = "no token"
			}
			t.Run(action+"/"+name, func(t *testing.T) {
				target := id
				if action == "delete" {
					target = e.AddServer(functest.TenantA, "to-delete", sim, functest.ServerOpts{})
				}
				var res functest.Response
				switch action {
				case "list":
					res = e.Call(user, http.MethodGet, fn+"?tenantId="+functest.TenantA, nil)
				case "get":
					res = e.Call(user, http.MethodPost, fn, obj{"action": "get", "serverId": target})
				case "create":
					res = e.Call(user, http.MethodPost, fn, obj{"tenantId": functest.TenantA, "name": "new", "host": "pve.acme.test",
						"tokenId": "root@pam!ci", "tokenSecret": tokenSecret})
				case "update":
					res = e.Call(user, http.MethodPatch, fn, obj{"serverId": target, "name": "renamed by " + name})
				case "test":
					res = e.Call(user, http.MethodPost, fn, obj{"action": "test", "serverId": target})
					if res.Status == 200 && res.Body["ok"] != true {
						t.Fatalf("test of a healthy server: %s", res.Raw)
					}
				case "delete":
					res = e.Call(user, http.MethodDelete, fn, obj{"serverId": target})
				}
				functest.Expect(t, res, statuses[i])
			})
		}
	}
}
