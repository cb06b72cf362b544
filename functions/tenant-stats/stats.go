package tenantstats

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/guests"
	"github.com/pvetenant/backend/shared/proxmox"
)

// LiveTenantStats is the app's LiveTenantStats plus serverStatus.
type LiveTenantStats struct {
	TotalVMs          int             `json:"totalVMs"`
	RunningVMs        int             `json:"runningVMs"`
	StoppedVMs        int             `json:"stoppedVMs"`
	TotalContainers   int             `json:"totalContainers"`
	RunningContainers int             `json:"runningContainers"`
	PausedVMs         int             `json:"pausedVMs"`     // paused, prelaunch or suspended: neither running nor stopped
	UnknownGuests     int             `json:"unknownGuests"` // no status data (node down): in no other count
	Nodes             Counts          `json:"nodes"`
	CPUUsage          CPUUsage        `json:"cpuUsage"`
	MemoryUsage       ByteUsage       `json:"memoryUsage"`
	StorageUsage      ByteUsage       `json:"storageUsage"`
	Servers           Counts          `json:"servers"`
	LastUpdated       string          `json:"lastUpdated"` // RFC 3339, UTC
	ServerStatus      []fanout.Health `json:"serverStatus"`
}

// Counts splits a total into online and offline.
type Counts struct {
	Total   int `json:"total"`
	Online  int `json:"online"`
	Offline int `json:"offline"`
}

// CPUUsage is in cores; fractional (cpu × maxcpu, LXC cpulimit 1.5).
type CPUUsage struct {
	Used       float64 `json:"used"`
	Total      float64 `json:"total"`
	Percentage float64 `json:"percentage"`
}

// ByteUsage is in bytes.
type ByteUsage struct {
	Used       int64   `json:"used"`
	Total      int64   `json:"total"`
	Percentage float64 `json:"percentage"`
}

// Storage is one storage as one node reports it, in get-resource-usage.
// A shared storage appears once per node that sees it, with shared true.
type Storage struct {
	ServerID   string   `json:"serverId"`
	ServerName string   `json:"serverName"`
	Type       string   `json:"type"` // always "storage"
	Storage    string   `json:"storage"`
	Node       string   `json:"node"`
	Status     string   `json:"status"` // available, unknown, ...
	Shared     bool     `json:"shared"`
	PluginType string   `json:"plugintype"`
	Content    []string `json:"content"` // Proxmox's "images,rootdir" as a list
	Disk       int64    `json:"disk"`
	MaxDisk    int64    `json:"maxdisk"`
}

// NodeStatus is one node in get-node-status.
type NodeStatus struct {
	ServerID   string  `json:"serverId"`
	ServerName string  `json:"serverName"`
	Node       string  `json:"node"`
	Status     string  `json:"status"`
	CPU        float64 `json:"cpu"`
	MaxCPU     float64 `json:"maxcpu"`
	Mem        int64   `json:"mem"`
	MaxMem     int64   `json:"maxmem"`
	Disk       int64   `json:"disk"`
	MaxDisk    int64   `json:"maxdisk"`
	Uptime     int64   `json:"uptime"`
}

// serverData is what one server contributed: its /cluster/resources when it
// answered (Online), nothing otherwise.
type serverData struct {
	ID, Name  string
	Online    bool
	Resources []proxmox.Resource
}

