package pvesim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Byte sizes used by defaults and presets.
const (
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
	TiB int64 = 1 << 40
)

// Config is the simulated datacenter: topology, credentials and knobs. It is
// also the schema of the JSON topology file read by cmd/pvesim (see
// ParseConfig). Zero values get sensible, deterministic defaults in New.
type Config struct {
	// Addr is the listen address. Empty means "127.0.0.1:0". Only loopback
	// hosts are accepted: the simulator must never be reachable from outside.
	Addr string `json:"addr,omitempty"`

	// ClusterName empty means a standalone node (no cluster entry in
	// /cluster/status, nodeid 0).
	ClusterName string `json:"cluster_name,omitempty"`

	// Version is the PVE version to imitate: "7", "8", "9" or a full
	// pve-manager version like "8.2.4" / "7.4-3". Default "8.2.4". The major
	// version selects response shapes (e.g. 9 emits "network" resources,
	// "memhost", numeric LXC vmids).
	Version string `json:"version,omitempty"`

	// LocalNode is the node "answering" the API (local: 1 in
	// /cluster/status, its ssl_fingerprint is the simulator's certificate).
	// Default: the first node.
	LocalNode string `json:"local_node,omitempty"`

	Nodes    []Node    `json:"nodes"`
	Guests   []Guest   `json:"guests,omitempty"`
	Storages []Storage `json:"storages,omitempty"`
	Pools    []Pool    `json:"pools,omitempty"`
	SDNZones []SDNZone `json:"sdn_zones,omitempty"`

	Tokens []Token `json:"tokens,omitempty"`
	Users  []User  `json:"users,omitempty"`

	// ACL grants roles on paths, as /etc/pve/user.cfg does (see acl.go).
	// Empty: every user (and every token that is not privilege-separated)
	// may do everything, minus ReadOnly's writes, as before ACLs existed
	// here. A privilege-separated token only ever has what its own entries
	// grant, intersected with its user's rights.
	ACL []ACL `json:"acl,omitempty"`

	// OddGuest, when non-zero, is a vmid whose entries in /cluster/resources
	// and the per-node guest lists carry odd-but-seen-in-the-wild values:
	// vmid as a JSON string and maxcpu/cpus 1.5. Settable at runtime with
	// SetOddGuest.
	OddGuest int `json:"odd_guest,omitempty"`

	// LXCVMIDString overrides the JSON type of "vmid" in /nodes/{node}/lxc.
	// nil means by version: string for PVE 7 and 8, number for PVE 9 (older
	// pve-container used the hash key, a Perl string, as vmid).
	LXCVMIDString *bool `json:"lxc_vmid_string,omitempty"`

	// TaskDuration is how long a task reports status "running" before it is
	// "stopped" with exitstatus "OK". Zero: tasks finish immediately.
	TaskDuration time.Duration `json:"-"`

	// AuthFailureDelay delays 401 answers (real pveproxy waits 3s:
	// RealAuthFailureDelay). Zero by default so tests stay fast.
	AuthFailureDelay time.Duration `json:"-"`

	// Clock returns the current time (UPID start times, ticket ages, uptime
	// of guests started through the API). Default time.Now.
	Clock func() time.Time `json:"-"`

	// Seed makes ticket signatures deterministic. Certificates are always
	// freshly generated (their fingerprint must change on rotation).
	Seed int64 `json:"seed,omitempty"`
}

// RealAuthFailureDelay is how long pveproxy holds back every 401
// (pve-http-server src/PVE/APIServer/AnyEvent.pm).
const RealAuthFailureDelay = 3 * time.Second

