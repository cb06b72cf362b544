package pvesim

import (
	"math"
	"sort"
	"strconv"
)

// round10 drops float noise from sums so numbers stay hand-checkable.
func round10(f float64) float64 { return math.Round(f*1e10) / 1e10 }

// nodeUsage: host overhead plus running (and paused) guests, capped.
// Caller holds s.mu.
func (s *Sim) nodeUsage(n *nodeState) (cpu float64, mem int64) {
	cpu, mem = n.cfg.HostCPU, n.cfg.HostMem
	for _, id := range s.sortedVMIDs() {
		g := s.guests[id]
		if g.cfg.Node != n.cfg.Name || g.status == "stopped" {
			continue
		}
		mem += g.cfg.Mem
		if g.status == "running" {
			cpu += g.cfg.CPU * g.cfg.MaxCPU / float64(n.cfg.Cores)
		}
	}
	return round10(math.Min(cpu, 1)), min(mem, n.cfg.Mem)
}

// nodeStats mirrors PVE::API2Tools::extract_node_stats: offline nodes keep
// their max* values (stale RRD) but lose cpu, mem, disk, uptime and level.
// A caller without Sys.Audit on /nodes/<node> gets status (and level) only:
// pve-manager PVE/API2/Cluster.pm "resources" passes !$can_audit as
// $exclude_stats, which drops uptime, cpu, mem, disk and every max*.
func (s *Sim) nodeStats(n *nodeState, id identity) map[string]any {
	e := map[string]any{
		"id": "node/" + n.cfg.Name, "node": n.cfg.Name, "type": "node",
	}
	audit := s.can(id, "/nodes/"+n.cfg.Name, "Sys.Audit")
	if audit {
		e["maxcpu"], e["maxmem"], e["maxdisk"] = n.cfg.Cores, n.cfg.Mem, n.cfg.RootTotal
	}
	if !n.online {
		e["status"] = "offline"
		return e
	}
	e["status"] = "online"
	e["level"] = n.cfg.Level
	if !audit {
		return e
	}
	cpu, mem := s.nodeUsage(n)
	e["cpu"] = cpu
	e["mem"] = mem
	e["disk"] = n.cfg.RootUsed
	e["uptime"] = n.cfg.Uptime
	return e
}

// clusterResources builds GET /cluster/resources in pve-manager's order:
// pools, guests, nodes, storages, sdn/network, each filtered by the
// caller's privileges as pve-manager PVE/API2/Cluster.pm "resources" does
// ($rpcenv->check(..., 1) per entry): guests need VM.Audit on /vms/<vmid>,
// storages Datastore.Audit on /storage/<id>, pools Pool.Audit, zones
// SDN.Audit; nodes are always listed (see nodeStats). Caller holds s.mu.
func (s *Sim) clusterResources(typ string, who identity) []map[string]any {
	out := []map[string]any{}

	pools := map[string]map[string]any{}
	if typ == "" {
		ids := make([]string, 0, len(s.cfg.Pools))
		for _, p := range s.cfg.Pools {
			ids = append(ids, p.ID)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if !s.can(who, "/pool/"+id, "Pool.Audit") {
				continue
			}
			e := map[string]any{"id": "/pool/" + id, "pool": id, "type": "pool"}
			pools[id] = e
			out = append(out, e)
		}
	}

	if typ == "" || typ == "vm" {
		// Perl sorts the vmlist keys as strings.
		ids := s.sortedVMIDs()
		sort.Slice(ids, func(i, j int) bool { return strconv.Itoa(ids[i]) < strconv.Itoa(ids[j]) })
		for _, id := range ids {
			g := s.guests[id]
			if !s.can(who, vmPath(id), "VM.Audit") {
				continue
			}
			e := s.guestResource(g)
			if pe := pools[g.cfg.Pool]; pe != nil {
				addToPool(pe, e)
			}
			out = append(out, e)
		}
	}

	if typ == "" || typ == "node" {
		for _, n := range s.nodes {
			e := s.nodeStats(n, who)
			e["cgroup-mode"] = n.cfg.CgroupMode
			out = append(out, e)
		}
	}

	if typ == "" || typ == "storage" {
		for _, st := range s.cfg.Storages {
			if !s.can(who, "/storage/"+st.ID, "Datastore.Audit") {
				continue
			}
			for _, n := range s.nodes {
				if !storageOnNode(st, n.cfg.Name) {
					continue
				}
				e := map[string]any{
					"id": "storage/" + n.cfg.Name + "/" + st.ID, "storage": st.ID, "node": n.cfg.Name,
					"type": "storage", "plugintype": st.Type, "content": st.Content,
					"shared": boolInt(st.Shared), "status": "unknown",
				}
				if n.online {
					u := storageUsage(st, n.cfg.Name)
					e["status"] = "available"
					e["disk"] = u.Used
					e["maxdisk"] = u.Total
				}
				out = append(out, e)
			}
		}
	}

	if typ == "" || typ == "sdn" {
		names := make([]string, 0, len(s.nodes))
		for _, n := range s.nodes {
			names = append(names, n.cfg.Name)
		}
		sort.Strings(names)
		zones := append([]SDNZone(nil), s.cfg.SDNZones...)
		sort.Slice(zones, func(i, j int) bool { return zones[i].ID < zones[j].ID })
		for _, node := range names {
			if s.ver.major >= 9 && !s.hasZone("localnetwork") && s.can(who, "/sdn/zones/localnetwork", "SDN.Audit") {
				// PVE 9 always adds the default "localnetwork" zone per node
				// (pve-manager PVE/API2/Cluster.pm "resources", type network).
				out = append(out, map[string]any{
					"id": "network/" + node + "/zone/localnetwork", "network": "localnetwork", "network-type": "zone",
					"node": node, "type": "network", "status": "ok",
				})
			}
			for _, z := range zones {
				if !zoneOnNode(z, node) || !s.can(who, "/sdn/zones/"+z.ID, "SDN.Audit") {
					continue
				}
				if s.ver.major >= 9 {
					// PVE 9 reports zones (and fabrics) as "network" resources.
					out = append(out, map[string]any{
						"id": "network/" + node + "/zone/" + z.ID, "network": z.ID, "network-type": "zone",
						"node": node, "type": "network", "status": z.Status,
					})
				} else {
					out = append(out, map[string]any{
						"id": "sdn/" + node + "/" + z.ID, "sdn": z.ID, "node": node,
						"type": "sdn", "status": z.Status,
					})
				}
			}
		}
	}
	return out
}

