package listvms_test

import (
	"net/http"
	"testing"

	listvms "github.com/pvetenant/backend/functions/list-vms"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/shared/proxmox"
)

// A password server whose session is refused later (revoked, password
// changed): pveproxy holds each 401 back 3 s, so the call's 401 and the
// refused re-login take 6 s. The 401 came inside the deadline: the server is
// auth_error, not timeout.
func TestRejectedSessionIsAuthErrorNotTimeout(t *testing.T) {
	e := functest.New(t, functest.Options{Needs: listvms.Needs, Configure: func(c *functest.Config) {
		c.ProxmoxTimeout = proxmox.DefaultTimeout
	}}, listvms.New)
	cfg := pvesim.MustPreset("standalone")
	cfg.AuthFailureDelay = pvesim.RealAuthFailureDelay
	sim := pvesim.NewTestSim(t, cfg)
	e.AddServer(functest.TenantA, "edge", sim, functest.ServerOpts{Password: true})
	list := func() map[string]any {
		res := functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
		return res.Body["servers"].([]any)[0].(map[string]any)
	}
	if h := list(); h["status"] != "online" {
		t.Fatalf("%v", h)
	}
	sim.SetFault(pvesim.Fault{Unauthorized: true})
	if h := list(); h["status"] != "auth_error" {
		t.Fatalf("rejected session: %v", h)
	}
}