// Node is a cluster member.
type Node struct {
	Name string `json:"name"`
	// Offline marks the node as down: its guests turn "unknown", its
	// /nodes/{node}/... endpoints answer 595 like pveproxy proxying to a dead
	// host. Settable at runtime with SetNodeOnline.
	Offline bool `json:"offline,omitempty"`

	Cores    int    `json:"cores,omitempty"`   // logical CPUs (maxcpu); default 4
	Sockets  int    `json:"sockets,omitempty"` // default 1
	CPUModel string `json:"cpu_model,omitempty"`
	Mem      int64  `json:"mem,omitempty"` // total memory in bytes (maxmem); default 8 GiB

	// HostMem/HostCPU are what the host uses by itself. The reported node
	// mem is HostMem + mem of its running guests; cpu is HostCPU + the sum of
	// running guests' cpu*maxcpu divided by Cores (both capped).
	HostMem int64   `json:"host_mem,omitempty"` // default 2 GiB
	HostCPU float64 `json:"host_cpu,omitempty"` // default 0.01

	// RootUsed/RootTotal are the root filesystem (node disk/maxdisk). Default:
	// the node's "local" dir storage numbers, else 10 GiB of 100 GiB.
	RootUsed  int64 `json:"root_used,omitempty"`
	RootTotal int64 `json:"root_total,omitempty"`

	Uptime     int64  `json:"uptime,omitempty"`      // seconds; default 864000
	IP         string `json:"ip,omitempty"`          // default 192.0.2.(11+index); data only, never dialled
	Level      string `json:"level,omitempty"`       // subscription level, "" = none
	CgroupMode int    `json:"cgroup_mode,omitempty"` // default 2
	// Fingerprint is the node certificate fingerprint shown in /nodes. The
	// local node always shows the simulator's real certificate; others
	// default to a value derived from the node name.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Guest is a VM or container. Usage fields (CPU, Mem, Disk, Uptime, Net*,
// Disk*) describe the guest while running; stopped guests report zeros.
// Guest() returns the effective values as the API shows them.
type Guest struct {
	VMID     int    `json:"vmid"`
	Name     string `json:"name,omitempty"` // default "VM <vmid>" / "CT<vmid>" like PVE
	Type     string `json:"type"`           // "qemu" or "lxc"
	Node     string `json:"node"`
	Status   string `json:"status,omitempty"` // running (default), stopped, paused (qemu only)
	Template bool   `json:"template,omitempty"`

	// MaxCPU is vCPUs (qemu sockets*cores) or an LXC's cores/cpulimit, which
	// may be fractional (cpulimit 1.5 => maxcpu 1.5). Default 1.
	MaxCPU  float64 `json:"maxcpu,omitempty"`
	CPU     float64 `json:"cpu,omitempty"`     // fraction 0..1 while running (negative kept, as PVE 9.2 sent); default 0.01
	Mem     int64   `json:"mem,omitempty"`     // used bytes while running; default MaxMem/4
	MaxMem  int64   `json:"maxmem,omitempty"`  // default 2 GiB qemu, 512 MiB lxc
	Disk    int64   `json:"disk,omitempty"`    // used root disk while running (qemu really reports 0)
	MaxDisk int64   `json:"maxdisk,omitempty"` // default 32 GiB qemu, 8 GiB lxc
	MaxSwap int64   `json:"maxswap,omitempty"` // lxc only; default 512 MiB
	Uptime  int64   `json:"uptime,omitempty"`  // seconds while running; default 86400

	NetIn     int64 `json:"netin,omitempty"`
	NetOut    int64 `json:"netout,omitempty"`
	DiskRead  int64 `json:"diskread,omitempty"`
	DiskWrite int64 `json:"diskwrite,omitempty"`

	Tags    string `json:"tags,omitempty"` // semicolon separated, as PVE stores them
	Pool    string `json:"pool,omitempty"`
	HAState string `json:"hastate,omitempty"` // e.g. "started"; HA guests get hastart/hastop tasks
	Lock    string `json:"lock,omitempty"`
}

// Storage is a storage definition. Non-shared storages appear once per node
// with that node's numbers (PerNode, falling back to Used/Total); shared ones
// appear once per node with identical numbers.
type Storage struct {
	ID      string           `json:"id"`
	Type    string           `json:"type"`              // plugintype: dir, lvmthin, rbd, zfspool, nfs, cephfs...
	Content string           `json:"content,omitempty"` // e.g. "images,rootdir"
	Shared  bool             `json:"shared,omitempty"`
	Nodes   []string         `json:"nodes,omitempty"` // restrict to these nodes; empty = all
	Used    int64            `json:"used,omitempty"`
	Total   int64            `json:"total,omitempty"`
	PerNode map[string]Usage `json:"per_node,omitempty"`
}

// Usage is used/total bytes.
type Usage struct {
	Used  int64 `json:"used"`
	Total int64 `json:"total"`
}

// Pool is a resource pool.
type Pool struct {
	ID      string `json:"id"`
	Comment string `json:"comment,omitempty"`
}

// SDNZone is an SDN zone as reported per node (PVE 7/8: type "sdn"
// resources; PVE 9: type "network" resources with network-type "zone").
type SDNZone struct {
	ID     string   `json:"id"`
	Status string   `json:"status,omitempty"` // default "ok"
	Nodes  []string `json:"nodes,omitempty"`  // empty = all nodes
}

// Token is an API token "user@realm!tokenid" with its secret (a UUID in
// real PVE).
type Token struct {
	ID       string `json:"id"`
	Secret   string `json:"secret"`
	ReadOnly bool   `json:"read_only,omitempty"` // writes answer 403 Permission check failed
	// Privsep is PVE's "Privilege Separation" checkbox (on by default in
	// the GUI): the token has only what ACL entries for the token grant.
	Privsep bool `json:"privsep,omitempty"`
}

// User is a password login for /access/ticket.
type User struct {
	ID       string `json:"id"` // user@realm
	Password string `json:"password"`
	ReadOnly bool   `json:"read_only,omitempty"`
	// TFA: the account has a second factor, so /access/ticket answers a
	// half ticket with NeedTFA: 1 that no other call accepts.
	TFA bool `json:"tfa,omitempty"`
}

// ParseConfig decodes a JSON topology, rejecting unknown fields so typos in
// a topology file do not silently fall back to defaults.
func ParseConfig(data []byte) (Config, error) {
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("pvesim: parse topology: %w", err)
	}
	return cfg, nil
}

