package proxmox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Decoding is element by element: the array is split into raw elements
// first, and one odd element (a string, an object with "cpu":"abc") costs at
// most that element or that field, never the whole list.

var (
	errNotArray        = errors.New("expected a JSON array")
	errNoUsableEntries = errors.New("no usable entries in list")
)

// unwrapData accepts either a bare value or the {"data": ...} envelope the
// API sends, so fixtures can be stored exactly as received.
func unwrapData(body []byte) []byte {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return b
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(b, &env) == nil && len(env.Data) > 0 {
		return env.Data
	}
	return b
}

// splitArray splits a JSON array into its raw elements.
func splitArray(data []byte) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '[' {
		return nil, errNotArray
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, err
	}
	return raws, nil
}

// decodeList applies one to every element; one returns ok=false to skip the
// element and the names of fields it had to zero.
func decodeList[T any](data []byte, one func(raw []byte) (v T, label string, bad []string, ok bool)) ([]T, DecodeStats, error) {
	raws, err := splitArray(data)
	if err != nil {
		return nil, DecodeStats{}, err
	}
	st := DecodeStats{Total: len(raws)}
	out := make([]T, 0, len(raws))
	for i, raw := range raws {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '{' {
			st.Skipped++
			st.problem(fmt.Sprintf("element %d: not an object", i))
			continue
		}
		v, label, bad, ok := one(raw)
		if !ok {
			st.Skipped++
			st.problem(fmt.Sprintf("element %d: no usable id", i))
			continue
		}
		if len(bad) > 0 {
			st.Partial++
			if label == "" {
				label = "element " + strconv.Itoa(i)
			}
			st.problem(fmt.Sprintf("%s: %v", label, bad))
		}
		out = append(out, v)
	}
	st.Kept = len(out)
	if st.Total > 0 && st.Kept == 0 {
		// Every element unusable: this is not a Proxmox list of this kind.
		return nil, st, errNoUsableEntries
	}
	return out, st, nil
}

type wireResource struct {
	ID       fStr  `json:"id"`
	Type     fStr  `json:"type"`
	Node     fStr  `json:"node"`
	Status   fStr  `json:"status"`
	Name     fStr  `json:"name"`
	VMID     fNum  `json:"vmid"`
	Template fBool `json:"template"`

	CPU     fNum `json:"cpu"`
	MaxCPU  fNum `json:"maxcpu"`
	Mem     fNum `json:"mem"`
	MaxMem  fNum `json:"maxmem"`
	MemHost fNum `json:"memhost"`
	Disk    fNum `json:"disk"`
	MaxDisk fNum `json:"maxdisk"`
	Uptime  fNum `json:"uptime"`

	NetIn     fNum `json:"netin"`
	NetOut    fNum `json:"netout"`
	DiskRead  fNum `json:"diskread"`
	DiskWrite fNum `json:"diskwrite"`

	Tags    fStr `json:"tags"`
	Pool    fStr `json:"pool"`
	Lock    fStr `json:"lock"`
	HAState fStr `json:"hastate"`
	Level   fStr `json:"level"`

	Storage    fStr  `json:"storage"`
	Shared     fBool `json:"shared"`
	PluginType fStr  `json:"plugintype"`
	Content    fStr  `json:"content"`

	SDN         fStr `json:"sdn"`
	Network     fStr `json:"network"`
	NetworkType fStr `json:"network-type"`
	ZoneType    fStr `json:"zone-type"`
	Protocol    fStr `json:"protocol"`

	CGroupMode fNum `json:"cgroup-mode"`
	HostArch   fStr `json:"host-arch"`
}

