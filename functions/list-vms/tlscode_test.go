package listvms_test

import (
	"context"
	"net/http"
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
