package pvesim

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// handler answers one API call; it runs with s.mu held.
type handler func(id identity, p url.Values) (response, *apiError)

// dispatch finds the handler for method+path like PVE's RESTHandler: a path
// that exists with another method, or does not exist, is 501 "Method '...'
// not implemented".
func (s *Sim) dispatch(method, apiPath string, p url.Values, id identity) (response, *apiError) {
	if method == "HEAD" {
		method = "GET"
	}
	h := s.route(method, apiPath)
	if h == nil {
		return response{}, errf(501, "Method '%s %s' not implemented", method, apiPath)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return h(id, p)
}

func (s *Sim) route(method, apiPath string) handler {
	seg := strings.Split(strings.Trim(apiPath, "/"), "/")
	get := method == "GET"
	post := method == "POST"
	switch {
	case apiPath == "/":
		if get {
			return s.hIndex
		}
	case len(seg) == 1 && seg[0] == "version" && get:
		return s.hVersion
	case len(seg) == 1 && seg[0] == "nodes" && get:
		return s.hNodes
	case len(seg) == 1 && seg[0] == "storage" && get:
		return s.hStorageConfig
	case len(seg) == 1 && seg[0] == "pools" && get:
		return s.hPools
	case len(seg) == 2 && seg[0] == "cluster":
		if !get {
			return nil
		}
		switch seg[1] {
		case "resources":
			return s.hClusterResources
		case "status":
			return s.hClusterStatus
		case "nextid":
			return s.hNextID
		case "tasks":
			return s.hClusterTasks
		}
	case len(seg) == 2 && seg[0] == "access":
		switch {
		case seg[1] == "ticket" && post:
			return s.hTicket
		case seg[1] == "ticket" && get:
			return func(identity, url.Values) (response, *apiError) { return response{}, nil }
		case seg[1] == "domains" && get:
			return s.hDomains
		case seg[1] == "permissions" && get:
			return s.hPermissions
		}
	case len(seg) >= 3 && seg[0] == "nodes":
		return s.routeNode(method, seg[1], seg[2:])
	}
	return nil
}

// routeNode handles /nodes/{node}/...; the node is checked only once a
// handler exists, like pveproxy resolving the node it must proxy to.
func (s *Sim) routeNode(method, node string, rest []string) handler {
	get := method == "GET"
	var h handler
	switch {
	case len(rest) == 1 && get:
		switch rest[0] {
		case "status":
			h = func(identity, url.Values) (response, *apiError) { return s.hNodeStatus(node) }
		case "version":
			h = func(identity, url.Values) (response, *apiError) { return response{data: s.versionData()}, nil }
		case "qemu", "lxc":
			kind := rest[0]
			h = func(identity, url.Values) (response, *apiError) { return s.hGuestList(node, kind) }
		case "storage":
			h = func(identity, url.Values) (response, *apiError) { return s.hNodeStorage(node) }
		case "tasks":
			h = func(identity, url.Values) (response, *apiError) { return s.hNodeTasks(node) }
		}
	case len(rest) == 3 && rest[0] == "tasks" && get && (rest[2] == "status" || rest[2] == "log"):
		upid, what := rest[1], rest[2]
		h = func(identity, url.Values) (response, *apiError) { return s.hTask(node, upid, what) }
	case len(rest) == 4 && (rest[0] == "qemu" || rest[0] == "lxc") && rest[2] == "status":
		kind, vmid, action := rest[0], rest[1], rest[3]
		switch {
		case action == "current" && get:
			h = func(identity, url.Values) (response, *apiError) { return s.hGuestCurrent(node, kind, vmid) }
		case method == "POST" && guestActionType(kind, action) != "":
			h = func(id identity, _ url.Values) (response, *apiError) {
				return s.hGuestAction(id, node, kind, vmid, action)
			}
		}
	}
	if h == nil {
		return nil
	}
	return func(id identity, p url.Values) (response, *apiError) {
		n, ok := s.nodeByNm[node]
		if !ok {
			return response{}, errf(500, "hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", node, node)
		}
		if !n.online {
			// pveproxy proxies node calls; a dead node fails the connect.
			return response{}, &apiError{status: 595, msg: "No route to host", noBody: true}
		}
		return h(id, p)
	}
}

func (s *Sim) hIndex(identity, url.Values) (response, *apiError) {
	var out []map[string]any
	for _, d := range []string{"version", "cluster", "nodes", "storage", "access", "pools"} {
		out = append(out, map[string]any{"subdir": d})
	}
	return response{data: out}, nil
}

func (s *Sim) versionData() map[string]any {
	return map[string]any{"version": s.ver.version, "release": s.ver.release, "repoid": s.ver.repoid}
}

func (s *Sim) hVersion(identity, url.Values) (response, *apiError) {
	return response{data: s.versionData()}, nil
}

func (s *Sim) hClusterResources(id identity, p url.Values) (response, *apiError) {
	typ := p.Get("type")
	switch typ {
	case "", "vm", "storage", "node", "sdn":
	default:
		return response{}, paramErr("type", fmt.Sprintf("value '%s' does not have a value in the enumeration 'vm, storage, node, sdn'", typ))
	}
	return response{data: s.clusterResources(typ, id)}, nil
}

func (s *Sim) hClusterStatus(identity, url.Values) (response, *apiError) {
	var out []map[string]any
	if s.cfg.ClusterName == "" {
		n := s.nodeByNm[s.cfg.LocalNode]
		out = append(out, map[string]any{
			"type": "node", "id": "node/" + n.cfg.Name, "name": n.cfg.Name, "ip": n.cfg.IP,
			"local": 1, "nodeid": 0, "online": 1, "level": n.cfg.Level,
		})
		return response{data: out}, nil
	}
	online := 0
	for _, n := range s.nodes {
		if n.online {
			online++
		}
	}
	out = append(out, map[string]any{
		"type": "cluster", "id": "cluster", "name": s.cfg.ClusterName,
		"nodes": len(s.nodes), "version": len(s.nodes), "quorate": boolInt(online*2 > len(s.nodes)),
	})
	for i, n := range s.nodes {
		level := ""
		if n.online {
			level = n.cfg.Level
		}
		out = append(out, map[string]any{
			"type": "node", "id": "node/" + n.cfg.Name, "name": n.cfg.Name, "ip": n.cfg.IP,
			"nodeid": i + 1, "local": boolInt(n.cfg.Name == s.cfg.LocalNode),
			"online": boolInt(n.online), "level": level,
		})
	}
	return response{data: out}, nil
}

func (s *Sim) hNextID(_ identity, p url.Values) (response, *apiError) {
	if v := p.Get("vmid"); v != "" {
		id, err := strconv.Atoi(v)
		if err != nil {
			return response{}, paramErr("vmid", fmt.Sprintf("type check ('integer') failed - got '%s'", v))
		}
		if _, taken := s.guests[id]; taken {
			return response{}, paramErr("vmid", fmt.Sprintf("VM %d already exists", id))
		}
		return response{data: v}, nil
	}
	for i := 100; ; i++ {
		if _, taken := s.guests[i]; !taken {
			return response{data: strconv.Itoa(i)}, nil // PVE returns it as a string
		}
	}
}

func (s *Sim) hNodes(id identity, _ url.Values) (response, *apiError) {
	out := make([]map[string]any, 0, len(s.nodes))
	for _, n := range s.nodes {
		e := s.nodeStats(n, id)
		e["ssl_fingerprint"] = s.nodeFingerprint(n)
		out = append(out, e)
	}
	return response{data: out}, nil
}

func (s *Sim) nodeFingerprint(n *nodeState) string {
	if n.cfg.Name == s.cfg.LocalNode {
		return s.Fingerprint()
	}
	if n.cfg.Fingerprint != "" {
		return n.cfg.Fingerprint
	}
	// Stable stand-in for the other nodes' certificates.
	return colonHex(sha256.Sum256([]byte("pvesim-node-cert:" + n.cfg.Name)))
}

func (s *Sim) hNodeStatus(node string) (response, *apiError) {
	n := s.nodeByNm[node]
	cpu, mem := s.nodeUsage(n)
	total := n.cfg.Mem
	memory := map[string]any{"total": total, "used": mem, "free": total - mem}
	if s.ver.major >= 9 {
		memory["available"] = total - mem
	}
	load := cpu * float64(n.cfg.Cores)
	l := fmt.Sprintf("%.2f", load)
	cpuinfo := map[string]any{
		"cpus": n.cfg.Cores, "cores": max(1, n.cfg.Cores/n.cfg.Sockets), "sockets": n.cfg.Sockets,
		"model": n.cfg.CPUModel, "mhz": "2400.000", "hvm": "1", "user_hz": 100,
		"flags": "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm constant_tsc pni vmx ssse3 sse4_1 sse4_2 x2apic aes avx avx2",
	}
	out := map[string]any{
		"uptime":     n.cfg.Uptime,
		"cpu":        cpu,
		"wait":       0,
		"idle":       0,
		"loadavg":    []string{l, l, l},
		"kversion":   s.ver.kversion(),
		"pveversion": s.ver.pveversion(),
		"cpuinfo":    cpuinfo,
		"memory":     memory,
		"swap":       map[string]any{"total": 8 * GiB, "used": 0, "free": 8 * GiB},
		"rootfs": map[string]any{
			"total": n.cfg.RootTotal, "used": n.cfg.RootUsed,
			"free": n.cfg.RootTotal - n.cfg.RootUsed, "avail": n.cfg.RootTotal - n.cfg.RootUsed,
		},
		"ksm": map[string]any{"shared": 0},
	}
	if s.ver.major >= 8 {
		out["current-kernel"] = map[string]any{
			"sysname": "Linux", "release": s.ver.kernelRelease, "version": s.ver.kernelVersion, "machine": "x86_64",
		}
		out["boot-info"] = map[string]any{"mode": "efi", "secureboot": 0}
	}
	return response{data: out}, nil
}

func (s *Sim) hNodeStorage(node string) (response, *apiError) {
	var out []map[string]any
	sts := append([]Storage(nil), s.cfg.Storages...)
	sort.Slice(sts, func(i, j int) bool { return sts[i].ID < sts[j].ID })
	for _, st := range sts {
		if !storageOnNode(st, node) {
			continue
		}
		u := storageUsage(st, node)
		frac := 0.0
		if u.Total > 0 {
			frac = float64(u.Used) / float64(u.Total)
		}
		out = append(out, map[string]any{
			"storage": st.ID, "type": st.Type, "content": st.Content, "shared": boolInt(st.Shared),
			"active": 1, "enabled": 1, "total": u.Total, "used": u.Used, "avail": u.Total - u.Used,
			"used_fraction": frac,
		})
	}
	return response{data: nonNil(out)}, nil
}

func (s *Sim) hStorageConfig(identity, url.Values) (response, *apiError) {
	var out []map[string]any
	for _, st := range s.cfg.Storages {
		e := map[string]any{"storage": st.ID, "type": st.Type, "content": st.Content}
		if st.Shared {
			e["shared"] = 1
		}
		if len(st.Nodes) > 0 {
			e["nodes"] = strings.Join(st.Nodes, ",")
		}
		sum := sha1.Sum([]byte("pvesim-storage-cfg"))
		e["digest"] = hex.EncodeToString(sum[:])
		out = append(out, e)
	}
	return response{data: nonNil(out)}, nil
}

func (s *Sim) hPools(identity, url.Values) (response, *apiError) {
	pools := append([]Pool(nil), s.cfg.Pools...)
	sort.Slice(pools, func(i, j int) bool { return pools[i].ID < pools[j].ID })
	out := []map[string]any{}
	for _, p := range pools {
		e := map[string]any{"poolid": p.ID}
		if p.Comment != "" {
			e["comment"] = p.Comment
		}
		out = append(out, e)
	}
	return response{data: out}, nil
}

func (s *Sim) hDomains(identity, url.Values) (response, *apiError) {
	return response{data: []map[string]any{
		{"realm": "pam", "type": "pam", "comment": "Linux PAM standard authentication"},
		{"realm": "pve", "type": "pve", "comment": "Proxmox VE authentication server"},
	}}, nil
}

// hTicket is POST /access/ticket: password login, or ticket renewal when the
// password is a still-valid ticket of the same user.
func (s *Sim) hTicket(_ identity, p url.Values) (response, *apiError) {
	user := p.Get("username")
	pass := p.Get("password")
	if user == "" {
		return response{}, paramErr("username", "property is missing and it is not optional")
	}
	if pass == "" {
		return response{}, paramErr("password", "property is missing and it is not optional")
	}
	if realm := p.Get("realm"); realm != "" && !strings.Contains(user, "@") {
		user += "@" + realm
	}
	ok := false
	readOnly, tfa := false, false
	for _, u := range s.cfg.Users {
		if u.ID == user {
			readOnly, tfa = u.ReadOnly, u.TFA
			if subtle.ConstantTimeCompare([]byte(u.Password), []byte(pass)) == 1 {
				ok = true
			} else if tu, valid := s.verifyTicket(pass); valid && tu == user {
				ok = true
			}
		}
	}
	if !ok {
		// PVE hides the reason to prevent user enumeration.
		return response{}, errf(401, "authentication failure")
	}
	now := s.cfg.Clock()
	if tfa {
		// pve-access-control src/PVE/API2/AccessControl.pm create_ticket_do:
		// with a second factor the ticket carries "!tfa!<challenge>" instead
		// of the user, NeedTFA is 1 and there is no "cap"; pveproxy accepts
		// that ticket only for POST /access/tfa ("No ticket" elsewhere).
		return response{data: map[string]any{
			"username":            user,
			"ticket":              s.makeTicket("!tfa!"+tfaChallenge, now),
			"CSRFPreventionToken": s.makeCSRF(user, now),
			"NeedTFA":             1,
		}}, nil
	}
	data := map[string]any{
		"username":            user,
		"ticket":              s.makeTicket(user, now),
		"CSRFPreventionToken": s.makeCSRF(user, now),
		"cap":                 capabilities(readOnly),
	}
	if s.cfg.ClusterName != "" {
		data["clustername"] = s.cfg.ClusterName
	}
	return response{data: data}, nil
}

// tfaChallenge stands in for the URL-encoded TFA challenge JSON PVE puts in
// a half ticket.
const tfaChallenge = "%7B%22totp%22%3Atrue%7D"

func capabilities(readOnly bool) map[string]any {
	set := func(privs ...string) map[string]any {
		m := map[string]any{}
		for _, p := range privs {
			m[p] = 1
		}
		return m
	}
	if readOnly {
		return map[string]any{
			"vms":     set("VM.Audit"),
			"storage": set("Datastore.Audit"),
			"nodes":   set("Sys.Audit"),
			"dc":      set("Sys.Audit", "SDN.Audit"),
			"access":  map[string]any{},
			"sdn":     set("SDN.Audit"),
		}
	}
	return map[string]any{
		"vms": set("VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU",
			"VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network",
			"VM.Config.Options", "VM.Console", "VM.Migrate", "VM.Monitor", "VM.PowerMgmt", "VM.Snapshot",
			"VM.Snapshot.Rollback", "Permissions.Modify"),
		"storage": set("Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate",
			"Datastore.Audit", "Permissions.Modify"),
		"nodes": set("Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog",
			"Permissions.Modify"),
		"dc":     set("SDN.Allocate", "SDN.Audit", "SDN.Use", "Sys.Audit", "Sys.Modify"),
		"access": set("Group.Allocate", "Permissions.Modify", "User.Modify"),
		"sdn":    set("SDN.Allocate", "SDN.Audit", "SDN.Use", "Permissions.Modify"),
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nonNil(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}
