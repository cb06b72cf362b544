package listvms_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pvetenant/backend/infra/functest"
)

// A TLS failure is one code whether it is known before the call (nothing
// verifies the server: it is never sent a request) or found during it (the
// certificate changed under the pin), for a power action and for
// task-status alike.
func TestTLSFailureIsOneCode(t *testing.T) {
	w := newWorld(t)
	start := func(serverID string) functest.Response {
		return w.e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "start", "tenantId": functest.TenantA,
			"serverId": serverID, "node": "pve1", "vmid": 103, "type": "qemu"})
	}
	taskStatus := func(serverID string) functest.Response {
		return w.e.Call(functest.ViewerA, http.MethodPost, fn, obj{"action": "task-status", "tenantId": functest.TenantA,
			"serverId": serverID, "node": "pve1", "upid": "UPID:pve1:000A1B2C:0B3C4D5E:66F1A2B3:qmstart:103:root@pam:"})
	}

	// Verification off and no pin: refused before any request.
	if _, err := w.e.DB.Pool.Exec(context.Background(), `update public.proxmox_servers set tls_fingerprint = null, verify_ssl = false where id = $1`, w.labID); err != nil {
		t.Fatal(err)
	}
	before := len(w.lab.Calls(""))
	res := functest.Expect(t, start(w.labID), http.StatusBadGateway)
	if res.Code() != "proxmox_tls_error" {
		t.Fatalf("unverified server: code %q, want proxmox_tls_error: %s", res.Code(), res.Raw)
	}
	res = functest.Expect(t, taskStatus(w.labID), http.StatusBadGateway)
	if res.Code() != "proxmox_tls_error" {
		t.Fatalf("task-status, unverified server: code %q, want proxmox_tls_error: %s", res.Code(), res.Raw)
	}
	if n := len(w.lab.Calls("")) - before; n != 0 {
		t.Fatalf("an unverified server was sent %d requests", n)
	}

	// Pinned, but the server now presents another certificate.
	if err := w.branch.RotateCertificate(); err != nil {
		t.Fatal(err)
	}
	res = functest.Expect(t, start(w.brchID), http.StatusBadGateway)
	if res.Code() != "proxmox_tls_error" {
		t.Fatalf("changed certificate: code %q, want proxmox_tls_error: %s", res.Code(), res.Raw)
	}
	res = functest.Expect(t, taskStatus(w.brchID), http.StatusBadGateway)
	if res.Code() != "proxmox_tls_error" {
		t.Fatalf("task-status, changed certificate: code %q, want proxmox_tls_error: %s", res.Code(), res.Raw)
	}
}

// A server whose credentials are missing, or sealed under a key this
// function does not hold, is never sent a request: listing reports it as
// auth_error with a sentence saying what to do, and a power action answers
// the same code as a 401 from Proxmox would.
func TestUnusableCredentialsAreNeverSent(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// lab: no credentials row at all; branch: a blob no key of ours opens.
	if _, err := w.e.DB.Pool.Exec(ctx, `delete from private.proxmox_server_credentials where server_id = $1`, w.labID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.e.DB.Pool.Exec(ctx, `update private.proxmox_server_credentials set key_id = 'retired-key', sealed = '\xdeadbeef' where server_id = $1`, w.brchID); err != nil {
		t.Fatal(err)
	}
	before := len(w.lab.Calls("")) + len(w.branch.Calls(""))

	res := functest.Expect(t, w.e.Call(functest.ViewerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA}), http.StatusOK)
	h := health(t, res)
	for name, want := range map[string]string{"lab": "no credentials are stored", "branch": "cannot be opened with the current key"} {
		if h[name]["status"] != "auth_error" || !strings.Contains(text(h[name]["error"]), want) {
			t.Errorf("%s: status %v, error %q; want auth_error saying %q", name, h[name]["status"], text(h[name]["error"]), want)
		}
	}
	if h["edge"]["status"] != "online" {
		t.Errorf("edge, whose credentials are fine: %v", h["edge"]["status"])
	}
	for _, id := range []string{w.labID, w.brchID} {
		res := functest.Expect(t, w.e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "start", "tenantId": functest.TenantA,
			"serverId": id, "node": "pve1", "vmid": 103, "type": "qemu"}), http.StatusBadGateway)
		if res.Code() != "proxmox_auth_error" {
			t.Errorf("start on %s: code %q, want proxmox_auth_error: %s", id, res.Code(), res.Raw)
		}
	}
	if n := len(w.lab.Calls("")) + len(w.branch.Calls("")) - before; n != 0 {
		t.Fatalf("servers with unusable credentials were sent %d requests", n)
	}
}