func decodeResource(raw []byte) (Resource, string, []string, bool) {
	var w wireResource
	if err := json.Unmarshal(raw, &w); err != nil {
		// Only reachable for structurally odd input; flex fields don't error.
		return Resource{}, "", nil, false
	}
	var bad badSet
	bad.str("id", w.ID)
	bad.str("type", w.Type)
	bad.str("node", w.Node)
	bad.str("status", w.Status)
	bad.str("name", w.Name)
	bad.num("vmid", w.VMID)
	bad.boolean("template", w.Template)
	bad.num("cpu", w.CPU)
	bad.num("maxcpu", w.MaxCPU)
	bad.num("mem", w.Mem)
	bad.num("maxmem", w.MaxMem)
	bad.num("memhost", w.MemHost)
	bad.num("disk", w.Disk)
	bad.num("maxdisk", w.MaxDisk)
	bad.num("uptime", w.Uptime)
	bad.num("netin", w.NetIn)
	bad.num("netout", w.NetOut)
	bad.num("diskread", w.DiskRead)
	bad.num("diskwrite", w.DiskWrite)
	bad.str("tags", w.Tags)
	bad.str("pool", w.Pool)
	bad.str("lock", w.Lock)
	bad.str("hastate", w.HAState)
	bad.str("level", w.Level)
	bad.str("storage", w.Storage)
	bad.boolean("shared", w.Shared)
	bad.str("plugintype", w.PluginType)
	bad.str("content", w.Content)
	bad.str("sdn", w.SDN)
	bad.str("network", w.Network)
	bad.str("network-type", w.NetworkType)
	bad.str("zone-type", w.ZoneType)
	bad.str("protocol", w.Protocol)
	bad.num("cgroup-mode", w.CGroupMode)
	bad.str("host-arch", w.HostArch)

	r := Resource{
		ID:          w.ID.s,
		Type:        w.Type.s,
		Node:        w.Node.s,
		Status:      w.Status.s,
		Name:        w.Name.s,
		Template:    w.Template.b,
		NoStats:     (w.Type.s == "qemu" || w.Type.s == "lxc") && !w.Template.set,
		CPU:         w.CPU.f,
		MaxCPU:      w.MaxCPU.f,
		Mem:         w.Mem.i,
		MaxMem:      w.MaxMem.i,
		MemHost:     w.MemHost.i,
		Disk:        w.Disk.i,
		MaxDisk:     w.MaxDisk.i,
		Uptime:      w.Uptime.i,
		NetIn:       w.NetIn.i,
		NetOut:      w.NetOut.i,
		DiskRead:    w.DiskRead.i,
		DiskWrite:   w.DiskWrite.i,
		Tags:        w.Tags.s,
		Pool:        w.Pool.s,
		Lock:        w.Lock.s,
		HAState:     w.HAState.s,
		Level:       w.Level.s,
		Storage:     w.Storage.s,
		Shared:      w.Shared.b,
		PluginType:  w.PluginType.s,
		Content:     w.Content.s,
		SDN:         w.SDN.s,
		Network:     w.Network.s,
		NetworkType: w.NetworkType.s,
		ZoneType:    w.ZoneType.s,
		Protocol:    w.Protocol.s,
		CGroupMode:  int(w.CGroupMode.i),
		HostArch:    w.HostArch.s,
	}
	// A VMID must be a whole, positive number; anything else is zeroed
	// rather than silently truncated into a wrong guest id.
	if !w.VMID.bad {
		if w.VMID.integral() && w.VMID.i > 0 && w.VMID.i <= maxVMID {
			r.VMID = int(w.VMID.i)
		} else if w.VMID.i != 0 || w.VMID.f != 0 {
			bad = append(bad, "vmid")
		}
	}
	if r.Type == "" {
		// Odd servers: derive the type from the id prefix ("qemu/101").
		if t, _, ok := strings.Cut(r.ID, "/"); ok && t != "" {
			r.Type = t
		}
	}
	if r.ID == "" {
		r.ID = synthesizeID(r)
	}
	if r.ID == "" {
		return Resource{}, "", nil, false
	}
	if r.IsGuest() && r.VMID == 0 {
		// "qemu/101" carries the id even when vmid itself was unusable.
		if rest, ok := strings.CutPrefix(r.ID, r.Type+"/"); ok {
			if v, err := strconv.Atoi(rest); err == nil && v > 0 && v <= maxVMID {
				r.VMID = v
			}
		}
	}
	return r, r.ID, bad, true
}

