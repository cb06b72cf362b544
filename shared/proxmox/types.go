package proxmox

import "strings"

// Version is /version.
type Version struct {
	Version string `json:"version"` // "8.2.4"
	Release string `json:"release"` // "8.2"
	RepoID  string `json:"repoid"`
}

// Resource is one entry of /cluster/resources. Which fields are set depends
// on Type; absent values are zero. Sizes are bytes, CPU is a fraction of
// MaxCPU (0..1), MaxCPU may be fractional for LXC cpulimit.
type Resource struct {
	ID     string `json:"id"`   // "qemu/101", "node/pve1", "storage/pve1/local", "/pool/prod", "network/pve1/zone/localnetwork"
	Type   string `json:"type"` // qemu, lxc, node, storage, pool, sdn, network, openvz
	Node   string `json:"node,omitempty"`
	Status string `json:"status,omitempty"` // running/stopped/unknown, online/offline, available, ok, ...
	Name   string `json:"name,omitempty"`

	VMID     int  `json:"vmid,omitempty"`
	Template bool `json:"template,omitempty"`
	// NoStats marks a guest sent without its status data (no "template"
	// field): pve-manager's extract_vm_stats found no RRD entry, as for the
	// guests of a node down for more than ~5 minutes. Whether it is a
	// template is then unknown.
	NoStats bool `json:"-"`

	CPU     float64 `json:"cpu"`
	MaxCPU  float64 `json:"maxcpu"`
	Mem     int64   `json:"mem"`
	MaxMem  int64   `json:"maxmem"`
	MemHost int64   `json:"memhost,omitempty"` // PVE 9: guest memory as seen by the host
	Disk    int64   `json:"disk"`
	MaxDisk int64   `json:"maxdisk"`
	Uptime  int64   `json:"uptime"`

	NetIn     int64 `json:"netin,omitempty"`
	NetOut    int64 `json:"netout,omitempty"`
	DiskRead  int64 `json:"diskread,omitempty"`
	DiskWrite int64 `json:"diskwrite,omitempty"`

	Tags    string `json:"tags,omitempty"` // PVE separates with ';' (sometimes ',' or ' ')
	Pool    string `json:"pool,omitempty"`
	Lock    string `json:"lock,omitempty"`
	HAState string `json:"hastate,omitempty"`
	Level   string `json:"level,omitempty"` // node subscription level

	Storage    string `json:"storage,omitempty"`
	Shared     bool   `json:"shared,omitempty"`
	PluginType string `json:"plugintype,omitempty"`
	Content    string `json:"content,omitempty"`

	SDN         string `json:"sdn,omitempty"`          // type sdn (PVE <= 8)
	Network     string `json:"network,omitempty"`      // type network (PVE 9)
	NetworkType string `json:"network_type,omitempty"` // "zone" or "fabric"
	ZoneType    string `json:"zone_type,omitempty"`
	Protocol    string `json:"protocol,omitempty"` // fabric protocol

	CGroupMode int    `json:"cgroup_mode,omitempty"`
	HostArch   string `json:"host_arch,omitempty"`
}

// IsGuest reports whether the resource is a VM or container.
func (r Resource) IsGuest() bool { return r.Type == "qemu" || r.Type == "lxc" }

// TagList splits Tags on the separators PVE accepts.
func (r Resource) TagList() []string {
	return strings.FieldsFunc(r.Tags, func(c rune) bool { return c == ';' || c == ',' || c == ' ' })
}

// Node is one entry of /nodes.
type Node struct {
	Node           string  `json:"node"`
	Status         string  `json:"status"` // online, offline, unknown
	CPU            float64 `json:"cpu"`
	MaxCPU         float64 `json:"maxcpu"`
	Mem            int64   `json:"mem"`
	MaxMem         int64   `json:"maxmem"`
	Disk           int64   `json:"disk"`
	MaxDisk        int64   `json:"maxdisk"`
	Uptime         int64   `json:"uptime"`
	Level          string  `json:"level,omitempty"`
	SSLFingerprint string  `json:"ssl_fingerprint,omitempty"`
}

// ClusterStatus is /cluster/status folded into one value. A standalone node
// (no cluster entry) has Clustered=false and Quorate=true.
type ClusterStatus struct {
	Name      string        `json:"name,omitempty"`
	Clustered bool          `json:"clustered"`
	Quorate   bool          `json:"quorate"`
	Version   int           `json:"version,omitempty"` // corosync config version
	NodeCount int           `json:"node_count"`
	Nodes     []ClusterNode `json:"nodes"`
}

// ClusterNode is a "node" entry of /cluster/status.
type ClusterNode struct {
	Name   string `json:"name"`
	NodeID int    `json:"nodeid"`
	IP     string `json:"ip,omitempty"`
	Online bool   `json:"online"`
	Local  bool   `json:"local"`
	Level  string `json:"level,omitempty"`
}

// TaskStatus is /nodes/{node}/tasks/{upid}/status.
type TaskStatus struct {
	UPID       string `json:"upid"`
	Node       string `json:"node"`
	Type       string `json:"type"` // qmstart, vzstop, ...
	ID         string `json:"id"`
	User       string `json:"user"`
	Status     string `json:"status"`               // "running" or "stopped"
	ExitStatus string `json:"exitstatus,omitempty"` // "OK", "WARNINGS: n", or an error message once stopped
	PID        int    `json:"pid"`
	StartTime  int64  `json:"starttime"`
}

// Running reports whether the task is still running.
func (t TaskStatus) Running() bool { return t.Status == "running" }

// Succeeded reports whether the task finished with OK (warnings count as
// success, as in the PVE UI).
func (t TaskStatus) Succeeded() bool {
	return t.Status == "stopped" && (t.ExitStatus == "OK" || strings.HasPrefix(t.ExitStatus, "WARNINGS"))
}

// ProbeResult is what the "test connection" button shows. It is filled as
// far as the probe got, even when Probe returns an error (notably
// Fingerprint on TLS errors, so the UI can offer to pin it).
type ProbeResult struct {
	Version     Version `json:"version"`
	Nodes       int     `json:"nodes"`
	NodesOnline int     `json:"nodes_online"`
	LatencyMS   int64   `json:"latency_ms"`  // round trip of GET /version
	Fingerprint string  `json:"fingerprint"` // SHA-256 of the TLS leaf, uppercase colon hex
	TLSMode     string  `json:"tls_mode"`    // pinned or verified
}

// DecodeStats reports how tolerant decoding went. Problems holds at most a
// few entries of the form "element 7: not an object" or "qemu/101: cpu";
// it names fields, never values.
type DecodeStats struct {
	Total    int      `json:"total"`
	Kept     int      `json:"kept"`
	Skipped  int      `json:"skipped"` // elements dropped (not an object, no identity)
	Partial  int      `json:"partial"` // elements kept with some fields zeroed
	Problems []string `json:"problems,omitempty"`
}

const maxProblems = 10

func (s *DecodeStats) problem(p string) {
	if len(s.Problems) < maxProblems {
		s.Problems = append(s.Problems, p)
	}
}
