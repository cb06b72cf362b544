package guests

import "github.com/pvetenant/backend/shared/proxmox"

// Tally counts guests by the contract's rules, refined for what Proxmox
// really reports (issue 13):
//   - templates are not counted;
//   - a guest sent without status data (no "template" field: pve-manager's
//     extract_vm_stats found no RRD entry, as for the guests of a node down
//     for more than ~5 minutes) is counted in UnknownGuests only, since it
//     may be a template and its type's totals would otherwise drift;
//   - a VM whose qemu run state is paused, prelaunch or suspended (reported
//     since PVE 4 by pvestatd) is in TotalVMs and PausedVMs, neither running
//     nor stopped.
type Tally struct {
	TotalVMs          int
	RunningVMs        int
	StoppedVMs        int
	PausedVMs         int
	TotalContainers   int
	RunningContainers int
	UnknownGuests     int
}

// Add counts r if it is a guest.
func (t *Tally) Add(r *proxmox.Resource) {
	if !r.IsGuest() {
		return
	}
	switch {
	case r.NoStats:
		t.UnknownGuests++
		return
	case r.Template:
		return
	}
	if r.Type == "lxc" {
		t.TotalContainers++
		if r.Status == "running" {
			t.RunningContainers++
		}
		return
	}
	t.TotalVMs++
	switch r.Status {
	case "running":
		t.RunningVMs++
	case "stopped":
		t.StoppedVMs++
	case "paused", "prelaunch", "suspended":
		t.PausedVMs++
	}
}

// NonNegative clamps a usage figure at 0: PVE 9.2 has been seen sending an
// LXC cpu of -5.75e-05.
func NonNegative[T int64 | float64](v T) T {
	if v < 0 {
		return 0
	}
	return v
}

// LimitedPrivileges is ServerHealth's warning code when a server's answer
// shows the credentials lack read rights.
const LimitedPrivileges = "limited_privileges"

// PrivilegeWarning returns LimitedPrivileges and a sentence when an online
// node came without maxcpu and maxmem: pve-manager PVE/API2/Cluster.pm
// "resources" drops a node's figures for a caller without Sys.Audit on it,
// and such credentials usually lack VM.Audit and Datastore.Audit too, so
// guests and storage are missing from the same answer.
func PrivilegeWarning(res []proxmox.Resource) (code, message string) {
	for i := range res {
		r := &res[i]
		if r.Type == "node" && r.Status == "online" && r.MaxCPU == 0 && r.MaxMem == 0 {
			return LimitedPrivileges, "Proxmox sends no CPU or memory figures for node " + r.Node +
				": these credentials lack Sys.Audit, so guests and storage may be missing too. Grant the role PVEAuditor on / to the user or, for a privilege-separated API token, to the token itself."
		}
	}
	return "", ""
}
