package listvms_test

import (
	"net/http"
	"testing"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
)

// The contract's role table for list-vms, as statuses, for every role.
func TestActionRoleMatrix(t *testing.T) {
	e := newEnv(t)
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	id := e.AddServer(functest.TenantA, "edge", sim, functest.ServerOpts{})
	roles := []string{functest.SysAdmin, functest.AdminA, functest.ManagerA, functest.ViewerA, functest.AdminB, functest.Nobody, ""}
	want := map[string][]int{
		"list":   {200, 200, 200, 200, 404, 404, 401},
		"reboot": {202, 202, 202, 403, 404, 404, 401}, // guest 100 on node "pve" is running
	}
	for action, statuses := range want {
		for i, user := range roles {
			t.Run(action+"/"+functest.Emails[user], func(t *testing.T) {
				p := obj{"tenantId": functest.TenantA}
				if action != "list" {
					p = obj{"action": action, "tenantId": functest.TenantA, "serverId": id, "node": "pve", "vmid": 100, "type": "qemu"}
				}
				res := functest.Expect(t, e.Call(user, http.MethodPost, fn, p), statuses[i])
				if action == "list" && res.Status == 200 && len(vms(t, res)) != 3 {
					t.Fatalf("%s sees %s", functest.Emails[user], res.Raw)
				}
			})
		}
	}
}