// aggregate applies the contract's counting rules. It fills everything but
// LastUpdated and ServerStatus, which describe the request, not the data.
func aggregate(servers []serverData) LiveTenantStats {
	var s LiveTenantStats
	var cpuUsed, cpuTotal float64
	var memUsed, memTotal, diskUsed, diskTotal int64
	// Reused across servers: shared storage is deduplicated per server (a
	// cluster), local storage per node of that server.
	seen := map[storageKey]struct{}{}
	var g guests.Tally
	s.Servers.Total = len(servers)
	for _, sv := range servers {
		if !sv.Online {
			s.Servers.Offline++
			continue
		}
		s.Servers.Online++
		clear(seen)
		for i := range sv.Resources {
			r := &sv.Resources[i]
			switch r.Type {
			case "qemu", "lxc":
				g.Add(r) // shared/guests: paused and unknown guests apart
			case "node":
				s.Nodes.Total++
				if r.Status != "online" {
					s.Nodes.Offline++
					continue
				}
				s.Nodes.Online++
				cpuUsed += guests.NonNegative(r.CPU) * r.MaxCPU
				cpuTotal += r.MaxCPU
				memUsed += r.Mem
				memTotal += r.MaxMem
			case "storage":
				if r.Status != "available" {
					continue
				}
				k := storageKey{storage: r.Storage}
				if !r.Shared {
					k.node = r.Node
				}
				if _, dup := seen[k]; dup {
					continue
				}
				seen[k] = struct{}{}
				diskUsed += r.Disk
				diskTotal += r.MaxDisk
			}
			// pool, sdn, network (and anything newer) are never summed.
		}
	}
	s.TotalVMs, s.RunningVMs, s.StoppedVMs, s.PausedVMs = g.TotalVMs, g.RunningVMs, g.StoppedVMs, g.PausedVMs
	s.TotalContainers, s.RunningContainers, s.UnknownGuests = g.TotalContainers, g.RunningContainers, g.UnknownGuests
	// Cores are rounded to thousandths only to drop floating-point noise
	// (0.088875 × 16 is not exactly 1.422); the percentage uses the sums.
	s.CPUUsage = CPUUsage{Used: round(cpuUsed, 3), Total: round(cpuTotal, 3), Percentage: percent(cpuUsed, cpuTotal)}
	s.MemoryUsage = ByteUsage{Used: memUsed, Total: memTotal, Percentage: percent(float64(memUsed), float64(memTotal))}
	s.StorageUsage = ByteUsage{Used: diskUsed, Total: diskTotal, Percentage: percent(float64(diskUsed), float64(diskTotal))}
	return s
}

type storageKey struct{ storage, node string }

// percent is used / total × 100 to one decimal, 0 when total is 0.
func percent(used, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return round(used/total*100, 1)
}

func round(f float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(f*p) / p
}

// resourceUsage lists guests (templates included, flagged) and storage
// entries of the servers that answered, sorted by server, then guests before
// storage, then node, vmid or storage id.
func resourceUsage(servers []serverData) []any {
	type row struct {
		name, id, node, storage string
		kind, vmid              int
		v                       any
	}
	var rows []row
	for _, sv := range servers {
		if !sv.Online {
			continue
		}
		for _, r := range sv.Resources {
			switch {
			case r.IsGuest():
				rows = append(rows, row{name: sv.Name, id: sv.ID, node: r.Node, vmid: r.VMID, v: guests.FromResource(sv.ID, sv.Name, r)})
			case r.Type == "storage":
				content := strings.FieldsFunc(r.Content, func(c rune) bool { return c == ',' || c == ' ' })
				if content == nil {
					content = []string{}
				}
				rows = append(rows, row{name: sv.Name, id: sv.ID, node: r.Node, storage: r.Storage, kind: 1, v: Storage{
					ServerID: sv.ID, ServerName: sv.Name, Type: "storage", Storage: r.Storage, Node: r.Node,
					Status: r.Status, Shared: r.Shared, PluginType: r.PluginType, Content: content,
					Disk: r.Disk, MaxDisk: r.MaxDisk}})
			}
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.id, b.id), cmp.Compare(a.kind, b.kind),
			cmp.Compare(a.node, b.node), cmp.Compare(a.vmid, b.vmid), cmp.Compare(a.storage, b.storage))
	})
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r.v
	}
	return out
}

// nodeStatus lists the nodes of the servers that answered, offline nodes
// included (with the zeros Proxmox reports for them), sorted by server and node.
func nodeStatus(servers []serverData) []NodeStatus {
	out := []NodeStatus{}
	for _, sv := range servers {
		if !sv.Online {
			continue
		}
		for _, r := range sv.Resources {
			if r.Type != "node" {
				continue
			}
			out = append(out, NodeStatus{ServerID: sv.ID, ServerName: sv.Name, Node: r.Node, Status: r.Status,
				CPU: r.CPU, MaxCPU: r.MaxCPU, Mem: r.Mem, MaxMem: r.MaxMem, Disk: r.Disk, MaxDisk: r.MaxDisk, Uptime: r.Uptime})
		}
	}
	slices.SortStableFunc(out, func(a, b NodeStatus) int {
		return cmp.Or(cmp.Compare(a.ServerName, b.ServerName), cmp.Compare(a.ServerID, b.ServerID), cmp.Compare(a.Node, b.Node))
	})
	return out
}
