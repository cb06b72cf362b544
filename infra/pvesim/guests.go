package pvesim

import (
	"fmt"
	"strconv"
)

// lookupGuest validates the vmid parameter like PVE's schema and finds the
// guest config on node, failing like PVE::AbstractConfig::load_config.
func (s *Sim) lookupGuest(node, kind, vmidStr string) (*guestState, *apiError) {
	vmid, err := strconv.Atoi(vmidStr)
	if err != nil {
		return nil, paramErr("vmid", fmt.Sprintf("type check ('integer') failed - got '%s'", vmidStr))
	}
	if vmid < 100 {
		return nil, paramErr("vmid", "value must have a minimum value of 100")
	}
	if vmid > 999999999 {
		return nil, paramErr("vmid", "value must have a maximum value of 999999999")
	}
	g, ok := s.guests[vmid]
	if !ok || g.cfg.Node != node || g.cfg.Type != kind {
		dir := "qemu-server"
		if kind == "lxc" {
			dir = "lxc"
		}
		return nil, errf(500, "Configuration file 'nodes/%s/%s/%d.conf' does not exist", node, dir, vmid)
	}
	return g, nil
}

// lxcVMIDString: older pve-container put the hash key (a Perl string) into
// the list entries; PVE 9 sends a number.
func (s *Sim) lxcVMIDString() bool {
	if s.cfg.LXCVMIDString != nil {
		return *s.cfg.LXCVMIDString
	}
	return s.ver.major < 9
}

// guestListEntry mirrors QemuServer::vmstatus / PVE::LXC::vmstatus.
func (s *Sim) guestListEntry(g *guestState, full bool) map[string]any {
	c := g.cfg
	eg := s.effectiveGuest(g)
	odd := c.VMID == s.oddGuest
	status := eg.Status
	if status == "paused" {
		status = "running" // the process runs; qmpstatus tells "paused"
	}
	var cpus any = c.MaxCPU
	if odd {
		cpus = 1.5
	}
	e := map[string]any{
		"vmid": c.VMID, "name": c.Name, "status": status, "cpus": cpus,
		"maxmem": c.MaxMem, "mem": eg.Mem, "maxdisk": c.MaxDisk, "disk": eg.Disk,
		"netin": eg.NetIn, "netout": eg.NetOut, "diskread": eg.DiskRead, "diskwrite": eg.DiskWrite,
		"uptime": eg.Uptime, "cpu": eg.CPU,
	}
	if c.Tags != "" {
		e["tags"] = c.Tags
	}
	if c.Template {
		e["template"] = 1
	}
	if c.Lock != "" {
		e["lock"] = c.Lock
	}
	if eg.Status != "stopped" {
		e["pid"] = 10000 + c.VMID%50000 // deterministic stand-in for the process id
	}
	if c.Type == "qemu" {
		if s.ver.major >= 9 {
			e["memhost"] = memHost(eg)
		}
		if full {
			e["qmpstatus"] = eg.Status
			if eg.Status != "stopped" {
				e["running-machine"] = s.ver.machine
				e["running-qemu"] = s.ver.qemu
			}
		}
	} else {
		e["type"] = "lxc"
		e["maxswap"] = c.MaxSwap
		e["swap"] = 0
		if s.lxcVMIDString() {
			e["vmid"] = strconv.Itoa(c.VMID)
		}
		if s.ver.major >= 9 && eg.Status != "stopped" {
			for _, k := range []string{"pressurecpusome", "pressurecpufull", "pressureiosome",
				"pressureiofull", "pressurememorysome", "pressurememoryfull"} {
				e[k] = "0.00"
			}
		}
	}
	if odd {
		e["vmid"] = strconv.Itoa(c.VMID)
	}
	return e
}

func (s *Sim) hGuestList(node, kind string) (response, *apiError) {
	out := []map[string]any{}
	for _, id := range s.sortedVMIDs() {
		g := s.guests[id]
		if g.cfg.Node == node && g.cfg.Type == kind {
			out = append(out, s.guestListEntry(g, false))
		}
	}
	return response{data: out}, nil
}

func (s *Sim) hGuestCurrent(node, kind, vmidStr string) (response, *apiError) {
	g, aerr := s.lookupGuest(node, kind, vmidStr)
	if aerr != nil {
		return response{}, aerr
	}
	e := s.guestListEntry(g, true)
	ha := map[string]any{"managed": 0}
	if g.hastate != "" {
		ha = map[string]any{"managed": 1, "state": g.hastate}
	}
	e["ha"] = ha
	return response{data: e}, nil
}

// guestActionType maps an action to the task type PVE uses ("" = no such
// action for this guest type).
func guestActionType(kind, action string) string {
	if kind == "qemu" {
		switch action {
		case "start", "stop", "shutdown", "reboot", "reset", "resume":
			return "qm" + action
		case "suspend":
			return "qmpause" // suspend without todisk pauses the VM
		}
		return ""
	}
	switch action {
	case "start", "stop", "shutdown", "reboot":
		return "vz" + action
	}
	return ""
}

// hGuestAction performs a power action synchronously (state changes at
// once) and returns the task's UPID. Preconditions that pve-manager checks
// before forking the worker fail with a 500, as the API does.
func (s *Sim) hGuestAction(id identity, node, kind, vmidStr, action string) (response, *apiError) {
	g, aerr := s.lookupGuest(node, kind, vmidStr)
	if aerr != nil {
		return response{}, aerr
	}
	vmid := g.cfg.VMID
	if id.readOnly {
		return response{}, errf(403, "Permission check failed (/vms/%d, VM.PowerMgmt)", vmid)
	}
	what := "VM"
	if kind == "lxc" {
		what = "CT"
	}
	running := g.status != "stopped"
	now := s.cfg.Clock()
	typ := guestActionType(kind, action)
	switch action {
	case "start":
		if g.cfg.Template {
			if kind == "qemu" {
				return response{}, errf(500, "you can't start a vm if it's a template")
			}
			return response{}, errf(500, "you can't start a CT if it's a template")
		}
		if running {
			return response{}, errf(500, "%s %d already running", what, vmid)
		}
		g.status, g.startedAt = "running", now
		if g.hastate != "" {
			typ, g.hastate = "hastart", "started"
		}
	case "stop", "shutdown":
		if !running && kind == "lxc" {
			return response{}, errf(500, "CT %d not running", vmid)
		}
		if action == "shutdown" && g.status == "paused" {
			return response{}, errf(500, "VM is paused - cannot shutdown")
		}
		g.status, g.startedAt = "stopped", now
		if g.hastate != "" {
			typ, g.hastate = "hastop", "stopped"
		}
	case "reboot":
		if !running {
			return response{}, errf(500, "%s %d not running", what, vmid)
		}
		if g.status == "paused" {
			return response{}, errf(500, "VM is paused - cannot shutdown")
		}
		g.startedAt = now
	case "reset":
		if !running {
			return response{}, errf(500, "VM %d not running", vmid)
		}
		g.status, g.startedAt = "running", now
	case "suspend":
		if !running {
			return response{}, errf(500, "VM %d not running", vmid)
		}
		g.status = "paused"
	case "resume":
		if !running {
			return response{}, errf(500, "VM %d not running", vmid)
		}
		g.status = "running"
	}
	t := s.newTask(node, typ, strconv.Itoa(vmid), id)
	return response{data: t.upid}, nil
}
