package listvms_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	listvms "github.com/pvetenant/backend/functions/list-vms"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/shared/secrets"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

type obj = functest.Obj

const fn = listvms.Name

func newEnv(t *testing.T) *functest.Env {
	return functest.New(t, functest.Options{Needs: listvms.Needs, Configure: func(c *functest.Config) {
		c.ProxmoxTimeout = 1500 * time.Millisecond
	}}, listvms.New)
}

type world struct {
	e                     *functest.Env
	lab, edge, branch     *pvesim.Sim
	labID, edgeID, brchID string
}

// Three servers of ACME: a 3-node cluster, a standalone node (password
// login), and a second cluster.
func newWorld(t *testing.T) world {
	e := newEnv(t)
	w := world{e: e,
		lab:    pvesim.NewTestSim(t, pvesim.MustPreset("cluster3")),
		edge:   pvesim.NewTestSim(t, pvesim.MustPreset("standalone")),
		branch: pvesim.NewTestSim(t, pvesim.MustPreset("cluster3")),
	}
	w.labID = e.AddServer(functest.TenantA, "lab", w.lab, functest.ServerOpts{})
	w.edgeID = e.AddServer(functest.TenantA, "edge", w.edge, functest.ServerOpts{Password: true})
	w.brchID = e.AddServer(functest.TenantA, "branch", w.branch, functest.ServerOpts{})
	return w
}

func vms(t *testing.T, res functest.Response) []map[string]any {
	t.Helper()
	raw, ok := res.Body["vms"].([]any)
	if !ok {
		t.Fatalf("no vms: %s", res.Raw)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func health(t *testing.T, res functest.Response) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, v := range res.Body["servers"].([]any) {
		h := v.(map[string]any)
		out[h["name"].(string)] = h
	}
	return out
}

// text is a JSON string field, "" when absent: comparing the decoded any to
// "" directly would pass for a missing field, which decodes to nil.
func text(v any) string { s, _ := v.(string); return s }

func TestListAcrossServers(t *testing.T) {
	w := newWorld(t)
	res := functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
	all := vms(t, res)
	// 12 guests on each cluster (template included), 3 on the standalone node.
	if len(all) != 27 {
		t.Fatalf("%d guests, want 27", len(all))
	}
	h := health(t, res)
	for _, name := range []string{"lab", "edge", "branch"} {
		if h[name]["status"] != "online" {
			t.Fatalf("%s: %v", name, h[name])
		}
	}
	var tmpl, lxc15 map[string]any
	for _, v := range all {
		if v["serverName"] == "lab" && v["vmid"] == float64(9000) {
			tmpl = v
		}
		if v["serverName"] == "lab" && v["vmid"] == float64(201) {
			lxc15 = v
		}
	}
	if tmpl == nil || tmpl["template"] != true || tmpl["type"] != "qemu" || tmpl["serverId"] != w.labID {
		t.Fatalf("template: %v", tmpl)
	}
	if lxc15 == nil || lxc15["maxcpu"] != 1.5 || lxc15["type"] != "lxc" || lxc15["node"] != "pve2" {
		t.Fatalf("lxc with cpulimit 1.5: %v", lxc15)
	}
	web := all[0]
	for _, v := range all {
		if v["serverName"] == "lab" && v["vmid"] == float64(100) {
			web = v
		}
	}
	if fmt.Sprint(web["tags"]) != "[prod web]" || web["name"] != "web-01" || web["status"] != "running" || web["maxmem"] != float64(4<<30) {
		t.Fatalf("web-01: %v", web)
	}
	// Sorted by server name, node, vmid.
	if !sort.SliceIsSorted(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a["serverName"] != b["serverName"] {
			return a["serverName"].(string) < b["serverName"].(string)
		}
		if a["node"] != b["node"] {
			return a["node"].(string) < b["node"].(string)
		}
		return a["vmid"].(float64) < b["vmid"].(float64)
	}) {
		t.Fatal("not sorted")
	}

	// Filters: one server, one type.
	one := vms(t, functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodGet, fn+"?tenantId="+functest.TenantA+"&serverId="+w.edgeID+"&type=lxc", nil), 200))
	if len(one) != 1 || one[0]["name"] != "nginx" {
		t.Fatalf("edge lxc: %v", one)
	}
	functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA, "type": "vm"}), 400)
}

func TestOneServerDown(t *testing.T) {
	w := newWorld(t)
	w.edge.Close()
	res := functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
	if n := len(vms(t, res)); n != 24 {
		t.Fatalf("%d guests, want the two clusters' 24", n)
	}
	h := health(t, res)
	if h["edge"]["status"] != "offline" || text(h["edge"]["error"]) == "" || h["lab"]["status"] != "online" || h["branch"]["status"] != "online" {
		t.Fatalf("health: %v", h)
	}
}