// clone deep-copies the slices and maps so a Sim never aliases caller data.
func (c Config) clone() Config {
	out := c
	out.Nodes = append([]Node(nil), c.Nodes...)
	out.Guests = append([]Guest(nil), c.Guests...)
	out.Pools = append([]Pool(nil), c.Pools...)
	out.Tokens = append([]Token(nil), c.Tokens...)
	out.Users = append([]User(nil), c.Users...)
	out.ACL = append([]ACL(nil), c.ACL...)
	out.Storages = make([]Storage, len(c.Storages))
	for i, st := range c.Storages {
		st.Nodes = append([]string(nil), st.Nodes...)
		if st.PerNode != nil {
			m := make(map[string]Usage, len(st.PerNode))
			for k, v := range st.PerNode {
				m[k] = v
			}
			st.PerNode = m
		}
		out.Storages[i] = st
	}
	out.SDNZones = make([]SDNZone, len(c.SDNZones))
	for i, z := range c.SDNZones {
		z.Nodes = append([]string(nil), z.Nodes...)
		out.SDNZones[i] = z
	}
	if c.LXCVMIDString != nil {
		v := *c.LXCVMIDString
		out.LXCVMIDString = &v
	}
	return out
}

// normalize fills defaults and validates. It works on a clone.
func (c *Config) normalize() error {
	if len(c.Nodes) == 0 {
		return fmt.Errorf("pvesim: config needs at least one node")
	}
	if _, err := checkLoopbackAddr(c.Addr); err != nil {
		return err
	}
	if _, err := parseVersion(c.Version); err != nil {
		return err
	}
	if c.ClusterName != "" && !validClusterName(c.ClusterName) {
		return fmt.Errorf("pvesim: invalid cluster name %q", c.ClusterName)
	}
	if c.ClusterName == "" && len(c.Nodes) > 1 {
		return fmt.Errorf("pvesim: %d nodes need a cluster name", len(c.Nodes))
	}

	nodes := map[string]bool{}
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if n.Name == "" || strings.ContainsAny(n.Name, "/ \t") {
			return fmt.Errorf("pvesim: invalid node name %q", n.Name)
		}
		if nodes[n.Name] {
			return fmt.Errorf("pvesim: duplicate node %q", n.Name)
		}
		nodes[n.Name] = true
		if n.Cores <= 0 {
			n.Cores = 4
		}
		if n.Sockets <= 0 {
			n.Sockets = 1
		}
		if n.CPUModel == "" {
			n.CPUModel = "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz"
		}
		if n.Mem <= 0 {
			n.Mem = 8 * GiB
		}
		if n.HostMem <= 0 {
			n.HostMem = 2 * GiB
		}
		if n.HostCPU <= 0 {
			n.HostCPU = 0.01
		}
		if n.Uptime <= 0 {
			n.Uptime = 864000
		}
		if n.IP == "" {
			n.IP = fmt.Sprintf("192.0.2.%d", 11+i)
		}
		if n.CgroupMode == 0 {
			n.CgroupMode = 2
		}
	}
	if c.LocalNode == "" {
		c.LocalNode = c.Nodes[0].Name
	}
	if !nodes[c.LocalNode] {
		return fmt.Errorf("pvesim: local node %q is not a node", c.LocalNode)
	}

	pools := map[string]bool{}
	for _, p := range c.Pools {
		if p.ID == "" || pools[p.ID] {
			return fmt.Errorf("pvesim: invalid or duplicate pool %q", p.ID)
		}
		pools[p.ID] = true
	}

	vmids := map[int]bool{}
	for i := range c.Guests {
		g := &c.Guests[i]
		if g.VMID < 100 || g.VMID > 999999999 {
			return fmt.Errorf("pvesim: guest vmid %d out of range 100..999999999", g.VMID)
		}
		if vmids[g.VMID] {
			return fmt.Errorf("pvesim: duplicate vmid %d", g.VMID)
		}
		vmids[g.VMID] = true
		if g.Type != "qemu" && g.Type != "lxc" {
			return fmt.Errorf("pvesim: guest %d: type must be qemu or lxc, got %q", g.VMID, g.Type)
		}
		if !nodes[g.Node] {
			return fmt.Errorf("pvesim: guest %d: unknown node %q", g.VMID, g.Node)
		}
		if g.Status == "" {
			g.Status = "running"
			if g.Template {
				g.Status = "stopped"
			}
		}
		switch g.Status {
		case "running", "stopped":
		case "paused":
			if g.Type != "qemu" {
				return fmt.Errorf("pvesim: guest %d: only qemu guests can be paused", g.VMID)
			}
		default:
			return fmt.Errorf("pvesim: guest %d: status must be running, stopped or paused, got %q", g.VMID, g.Status)
		}
		if g.Template && g.Status != "stopped" {
			return fmt.Errorf("pvesim: guest %d: templates cannot run", g.VMID)
		}
		if g.Pool != "" && !pools[g.Pool] {
			return fmt.Errorf("pvesim: guest %d: unknown pool %q", g.VMID, g.Pool)
		}
		if g.Name == "" {
			if g.Type == "qemu" {
				g.Name = fmt.Sprintf("VM %d", g.VMID)
			} else {
				g.Name = fmt.Sprintf("CT%d", g.VMID)
			}
		}
		if g.MaxCPU <= 0 {
			g.MaxCPU = 1
		}
		if g.MaxMem <= 0 {
			if g.Type == "qemu" {
				g.MaxMem = 2 * GiB
			} else {
				g.MaxMem = 512 * MiB
			}
		}
		if g.MaxDisk <= 0 {
			if g.Type == "qemu" {
				g.MaxDisk = 32 * GiB
			} else {
				g.MaxDisk = 8 * GiB
			}
		}
		if g.Type == "lxc" && g.MaxSwap <= 0 {
			g.MaxSwap = 512 * MiB
		}
		if g.CPU == 0 { // a negative figure is kept: PVE 9.2 sent -5.75e-05 for an LXC
			g.CPU = 0.01
		}
		if g.Mem <= 0 {
			g.Mem = g.MaxMem / 4
		}
		if g.Uptime <= 0 {
			g.Uptime = 86400
		}
	}

	stIDs := map[string]bool{}
	for i := range c.Storages {
		st := &c.Storages[i]
		if st.ID == "" || stIDs[st.ID] {
			return fmt.Errorf("pvesim: invalid or duplicate storage %q", st.ID)
		}
		stIDs[st.ID] = true
		if st.Type == "" {
			return fmt.Errorf("pvesim: storage %q needs a type", st.ID)
		}
		if st.Shared && len(st.PerNode) > 0 {
			return fmt.Errorf("pvesim: shared storage %q cannot have per-node usage", st.ID)
		}
		for _, n := range st.Nodes {
			if !nodes[n] {
				return fmt.Errorf("pvesim: storage %q: unknown node %q", st.ID, n)
			}
		}
		for n := range st.PerNode {
			if !nodes[n] {
				return fmt.Errorf("pvesim: storage %q: unknown node %q", st.ID, n)
			}
		}
	}
	// Root filesystem defaults follow the "local" dir storage, which in a
	// default install lives on the root filesystem.
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if n.RootTotal > 0 {
			continue
		}
		n.RootUsed, n.RootTotal = 10*GiB, 100*GiB
		for _, st := range c.Storages {
			if st.ID == "local" && st.Type == "dir" && storageOnNode(st, n.Name) {
				u := storageUsage(st, n.Name)
				if u.Total > 0 {
					n.RootUsed, n.RootTotal = u.Used, u.Total
				}
			}
		}
	}

	for i := range c.SDNZones {
		z := &c.SDNZones[i]
		if z.ID == "" {
			return fmt.Errorf("pvesim: sdn zone needs an id")
		}
		if z.Status == "" {
			z.Status = "ok"
		}
		for _, n := range z.Nodes {
			if !nodes[n] {
				return fmt.Errorf("pvesim: sdn zone %q: unknown node %q", z.ID, n)
			}
		}
	}

	for _, t := range c.Tokens {
		if _, _, err := splitTokenID(t.ID); err != nil {
			return err
		}
		if t.Secret == "" {
			return fmt.Errorf("pvesim: token %q needs a secret", t.ID)
		}
	}
	for _, u := range c.Users {
		if !validUserID(u.ID) {
			return fmt.Errorf("pvesim: invalid user id %q (want user@realm)", u.ID)
		}
	}
	if c.OddGuest != 0 && !vmids[c.OddGuest] {
		return fmt.Errorf("pvesim: odd guest %d does not exist", c.OddGuest)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return nil
}