// synthesizeID rebuilds the id PVE would have sent, for entries missing it.
func synthesizeID(r Resource) string {
	switch r.Type {
	case "qemu", "lxc", "openvz":
		if r.VMID > 0 {
			return r.Type + "/" + strconv.Itoa(r.VMID)
		}
	case "node":
		if r.Node != "" {
			return "node/" + r.Node
		}
	case "storage":
		if r.Node != "" && r.Storage != "" {
			return "storage/" + r.Node + "/" + r.Storage
		}
	case "pool":
		if r.Pool != "" {
			return "/pool/" + r.Pool
		}
	case "sdn":
		if r.Node != "" && r.SDN != "" {
			return "sdn/" + r.Node + "/" + r.SDN
		}
	case "network":
		if r.Node != "" && r.NetworkType != "" && r.Network != "" {
			return "network/" + r.Node + "/" + r.NetworkType + "/" + r.Network
		}
	}
	return ""
}

// DecodeResources decodes a /cluster/resources response (the bare array or
// the {"data": [...]} envelope) tolerantly. It only fails if the payload is
// not a JSON array at all.
func DecodeResources(body []byte) ([]Resource, DecodeStats, error) {
	return decodeList(unwrapData(body), decodeResource)
}

type wireNode struct {
	Node           fStr `json:"node"`
	Status         fStr `json:"status"`
	CPU            fNum `json:"cpu"`
	MaxCPU         fNum `json:"maxcpu"`
	Mem            fNum `json:"mem"`
	MaxMem         fNum `json:"maxmem"`
	Disk           fNum `json:"disk"`
	MaxDisk        fNum `json:"maxdisk"`
	Uptime         fNum `json:"uptime"`
	Level          fStr `json:"level"`
	SSLFingerprint fStr `json:"ssl_fingerprint"`
}

func decodeNode(raw []byte) (Node, string, []string, bool) {
	var w wireNode
	if json.Unmarshal(raw, &w) != nil || w.Node.s == "" {
		return Node{}, "", nil, false
	}
	var bad badSet
	bad.str("status", w.Status)
	bad.num("cpu", w.CPU)
	bad.num("maxcpu", w.MaxCPU)
	bad.num("mem", w.Mem)
	bad.num("maxmem", w.MaxMem)
	bad.num("disk", w.Disk)
	bad.num("maxdisk", w.MaxDisk)
	bad.num("uptime", w.Uptime)
	bad.str("level", w.Level)
	bad.str("ssl_fingerprint", w.SSLFingerprint)
	return Node{
		Node:           w.Node.s,
		Status:         w.Status.s,
		CPU:            w.CPU.f,
		MaxCPU:         w.MaxCPU.f,
		Mem:            w.Mem.i,
		MaxMem:         w.MaxMem.i,
		Disk:           w.Disk.i,
		MaxDisk:        w.MaxDisk.i,
		Uptime:         w.Uptime.i,
		Level:          w.Level.s,
		SSLFingerprint: w.SSLFingerprint.s,
	}, "node/" + w.Node.s, bad, true
}

// decodeNodes decodes a /nodes response tolerantly.
func decodeNodes(body []byte) ([]Node, DecodeStats, error) {
	return decodeList(unwrapData(body), decodeNode)
}

type wireClusterEntry struct {
	Type    fStr  `json:"type"`
	ID      fStr  `json:"id"`
	Name    fStr  `json:"name"`
	Nodes   fNum  `json:"nodes"`
	Version fNum  `json:"version"`
	Quorate fBool `json:"quorate"`
	NodeID  fNum  `json:"nodeid"`
	IP      fStr  `json:"ip"`
	Local   fBool `json:"local"`
	Online  fBool `json:"online"`
	Level   fStr  `json:"level"`
}

type clusterEntry struct {
	cluster bool
	w       wireClusterEntry
}

