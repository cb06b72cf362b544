package tenantstats_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/proxmox"
)

// A privilege-separated token without ACL sees 3/3 nodes online and
// nothing else (pve-manager filters /cluster/resources by privilege): the
// dashboard says so instead of showing a healthy, empty datacenter. A
// PVEAuditor token's dashboard has its figures and no warning.
func TestLimitedPrivilegesWarning(t *testing.T) {
	e := newEnv(t, 0, 2*time.Second)
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	e.AddServer(functest.TenantA, "noprivs", sim, functest.ServerOpts{TokenID: pvesim.PresetNoPrivTokenID, Secret: pvesim.PresetNoPrivSecret})
	e.AddServer(functest.TenantA, "auditor-token", sim, functest.ServerOpts{TokenID: pvesim.PresetAuditorTokenID, Secret: pvesim.PresetAuditorSecret})
	res := functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
	s := liveStats(t, res)
	byName := map[string]fanout.Health{}
	for _, h := range s.ServerStatus {
		byName[h.Name] = h
	}
	np, au := byName["noprivs"], byName["auditor-token"]
	if np.Status != proxmox.StatusOnline || np.Warning != "limited_privileges" || !strings.Contains(np.WarningMessage, "PVEAuditor on /") {
		t.Errorf("no-privilege token: %+v", np)
	}
	if au.Status != proxmox.StatusOnline || au.Warning != "" || au.WarningMessage != "" {
		t.Errorf("auditor token: %+v", au)
	}
	// The figures are the auditor's alone: both rows are the same cluster,
	// counted once through the row that sees the most (issue 14).
	if s.TotalVMs != 7 || s.CPUUsage.Total != 40 || s.Nodes.Online != 3 || s.Servers.Total != 1 {
		t.Errorf("stats %+v", numbers(s))
	}
}

// PVE reports qemu's run state: a paused VM is neither running nor stopped
// (the simulator used to rewrite it to running before PVE 9); a negative
// usage figure is clamped at 0.
func TestPausedVMsAndNegativeUsage(t *testing.T) {
	e := newEnv(t, 0, 2*time.Second)
	cfg := pvesim.MustPreset("cluster3")
	for i := range cfg.Guests {
		if cfg.Guests[i].VMID == 200 {
			cfg.Guests[i].CPU = -5.75e-05 // seen from PVE 9.2 for an LXC
		}
	}
	sim := pvesim.NewTestSim(t, cfg)
	if err := sim.SetGuestStatus(105, "paused"); err != nil {
		t.Fatal(err)
	}
	e.AddServer(functest.TenantA, "lab", sim, functest.ServerOpts{})
	s := liveStats(t, functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200))
	if s.TotalVMs != 7 || s.RunningVMs != 5 || s.StoppedVMs != 1 || s.PausedVMs != 1 || s.UnknownGuests != 0 {
		t.Errorf("counts %+v", numbers(s))
	}
	res := functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"action": "get-resource-usage", "tenantId": functest.TenantA}), 200)
	for _, r := range res.Body["resources"].([]any) {
		m := r.(map[string]any)
		if m["vmid"] == float64(200) && m["cpu"] != 0.0 {
			t.Errorf("negative cpu passed through: %v", m)
		}
	}
}