func zoneOnNode(z SDNZone, node string) bool {
	if len(z.Nodes) == 0 {
		return true
	}
	for _, n := range z.Nodes {
		if n == node {
			return true
		}
	}
	return false
}

// addToPool aggregates running members into the pool entry exactly like
// pve-manager (only guests with uptime count; cpu is maxcpu-weighted).
func addToPool(pe, e map[string]any) {
	up, _ := e["uptime"].(int64)
	if up == 0 {
		return
	}
	if old, ok := pe["uptime"].(int64); !ok || up > old {
		pe["uptime"] = up
	}
	mem, _ := pe["mem"].(int64)
	maxmem, _ := pe["maxmem"].(int64)
	pcpu, _ := pe["cpu"].(float64)
	pmax, _ := pe["maxcpu"].(float64)
	gcpu, _ := e["cpu"].(float64)
	gmax := toFloat(e["maxcpu"])
	pe["mem"] = mem + e["mem"].(int64)
	pe["maxmem"] = maxmem + e["maxmem"].(int64)
	if pmax+gmax > 0 {
		pe["cpu"] = round10((pcpu*pmax + gcpu*gmax) / (pmax + gmax))
	}
	pe["maxcpu"] = pmax + gmax
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return 0
}

// guestResource mirrors PVE::API2Tools::extract_vm_stats plus the cluster-wide config
// properties (tags, lock), pool and HA state. Guests on an offline node have
// no RRD data: status "unknown" and no name, template or usage fields (the
// state of a node down for more than ~5 minutes, once pmxcfs has dropped
// its guests' RRD entries: extract_vm_stats then sets only id, vmid, node,
// type and status "unknown").
func (s *Sim) guestResource(g *guestState) map[string]any {
	if g.held != nil {
		out := make(map[string]any, len(g.held))
		for k, v := range g.held {
			out[k] = v
		}
		return out
	}
	c := g.cfg
	odd := c.VMID == s.oddGuest
	e := map[string]any{
		"id": c.Type + "/" + strconv.Itoa(c.VMID), "vmid": c.VMID, "node": c.Node,
		"type": c.Type, "status": "unknown",
	}
	if odd {
		e["vmid"] = strconv.Itoa(c.VMID)
	}
	if c.Tags != "" {
		e["tags"] = c.Tags
	}
	if c.Lock != "" {
		e["lock"] = c.Lock
	}
	if c.Pool != "" {
		e["pool"] = c.Pool
	}
	if g.hastate != "" {
		e["hastate"] = g.hastate
	}
	if n := s.nodeByNm[c.Node]; n == nil || !n.online {
		return e
	}
	eg := s.effectiveGuest(g)
	// pvestatd broadcasts qemu's own run state (pve-manager
	// PVE/Service/pvestatd.pm update_qemu_status: qmpstatus || status), so
	// "paused" (also "prelaunch", "suspended") shows on every version.
	status := eg.Status
	maxcpu := c.MaxCPU
	if odd {
		maxcpu = 1.5
	}
	e["name"] = c.Name
	e["status"] = status
	e["template"] = boolInt(c.Template)
	e["maxcpu"] = maxcpu
	e["cpu"] = eg.CPU
	e["maxmem"] = c.MaxMem
	e["mem"] = eg.Mem
	e["maxdisk"] = c.MaxDisk
	e["disk"] = eg.Disk
	e["uptime"] = eg.Uptime
	e["netin"] = eg.NetIn
	e["netout"] = eg.NetOut
	e["diskread"] = eg.DiskRead
	e["diskwrite"] = eg.DiskWrite
	if s.ver.major >= 9 {
		e["memhost"] = memHost(eg)
	}
	return e
}

// memHost approximates PVE 9's host-side memory: the qemu process' RSS for
// running VMs, 0 for containers.
func memHost(g Guest) int64 {
	if g.Type == "qemu" && g.Status != "stopped" {
		return g.Mem
	}
	return 0
}

func (s *Sim) hasZone(id string) bool {
	for _, z := range s.cfg.SDNZones {
		if z.ID == id {
			return true
		}
	}
	return false
}