// Each simulator fault shows as the matching ServerHealth status, within the
// per-server timeout, while the other servers still answer.
func TestFaultsBecomeServerHealth(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		name  string
		apply func()
		want  string
	}{
		{"401", func() { w.edge.SetFault(pvesim.Fault{Unauthorized: true}) }, "auth_error"},
		{"500", func() { w.edge.SetFault(pvesim.Fault{Status: 500}) }, "error"},
		{"503", func() { w.edge.SetFault(pvesim.Fault{Status: 503}) }, "error"},
		{"595", func() { w.edge.SetFault(pvesim.Fault{Status: 595}) }, "offline"},
		{"596", func() { w.edge.SetFault(pvesim.Fault{Status: 596}) }, "offline"},
		{"malformed JSON", func() { w.edge.SetFault(pvesim.Fault{MalformedJSON: true}) }, "error"},
		{"hang", func() { w.edge.SetFault(pvesim.Fault{Hang: true}) }, "timeout"},
		{"slower than the timeout", func() { w.edge.SetFault(pvesim.Fault{Latency: 5 * time.Second}) }, "timeout"},
		{"changed certificate", func() {
			if err := w.edge.RotateCertificate(); err != nil {
				t.Fatal(err)
			}
		}, "tls_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w.edge.ClearFaults()
			c.apply()
			res := functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
			h := health(t, res)
			if h["edge"]["status"] != c.want {
				t.Fatalf("edge: %v, want %s", h["edge"], c.want)
			}
			if h["lab"]["status"] != "online" || h["branch"]["status"] != "online" || len(vms(t, res)) != 24 {
				t.Fatalf("the healthy servers suffered: %v", h)
			}
			if text(h["edge"]["error"]) == "" {
				t.Fatalf("edge %s without a reason: %v", c.want, h["edge"])
			}
		})
	}
}

func TestOddGuestDoesNotCostTheServer(t *testing.T) {
	w := newWorld(t)
	if err := w.lab.SetOddGuest(102); err != nil {
		t.Fatal(err)
	}
	if err := w.lab.SetNodeOnline("pve3", false); err != nil {
		t.Fatal(err)
	}
	res := functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA, "serverId": w.labID}), 200)
	list := vms(t, res)
	if len(list) != 12 || health(t, res)["lab"]["status"] != "online" {
		t.Fatalf("%d guests, health %v", len(list), health(t, res))
	}
	unknown := 0
	for _, v := range list {
		if v["node"] == "pve3" {
			if v["status"] != "unknown" {
				t.Fatalf("guest on an offline node: %v", v)
			}
			unknown++
		}
		if v["vmid"] == float64(102) && v["name"] != "db-01" {
			t.Fatalf("odd guest: %v", v)
		}
	}
	if unknown == 0 {
		t.Fatal("no guest of the offline node listed")
	}
}

func TestPowerActions(t *testing.T) {
	w := newWorld(t)
	action := func(user, act string, extra obj) functest.Response {
		p := obj{"action": act, "tenantId": functest.TenantA, "serverId": w.labID, "node": "pve2", "vmid": 104, "type": "qemu"}
		for k, v := range extra {
			p[k] = v
		}
		return w.e.Call(user, http.MethodPost, fn, p)
	}
	// A viewer is refused before anything reaches Proxmox.
	w.lab.ResetRequests()
	functest.Expect(t, action(functest.ViewerA, "start", nil), 403)
	functest.Expect(t, action(functest.AdminB, "start", nil), 404)
	functest.Expect(t, action(functest.Nobody, "start", nil), 404)
	if n := w.lab.TotalRequests(); n != 0 {
		t.Fatalf("refused actions reached the simulator %d times: %v", n, w.lab.RequestPaths())
	}
	// A manager's start reaches it and changes the guest's state.
	res := functest.Expect(t, action(functest.ManagerA, "start", nil), 202)
	upid, _ := res.Body["upid"].(string)
	if !strings.HasPrefix(upid, "UPID:pve2:") || !strings.Contains(upid, ":qmstart:104:") {
		t.Fatalf("upid %q", upid)
	}
	if g, _ := w.lab.Guest("pve2", 104); g.Status != "running" {
		t.Fatalf("guest 104 is %s after start", g.Status)
	}
	functest.Expect(t, action(functest.AdminA, "reboot", nil), 202)
	functest.Expect(t, action(functest.SysAdmin, "shutdown", nil), 202)
	if g, _ := w.lab.Guest("pve2", 104); g.Status != "stopped" {
		t.Fatalf("guest 104 is %s after shutdown", g.Status)
	}
	// Containers too.
	res = functest.Expect(t, action(functest.ManagerA, "stop", obj{"vmid": 201, "type": "lxc"}), 202)
	if !strings.Contains(res.Body["upid"].(string), ":vzstop:201:") {
		t.Fatalf("lxc upid %v", res.Body["upid"])
	}
	// Checked against what is really there.
	functest.Expect(t, action(functest.ManagerA, "start", obj{"node": "pve1"}), 404)               // wrong node
	functest.Expect(t, action(functest.ManagerA, "start", obj{"type": "lxc"}), 404)                // wrong type
	functest.Expect(t, action(functest.ManagerA, "start", obj{"vmid": 4242}), 404)                 // no such guest
	functest.Expect(t, action(functest.ManagerA, "start", obj{"vmid": 9000, "node": "pve1"}), 409) // template
	functest.Expect(t, action(functest.ManagerA, "start", obj{"serverId": w.edgeID, "node": "pve", "vmid": 102}), 202)
	// Bad input.
	functest.Expect(t, action(functest.ManagerA, "start", obj{"vmid": "abc"}), 400)
	functest.Expect(t, action(functest.ManagerA, "start", obj{"type": nil}), 400)
	functest.Expect(t, action(functest.ManagerA, "start", obj{"node": nil}), 400)
	// A reboot of a stopped guest, which Proxmox would refuse: 409, and
	// nothing sent (power_test.go has every cell).
	res = functest.Expect(t, action(functest.ManagerA, "reboot", nil), 409)
	if res.Code() != "guest_not_running" {
		t.Fatal(res.Raw)
	}
	// A hanging server: 504.
	w.lab.SetFault(pvesim.Fault{Hang: true})
	functest.Expect(t, action(functest.ManagerA, "start", nil), 504)
}

