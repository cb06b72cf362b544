package pvesim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func resourcesAs(t *testing.T, s *Sim, a auth) []map[string]any {
	t.Helper()
	var out []map[string]any
	do(t, s, "GET", "/cluster/resources", a, nil).decode(t, &out)
	return out
}

// /cluster/resources is filtered by the caller's privileges like
// pve-manager's: no VM.Audit, no guests; no Datastore.Audit, no storage; no
// Sys.Audit, nodes without figures.
func TestResourcesFilteredByPrivileges(t *testing.T) {
	s := newCluster(t, nil)
	kinds := func(list []map[string]any) map[string]int {
		m := map[string]int{}
		for _, e := range list {
			m[e["type"].(string)]++
		}
		return m
	}
	none := resourcesAs(t, s, tokenAuth(PresetNoPrivTokenID, PresetNoPrivSecret))
	if k := kinds(none); k["qemu"] != 0 || k["lxc"] != 0 || k["storage"] != 0 || k["pool"] != 0 || k["node"] != 3 {
		t.Fatalf("no-privilege token sees %v", k)
	}
	for _, n := range none {
		if n["type"] == "node" {
			if n["status"] != "online" || n["maxcpu"] != nil || n["maxmem"] != nil || n["cpu"] != nil || n["mem"] != nil {
				t.Errorf("node without Sys.Audit: %v", n)
			}
		}
	}
	full := kinds(resourcesAs(t, s, rootToken))
	aud := kinds(resourcesAs(t, s, tokenAuth(PresetAuditorTokenID, PresetAuditorSecret)))
	if aud["qemu"] != full["qemu"] || aud["lxc"] != full["lxc"] || aud["storage"] != full["storage"] || aud["qemu"] == 0 {
		t.Errorf("auditor %v, root %v", aud, full)
	}
	// Power actions need VM.PowerMgmt: the auditor is refused before the code runs.
	expectError(t, do(t, s, "POST", "/nodes/pve2/qemu/104/status/start", tokenAuth(PresetAuditorTokenID, PresetAuditorSecret), nil),
		403, "Permission check failed (/vms/104, VM.PowerMgmt)")
	expectOK(t, do(t, s, "POST", "/nodes/pve2/qemu/104/status/start", tokenAuth(PresetOperatorTokenID, PresetOperatorSecret), nil))

	// /access/permissions of the caller itself.
	var perms map[string]map[string]any
	do(t, s, "GET", "/access/permissions", tokenAuth(PresetNoPrivTokenID, PresetNoPrivSecret), nil).decode(t, &perms)
	if len(perms) != 0 {
		t.Errorf("no-privilege token permissions %v", perms)
	}
	do(t, s, "GET", "/access/permissions", tokenAuth(PresetOperatorTokenID, PresetOperatorSecret), nil).decode(t, &perms)
	if perms["/"]["Sys.Audit"] == nil || perms["/vms"]["VM.PowerMgmt"] == nil || perms["/"]["VM.PowerMgmt"] != nil {
		t.Errorf("operator permissions %v", perms)
	}
}

// A qemu VM's paused run state shows on every version (pvestatd sends
// qmpstatus), not only on PVE 9.
func TestPausedOnEveryVersion(t *testing.T) {
	for _, v := range []string{"7", "8", "9"} {
		s := newCluster(t, func(c *Config) { c.Version = v })
		if err := s.SetGuestStatus(105, "paused"); err != nil {
			t.Fatal(err)
		}
		if st := byID(resources(t, s, "vm"))["qemu/105"]["status"]; st != "paused" {
			t.Errorf("PVE %s: %v", v, st)
		}
	}
}

// NeedTFA: a half ticket without cap, refused ("No ticket") everywhere but
// /access/tfa; a ticket may also come in the Authorization header.
func TestNeedTFAAndTicketHeader(t *testing.T) {
	s := newCluster(t, nil)
	var tk map[string]any
	do(t, s, "POST", "/access/ticket", nil, url.Values{"username": {PresetTFAUser}, "password": {PresetTFAPassword}}).decode(t, &tk)
	ticket, _ := tk["ticket"].(string)
	if tk["NeedTFA"] != 1.0 || tk["cap"] != nil || !strings.HasPrefix(ticket, "PVE:!tfa!") {
		t.Fatalf("tfa login %v", tk)
	}
	expectError(t, do(t, s, "GET", "/version", ticketAuth(ticket, ""), nil), 401, "No ticket")

	var ok map[string]any
	do(t, s, "POST", "/access/ticket", nil, url.Values{"username": {PresetUser}, "password": {PresetPassword}}).decode(t, &ok)
	hdr := func(r *http.Request) {
		r.Header.Set("Authorization", "PVEAuthCookie="+url.QueryEscape(ok["ticket"].(string)))
	}
	expectOK(t, do(t, s, "GET", "/version", hdr, nil))
}

// A 401 (held back AuthFailureDelay) carries pveproxy's reason and no body.
func TestAuthFailureAnswer(t *testing.T) {
	s := newCluster(t, func(c *Config) { c.AuthFailureDelay = 50 * time.Millisecond })
	r := do(t, s, "GET", "/version", tokenAuth(PresetTokenID, "wrong-secret-value"), nil)
	expectError(t, r, 401, "Authentication failed!")
	if len(r.body) != 0 {
		t.Errorf("body %q", r.body)
	}
}
