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
func (s *Sim) nodeStats(n *nodeState) map[string]any {
	e := map[string]any{
		"id": "node/" + n.cfg.Name, "node": n.cfg.Name, "type": "node",
		"maxcpu": n.cfg.Cores, "maxmem": n.cfg.Mem, "maxdisk": n.cfg.RootTotal,
	}
	if !n.online {
		e["status"] = "offline"
		return e
	}
	cpu, mem := s.nodeUsage(n)
	e["status"] = "online"
	e["cpu"] = cpu
	e["mem"] = mem
	e["disk"] = n.cfg.RootUsed
	e["uptime"] = n.cfg.Uptime
	e["level"] = n.cfg.Level
	return e
}

// clusterResources builds GET /cluster/resources in pve-manager's order:
// pools, guests, nodes, storages, sdn/network. Caller holds s.mu.
func (s *Sim) clusterResources(typ string) []map[string]any {
	out := []map[string]any{}

	pools := map[string]map[string]any{}
	if typ == "" {
		ids := make([]string, 0, len(s.cfg.Pools))
		for _, p := range s.cfg.Pools {
			ids = append(ids, p.ID)
		}
		sort.Strings(ids)
		for _, id := range ids {
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
			e := s.guestResource(g)
			if pe := pools[g.cfg.Pool]; pe != nil {
				addToPool(pe, e)
			}
			out = append(out, e)
		}
	}

	if typ == "" || typ == "node" {
		for _, n := range s.nodes {
			e := s.nodeStats(n)
			e["cgroup-mode"] = n.cfg.CgroupMode
			out = append(out, e)
		}
	}

	if typ == "" || typ == "storage" {
		for _, st := range s.cfg.Storages {
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
			for _, z := range zones {
				if !zoneOnNode(z, node) {
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

// guestResource mirrors extract_vm_stats plus the cluster-wide config
// properties (tags, lock), pool and HA state. Guests on an offline node have
// no RRD data: status "unknown" and no name, template or usage fields.
func (s *Sim) guestResource(g *guestState) map[string]any {
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
	status := eg.Status
	if status == "paused" && s.ver.major < 9 {
		// Before PVE 9 the RRD status is only running/stopped; PVE 9
		// broadcasts the QMP run state.
		status = "running"
	}
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