// Credentials moved from the legacy plain columns by migration 0003 work,
// and the first request that uses them seals them and clears the plaintext.
func TestLegacyPlaintextIsSealedOnFirstUse(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.e.DB.Pool.Exec(ctx, `update private.proxmox_server_credentials
		set sealed = null, key_id = null, legacy_plaintext = jsonb_build_object('tokenId', $2::text, 'tokenSecret', $3::text)
		where server_id = $1`, w.labID, pvesim.PresetTokenID, pvesim.PresetTokenSecret); err != nil {
		t.Fatal(err)
	}
	res := functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA, "serverId": w.labID}), 200)
	if health(t, res)["lab"]["status"] != "online" {
		t.Fatalf("legacy credentials did not work: %s", res.Raw)
	}
	var sealed []byte
	var keyID string
	var plain *string
	if err := w.e.DB.Pool.QueryRow(ctx, `select sealed, key_id, legacy_plaintext::text from private.proxmox_server_credentials where server_id = $1`,
		w.labID).Scan(&sealed, &keyID, &plain); err != nil {
		t.Fatal(err)
	}
	if plain != nil || keyID != w.e.Deps.Keyring.CurrentID() {
		t.Fatalf("not sealed on first use: plaintext %v, key %q", plain, keyID)
	}
	if c, err := w.e.Deps.Keyring.OpenCredentials(w.labID, keyID, sealed); err != nil || c.TokenSecret != pvesim.PresetTokenSecret {
		t.Fatalf("sealed legacy credentials do not open: %v", err)
	}
}

// After a key rotation (new CREDENTIALS_KEY, the old one in
// CREDENTIALS_PREVIOUS_KEYS), credentials sealed under the old key still
// work and are resealed under the new one by the first request using them.
func TestRotatedKeyIsResealedOnUse(t *testing.T) {
	oldKey := make([]byte, 32)
	_, _ = rand.Read(oldKey)
	old := base64.StdEncoding.EncodeToString(oldKey)
	e := functest.New(t, functest.Options{Needs: listvms.Needs, Configure: func(c *functest.Config) {
		ring, err := secrets.ParseKeyring(c.CredentialsKey, old)
		if err != nil {
			t.Fatal(err)
		}
		c.Keyring = ring
	}}, listvms.New)
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	id := e.AddServer(functest.TenantA, "edge", sim, functest.ServerOpts{})
	oldRing, err := secrets.ParseKeyring(old, "")
	if err != nil {
		t.Fatal(err)
	}
	oldID, blob, err := oldRing.SealCredentials(id, secrets.Credentials{TokenID: pvesim.PresetTokenID, TokenSecret: pvesim.PresetTokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := e.DB.Pool.Exec(ctx, `update private.proxmox_server_credentials set key_id = $2, sealed = $3 where server_id = $1`, id, oldID, blob); err != nil {
		t.Fatal(err)
	}
	res := functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), 200)
	if health(t, res)["edge"]["status"] != "online" {
		t.Fatalf("credentials under the previous key: %s", res.Raw)
	}
	var keyID string
	if err := e.DB.Pool.QueryRow(ctx, `select key_id from private.proxmox_server_credentials where server_id = $1`, id).Scan(&keyID); err != nil {
		t.Fatal(err)
	}
	if keyID != e.Deps.Keyring.CurrentID() || keyID == oldID {
		t.Fatalf("still sealed under %s, want the current key %s", keyID, e.Deps.Keyring.CurrentID())
	}
}