func storageOnNode(st Storage, node string) bool {
	if len(st.Nodes) == 0 {
		return true
	}
	for _, n := range st.Nodes {
		if n == node {
			return true
		}
	}
	return false
}

func storageUsage(st Storage, node string) Usage {
	if u, ok := st.PerNode[node]; ok && !st.Shared {
		return u
	}
	return Usage{Used: st.Used, Total: st.Total}
}

func validClusterName(s string) bool {
	if len(s) == 0 || len(s) > 15 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func validUserID(id string) bool {
	at := strings.LastIndexByte(id, '@')
	return at > 0 && at < len(id)-1 && !strings.ContainsAny(id, "!:= ")
}

// splitTokenID splits "user@realm!name" into the user and token name.
func splitTokenID(id string) (user, name string, err error) {
	bang := strings.LastIndexByte(id, '!')
	if bang <= 0 || bang == len(id)-1 || !validUserID(id[:bang]) || strings.ContainsAny(id[bang+1:], "=: ") {
		return "", "", fmt.Errorf("pvesim: invalid token id %q (want user@realm!tokenid)", id)
	}
	return id[:bang], id[bang+1:], nil
}

// checkLoopbackAddr enforces that the simulator only ever listens on a
// loopback address, and returns the address to listen on.
func checkLoopbackAddr(addr string) (string, error) {
	if addr == "" {
		return "127.0.0.1:0", nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("pvesim: bad listen address %q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("pvesim: bad port in %q", addr)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("pvesim: refusing non-loopback listen address %q", addr)
	}
	return net.JoinHostPort(ip.String(), port), nil
}
