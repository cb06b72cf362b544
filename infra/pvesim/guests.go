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

// hGuestAction performs a power action the way PVE answers it: the checks
// the API code makes before forking its worker fail the call with a 500
// (reason = the die message); everything else is decided inside the worker,
// so the call answers 200 with a UPID and the task then stops with the die
// message as exitstatus (a failed task changes nothing). Sources:
// qemu-server src/PVE/API2/Qemu.pm vm_start/vm_stop/vm_shutdown/vm_reboot
// with src/PVE/QemuServer.pm vm_start, _do_vm_stop, vm_reboot,
// check_running and vm_is_paused; pve-container src/PVE/API2/LXC/Status.pm
// vm_start/vm_stop/vm_shutdown/vm_reboot. Locks: PVE::AbstractConfig
// check_lock dies "<VM|CT> is locked (<lock>)". A guest that is not on that
// node with that type is, for PVE, a guest without a config file there.
func (s *Sim) hGuestAction(id identity, node, kind, vmidStr, action string) (response, *apiError) {
	vmid, err := strconv.Atoi(vmidStr)
	if err != nil || vmid < 100 || vmid > 999999999 {
		_, aerr := s.lookupGuest(node, kind, vmidStr) // the schema's parameter error
		return response{}, aerr
	}
	// The method's permission check runs before its code.
	if !s.can(id, vmPath(vmid), "VM.PowerMgmt") {
		return response{}, errf(403, "Permission check failed (/vms/%d, VM.PowerMgmt)", vmid)
	}
	g, _ := s.lookupGuest(node, kind, vmidStr) // nil: no config on this node
	typ := guestActionType(kind, action)
	running := g != nil && g.status != "stopped"
	paused := g != nil && g.status == "paused"
	lock := ""
	if g != nil {
		lock = g.cfg.Lock
	}
	ha := g != nil && g.hastate != ""
	noConf := fmt.Sprintf("unable to find configuration file for VM %d on node '%s'", vmid, node) // assert_config_exists_on_node
	loadConf := fmt.Sprintf("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", node, vmid)
	if kind == "lxc" {
		loadConf = fmt.Sprintf("Configuration file 'nodes/%s/lxc/%d.conf' does not exist", node, vmid)
	}

	// Before the worker: immediate 500s.
	if kind == "qemu" {
		switch action {
		case "shutdown", "reboot":
			if paused {
				return response{}, errf(500, "VM is paused - cannot shutdown")
			}
		}
		if action == "reboot" {
			if g == nil {
				return response{}, errf(500, "%s", noConf)
			}
			if !running {
				return response{}, errf(500, "VM %d not running", vmid)
			}
		}
	} else {
		switch action {
		case "start":
			if running {
				return response{}, errf(500, "CT %d already running", vmid)
			}
		case "stop", "shutdown":
			if !running {
				return response{}, errf(500, "CT %d not running", vmid)
			}
		case "reboot":
			if !running {
				return response{}, errf(500, "VM %d not running", vmid) // sic: pve-container says "VM"
			}
		}
	}
	// Other actions (reset, suspend, resume) keep the simple model.
	switch action {
	case "reset", "suspend", "resume":
		if g == nil {
			return response{}, errf(500, "%s", noConf)
		}
		if !running {
			return response{}, errf(500, "VM %d not running", vmid)
		}
	}

	// The worker.
	now := s.cfg.Clock()
	what := "VM"
	if kind == "lxc" {
		what = "CT"
	}
	if ha && (action == "start" || action == "stop" || action == "shutdown") {
		// HA-managed: the worker only asks ha-manager; it succeeds.
		if action == "start" {
			typ, g.hastate = "hastart", "started"
			if !running {
				g.status, g.startedAt = "running", now
			}
		} else {
			typ, g.hastate = "hastop", "stopped"
			g.status, g.startedAt = "stopped", now
		}
		return response{data: s.newTask(node, typ, strconv.Itoa(vmid), id).upid}, nil
	}
	t := s.newTask(node, typ, strconv.Itoa(vmid), id)
	failed := func(msg string) (response, *apiError) {
		t.fail(msg)
		return response{data: t.upid}, nil
	}
	switch action {
	case "start":
		switch {
		case g == nil:
			return failed(loadConf)
		case g.cfg.Template && kind == "qemu":
			return failed("you can't start a vm if it's a template")
		case g.cfg.Template:
			return failed("you can't start a CT if it's a template")
		case lock != "" && !(kind == "lxc" && lock == "mounted") && !(kind == "qemu" && lock == "suspended"):
			return failed(fmt.Sprintf("%s is locked (%s)", what, lock))
		case running:
			return failed(fmt.Sprintf("VM %d already running", vmid))
		}
		g.status, g.startedAt = "running", now
	case "stop", "shutdown":
		switch {
		case g == nil && kind == "qemu":
			return failed(noConf) // check_running asserts the config exists
		case g == nil:
			return failed(loadConf)
		case !running && kind == "qemu":
			return response{data: t.upid}, nil // _do_vm_stop: nothing to stop, task OK
		case lock != "" && !(kind == "lxc" && action == "stop" && lock == "mounted"):
			return failed(fmt.Sprintf("%s is locked (%s)", what, lock))
		}
		g.status, g.startedAt = "stopped", now
	case "reboot":
		if kind == "qemu" && lock != "" {
			return failed(fmt.Sprintf("VM is locked (%s)", lock)) // vm_reboot -> _do_vm_stop -> check_lock
		}
		g.startedAt = now
	case "reset":
		g.status, g.startedAt = "running", now
	case "suspend":
		g.status = "paused"
	case "resume":
		g.status = "running"
	}
	return response{data: t.upid}, nil
}
