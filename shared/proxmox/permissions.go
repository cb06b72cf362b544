package proxmox

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// Privileges summarises GET /access/permissions for what this backend needs:
// reading the dashboard (VM.Audit on /vms, Datastore.Audit on /storage,
// Sys.Audit on /nodes; PVEAuditor on / grants all three) and power actions
// (VM.PowerMgmt on /vms).
type Privileges struct {
	CanAuditGuests  bool `json:"-"`
	CanAuditStorage bool `json:"-"`
	CanAuditNodes   bool `json:"-"`
	CanAudit        bool `json:"canAudit"`       // all three above
	CanPowerManage  bool `json:"canPowerManage"` // VM.PowerMgmt on /vms
	// Missing names the privileges lacking for a full dashboard and power
	// actions, e.g. ["VM.Audit on /vms", "VM.PowerMgmt on /vms"].
	Missing []string `json:"-"`
}

// Sentence explains in plain words what the credentials cannot do, or ""
// when nothing is missing.
func (p Privileges) Sentence() string {
	if len(p.Missing) == 0 {
		return ""
	}
	var cannot []string
	if !p.CanAuditGuests {
		cannot = append(cannot, "see guests")
	}
	if !p.CanAuditStorage {
		cannot = append(cannot, "see storage")
	}
	if !p.CanAuditNodes {
		cannot = append(cannot, "see node CPU and memory figures")
	}
	if !p.CanPowerManage {
		cannot = append(cannot, "start or stop guests")
	}
	return "These credentials cannot " + joinOr(cannot) + " (missing " + strings.Join(p.Missing, ", ") +
		"). Grant the role PVEAuditor on / (and PVEVMUser on /vms for power actions) to the user or, for a privilege-separated API token, to the token itself."
}

func joinOr(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Permissions reads the caller's effective privileges (GET
// /access/permissions, which every user and token may ask about itself:
// pve-access-control PVE/API2/AccessControl.pm "permissions") and
// summarises them.
func (c *Client) Permissions(ctx context.Context) (Privileges, error) {
	perms, err := call(ctx, c, http.MethodGet, "/access/permissions", decodePermissions)
	if err != nil {
		return Privileges{}, err
	}
	return summarisePermissions(perms), nil
}

// decodePermissions reads {path: {privilege: 0|1}} (the value is the
// propagate flag; presence is what counts).
func decodePermissions(raw []byte) (map[string]map[string]bool, error) {
	data := unwrapData(raw)
	var m map[string]map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	out := make(map[string]map[string]bool, len(m))
	for path, privs := range m {
		out[path] = map[string]bool{}
		for p := range privs {
			out[path][p] = true
		}
	}
	return out, nil
}

func summarisePermissions(perms map[string]map[string]bool) Privileges {
	// A privilege held on "/" propagates; get_effective_permissions also
	// lists /vms, /storage and /nodes themselves, so either path decides.
	has := func(path, priv string) bool { return perms[path][priv] || perms["/"][priv] }
	p := Privileges{
		CanAuditGuests:  has("/vms", "VM.Audit"),
		CanAuditStorage: has("/storage", "Datastore.Audit"),
		CanAuditNodes:   has("/nodes", "Sys.Audit"),
		CanPowerManage:  has("/vms", "VM.PowerMgmt"),
	}
	p.CanAudit = p.CanAuditGuests && p.CanAuditStorage && p.CanAuditNodes
	for _, m := range []struct {
		ok   bool
		what string
	}{{p.CanAuditGuests, "VM.Audit on /vms"}, {p.CanAuditStorage, "Datastore.Audit on /storage"},
		{p.CanAuditNodes, "Sys.Audit on /nodes"}, {p.CanPowerManage, "VM.PowerMgmt on /vms"}} {
		if !m.ok {
			p.Missing = append(p.Missing, m.what)
		}
	}
	sort.Strings(p.Missing)
	return p
}
