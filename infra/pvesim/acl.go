package pvesim

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// ACL is one line of /etc/pve/user.cfg's acl section: Role granted to
// UGID (a user "user@realm" or a token "user@realm!name") on Path and,
// like PVE's default "propagate" flag, on everything below it.
type ACL struct {
	Path string `json:"path"` // "/", "/vms/100", "/storage/local", "/nodes/pve1", ...
	UGID string `json:"ugid"`
	Role string `json:"role"` // one of the built-in roles below
}

// Built-in roles, from pve-access-control src/PVE/AccessControl.pm
// ($privgroups and the special roles built from it): PVEAuditor holds every
// *.Audit privilege, PVEVMUser the "user" and "audit" VM privileges,
// Administrator everything.
var roles = map[string][]string{
	"NoAccess": {},
	"PVEAuditor": {"Datastore.Audit", "Mapping.Audit", "Pool.Audit", "SDN.Audit", "Sys.Audit",
		"VM.Audit", "VM.GuestAgent.Audit"},
	"PVEVMUser": {"VM.Audit", "VM.GuestAgent.Audit", "VM.Backup", "VM.Config.CDROM", "VM.Config.Cloudinit",
		"VM.Console", "VM.PowerMgmt", "Datastore.AllocateSpace", "Pool.Audit"},
	"PVEDatastoreUser": {"Datastore.AllocateSpace", "Datastore.Audit"},
	"Administrator":    nil, // all
}

// allPrivs is what Administrator (and root@pam) hold.
var allPrivs = []string{
	"Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit",
	"Group.Allocate", "Mapping.Audit", "Mapping.Modify", "Mapping.Use", "Permissions.Modify",
	"Pool.Allocate", "Pool.Audit", "Realm.Allocate", "Realm.AllocateUser",
	"SDN.Allocate", "SDN.Audit", "SDN.Use",
	"Sys.AccessNetwork", "Sys.Audit", "Sys.Console", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog",
	"User.Modify", "VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU",
	"VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network",
	"VM.Config.Options", "VM.Console", "VM.GuestAgent.Audit", "VM.Migrate", "VM.PowerMgmt", "VM.Snapshot",
	"VM.Snapshot.Rollback",
}

func rolePrivs(role string) []string {
	if role == "Administrator" {
		return allPrivs
	}
	return roles[role]
}

// aclCovers: an ACL on "/vms" propagates to "/vms/100"; "/" covers all.
func aclCovers(aclPath, path string) bool {
	aclPath = strings.TrimRight(aclPath, "/")
	return aclPath == "" || path == aclPath || strings.HasPrefix(path, aclPath+"/")
}

// privsFor returns the privileges of ugid on path from the ACL list. Like
// PVE::AccessControl::roles, the most specific path with an entry for the
// subject wins (an ACL on /vms/100 replaces what / granted there).
func (s *Sim) privsFor(ugid, path string) map[string]bool {
	best := -1
	out := map[string]bool{}
	for _, a := range s.cfg.ACL {
		if a.UGID != ugid || !aclCovers(a.Path, path) {
			continue
		}
		l := len(strings.TrimRight(a.Path, "/"))
		if l > best {
			best = l
			out = map[string]bool{}
		}
		if l == best {
			for _, p := range rolePrivs(a.Role) {
				out[p] = true
			}
		}
	}
	return out
}

// permissions is PVE::RPCEnvironment::permissions for an authenticated
// identity: root@pam holds everything; a user holds what the ACL grants
// (everything when no ACL is configured, the simulator's legacy mode); a
// token without privilege separation holds its user's privileges, one with
// it only the intersection of its own ACL entries and its user's (PVE
// 6.2+, pve-access-control src/PVE/RPCEnvironment.pm permissions()).
// ReadOnly credentials keep only *.Audit privileges.
func (s *Sim) permissions(id identity, path string) map[string]bool {
	var user map[string]bool
	switch {
	case id.user == "root@pam" || len(s.cfg.ACL) == 0:
		user = map[string]bool{}
		for _, p := range allPrivs {
			user[p] = true
		}
	default:
		user = s.privsFor(id.user, path)
	}
	out := user
	if id.tokenName != "" && s.tokenPrivsep(id) {
		own := s.privsFor(id.authID(), path)
		out = map[string]bool{}
		for p := range own {
			if user[p] {
				out[p] = true
			}
		}
	}
	if id.readOnly {
		ro := map[string]bool{}
		for p := range out {
			if strings.HasSuffix(p, ".Audit") {
				ro[p] = true
			}
		}
		out = ro
	}
	return out
}

func (s *Sim) tokenPrivsep(id identity) bool {
	for _, t := range s.cfg.Tokens {
		if t.ID == id.authID() {
			return t.Privsep
		}
	}
	return false
}

func (s *Sim) can(id identity, path, priv string) bool { return s.permissions(id, path)[priv] }

// hPermissions is GET /access/permissions for the caller itself, as
// pve-access-control src/PVE/API2/AccessControl.pm "permissions" answers it
// (RPCEnvironment::get_effective_permissions): the top-level paths, every
// ACL path and every guest and storage path, each with the privileges held
// there; paths without any privilege are left out. ?path= limits it to one.
func (s *Sim) hPermissions(id identity, p url.Values) (response, *apiError) {
	if path := p.Get("path"); path != "" {
		perms := s.permissions(id, path)
		if len(perms) == 0 {
			return response{data: map[string]any{}}, nil
		}
		return response{data: map[string]any{path: privMap(perms)}}, nil
	}
	paths := map[string]bool{"/": true, "/access": true, "/access/groups": true, "/nodes": true,
		"/pool": true, "/sdn": true, "/storage": true, "/vms": true}
	for _, a := range s.cfg.ACL {
		paths[a.Path] = true
	}
	out := map[string]any{}
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if perms := s.permissions(id, k); len(perms) > 0 {
			out[k] = privMap(perms)
		}
	}
	return response{data: out}, nil
}

func privMap(perms map[string]bool) map[string]any {
	m := map[string]any{}
	for p := range perms {
		m[p] = 1 // "propagate" flag; every ACL here propagates
	}
	return m
}

func vmPath(vmid int) string { return "/vms/" + strconv.Itoa(vmid) }