func decodeClusterEntry(raw []byte) (clusterEntry, string, []string, bool) {
	var w wireClusterEntry
	if json.Unmarshal(raw, &w) != nil {
		return clusterEntry{}, "", nil, false
	}
	var bad badSet
	bad.num("nodes", w.Nodes)
	bad.num("version", w.Version)
	bad.boolean("quorate", w.Quorate)
	bad.num("nodeid", w.NodeID)
	bad.str("ip", w.IP)
	bad.boolean("local", w.Local)
	bad.boolean("online", w.Online)
	bad.str("level", w.Level)
	switch w.Type.s {
	case "cluster":
		return clusterEntry{cluster: true, w: w}, "cluster", bad, true
	case "node":
		if w.Name.s == "" {
			return clusterEntry{}, "", nil, false
		}
		return clusterEntry{w: w}, "node/" + w.Name.s, bad, true
	}
	return clusterEntry{}, "", nil, false
}

// decodeClusterStatus decodes a /cluster/status response tolerantly.
func decodeClusterStatus(body []byte) (ClusterStatus, DecodeStats, error) {
	entries, st, err := decodeList(unwrapData(body), decodeClusterEntry)
	if err != nil {
		return ClusterStatus{}, st, err
	}
	cs := ClusterStatus{Quorate: true, Nodes: []ClusterNode{}}
	for _, e := range entries {
		if e.cluster {
			cs.Clustered = true
			cs.Name = e.w.Name.s
			cs.Quorate = e.w.Quorate.b
			cs.Version = int(e.w.Version.i)
			cs.NodeCount = int(e.w.Nodes.i)
			continue
		}
		cs.Nodes = append(cs.Nodes, ClusterNode{
			Name:   e.w.Name.s,
			NodeID: int(e.w.NodeID.i),
			IP:     e.w.IP.s,
			Online: e.w.Online.b,
			Local:  e.w.Local.b,
			Level:  e.w.Level.s,
		})
	}
	if cs.NodeCount < len(cs.Nodes) {
		cs.NodeCount = len(cs.Nodes)
	}
	return cs, st, nil
}

type wireVersion struct {
	Version fStr `json:"version"`
	Release fStr `json:"release"`
	RepoID  fStr `json:"repoid"`
}

// decodeObject reads an answer that is one object (bare or in the {"data":
// ...} envelope) into w; what names it in the error.
func decodeObject(body []byte, what string, w any) error {
	data := unwrapData(body)
	if len(data) == 0 || data[0] != '{' {
		return errors.New(what + ": expected an object")
	}
	return json.Unmarshal(data, w)
}

func decodeVersion(body []byte) (Version, error) {
	var w wireVersion
	if err := decodeObject(body, "version", &w); err != nil {
		return Version{}, err
	}
	if w.Version.s == "" {
		return Version{}, errors.New("version: missing version field")
	}
	return Version{Version: w.Version.s, Release: w.Release.s, RepoID: w.RepoID.s}, nil
}

type wireTask struct {
	UPID       fStr `json:"upid"`
	Node       fStr `json:"node"`
	Type       fStr `json:"type"`
	ID         fStr `json:"id"`
	User       fStr `json:"user"`
	Status     fStr `json:"status"`
	ExitStatus fStr `json:"exitstatus"`
	PID        fNum `json:"pid"`
	StartTime  fNum `json:"starttime"`
}

func decodeTask(body []byte) (TaskStatus, error) {
	var w wireTask
	if err := decodeObject(body, "task status", &w); err != nil {
		return TaskStatus{}, err
	}
	if w.Status.s == "" {
		return TaskStatus{}, errors.New("task status: missing status field")
	}
	return TaskStatus{
		UPID:       w.UPID.s,
		Node:       w.Node.s,
		Type:       w.Type.s,
		ID:         w.ID.s,
		User:       w.User.s,
		Status:     w.Status.s,
		ExitStatus: w.ExitStatus.s,
		PID:        int(w.PID.i),
		StartTime:  w.StartTime.i,
	}, nil
}

func decodeUPID(body []byte) (string, error) {
	data := unwrapData(body)
	var s fStr
	if err := json.Unmarshal(data, &s); err != nil || s.bad || s.s == "" {
		return "", errors.New("expected a task id (UPID) string")
	}
	if !upidRe.MatchString(s.s) {
		return "", errors.New("response is not a task id (UPID)")
	}
	return s.s, nil
}
