package listvms_test

import (
	"net/http"
	"testing"

	listvms "github.com/pvetenant/backend/functions/list-vms"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/shared/ratelimit"
)

// The power-action limit counts every attempt before its parameters are
// read, as it did before actions were typed: malformed attempts use it up,
// and past it even a well-formed action is 429 with nothing sent to Proxmox.
// Other users and listing are not limited by it.
func TestPowerLimitComesFirst(t *testing.T) {
	e := functest.New(t, functest.Options{Needs: listvms.Needs, Configure: func(c *functest.Config) {
		var err error
		if c.RateLimits, err = ratelimit.Parse("power_per_user=2/1m"); err != nil {
			t.Fatal(err)
		}
	}}, listvms.New)
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	id := e.AddServer(functest.TenantA, "edge", sim, functest.ServerOpts{})
	reboot := obj{"action": "reboot", "tenantId": functest.TenantA, "serverId": id, "node": "pve", "vmid": 100, "type": "qemu"}

	for range 2 {
		res := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "reboot", "tenantId": functest.TenantA}), 400)
		if res.Code() != "invalid_request" {
			t.Fatalf("malformed: %s", res.Raw)
		}
	}
	before := len(sim.Calls(""))
	if res := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, reboot), 429); res.Code() != "rate_limited" {
		t.Fatalf("past the limit: %s", res.Raw)
	}
	functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "reboot", "tenantId": functest.TenantA}), 429)
	if n := len(sim.Calls("")) - before; n != 0 {
		t.Fatalf("%d requests reached Proxmox past the limit", n)
	}
	functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
	functest.Expect(t, e.Call(functest.AdminA, http.MethodPost, fn, reboot), 202)
}
