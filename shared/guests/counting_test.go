package guests

import (
	"testing"

	"github.com/pvetenant/backend/shared/proxmox"
)

func TestTally(t *testing.T) {
	var g Tally
	for _, r := range []proxmox.Resource{
		{Type: "qemu", Status: "running"}, {Type: "qemu", Status: "stopped"}, {Type: "qemu", Status: "paused"},
		{Type: "qemu", Status: "prelaunch"}, {Type: "qemu", Status: "stopped", Template: true},
		{Type: "qemu", Status: "unknown", NoStats: true}, {Type: "lxc", Status: "unknown", NoStats: true},
		{Type: "lxc", Status: "running"}, {Type: "lxc", Status: "stopped"}, {Type: "node", Status: "online"},
	} {
		g.Add(&r)
	}
	want := Tally{TotalVMs: 4, RunningVMs: 1, StoppedVMs: 1, PausedVMs: 2, TotalContainers: 2, RunningContainers: 1, UnknownGuests: 2}
	if g != want {
		t.Fatalf("got %+v want %+v", g, want)
	}
}

func TestNegativeUsageClamped(t *testing.T) {
	vm := FromResource("s", "n", proxmox.Resource{Type: "lxc", VMID: 200, CPU: -5.75e-05, Mem: -1})
	if vm.CPU != 0 || vm.Mem != 0 {
		t.Fatalf("%+v", vm)
	}
}

func TestPrivilegeWarning(t *testing.T) {
	if c, _ := PrivilegeWarning([]proxmox.Resource{{Type: "node", Node: "a", Status: "online", MaxCPU: 8, MaxMem: 1}}); c != "" {
		t.Fatal(c)
	}
	if c, _ := PrivilegeWarning([]proxmox.Resource{{Type: "node", Node: "a", Status: "offline"}}); c != "" {
		t.Fatal("offline nodes have no figures anyway")
	}
	if c, m := PrivilegeWarning([]proxmox.Resource{{Type: "node", Node: "a", Status: "online"}}); c != LimitedPrivileges || m == "" {
		t.Fatal(c, m)
	}
}
