package proxmoxservers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	proxmoxservers "github.com/pvetenant/backend/functions/proxmox-servers"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/shared/proxmox"
)

// test reports what the credentials may do: a privilege-separated token
// without ACL (PVE's default for a new token) connects and sees nothing,
// which the answer says in plain words; PVEAuditor reads, PVEVMUser on /vms
// adds power actions.
func TestConnectionTestReportsPrivileges(t *testing.T) {
	e := newEnv(t)
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	var answers []functest.Response
	for _, tc := range []struct {
		id, secret   string
		audit, power bool
	}{
		{pvesim.PresetNoPrivTokenID, pvesim.PresetNoPrivSecret, false, false},
		{pvesim.PresetAuditorTokenID, pvesim.PresetAuditorSecret, true, false},
		{pvesim.PresetOperatorTokenID, pvesim.PresetOperatorSecret, true, true},
	} {
		res := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "tenantId": functest.TenantA,
			"host": "127.0.0.1", "port": sim.Port(), "verifyTls": false, "tlsFingerprint": sim.Fingerprint(),
			"tokenId": tc.id, "tokenSecret": tc.secret}), 200)
		answers = append(answers, res)
		p, _ := res.Body["privileges"].(map[string]any)
		if res.Body["ok"] != true || p == nil || p["canAudit"] != tc.audit || p["canPowerManage"] != tc.power {
			t.Fatalf("%s: %s", tc.id, res.Raw)
		}
		warning, _ := res.Body["warning"].(string)
		switch {
		case !tc.audit && !strings.Contains(warning, "cannot see guests, see storage, see node CPU and memory figures or start or stop guests"):
			t.Errorf("%s: warning %q", tc.id, warning)
		case tc.audit && !tc.power && !strings.Contains(warning, "cannot start or stop guests (missing VM.PowerMgmt on /vms)"):
			t.Errorf("%s: warning %q", tc.id, warning)
		case tc.audit && tc.power && warning != "":
			t.Errorf("%s: warning %q", tc.id, warning)
		}
	}
	noSecrets(t, e, answers...)
}

// A password account with a second factor: auth_error with the reason.
func TestConnectionTestTwoFactorAccount(t *testing.T) {
	e := newEnv(t)
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	res := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "tenantId": functest.TenantA,
		"host": "127.0.0.1", "port": sim.Port(), "verifyTls": false, "tlsFingerprint": sim.Fingerprint(),
		"username": pvesim.PresetTFAUser, "password": pvesim.PresetTFAPassword}), 200)
	if res.Body["ok"] != false || res.Body["status"] != "auth_error" || res.Body["error"] != proxmox.TFAMessage {
		t.Fatalf("%s", res.Raw)
	}
	noSecrets(t, e, res)
}

// pveproxy holds every 401 back for 3 s. With the default per-server
// timeout, wrong credentials are auth_error, not timeout.
func TestConnectionTestSlow401WithDefaultTimeout(t *testing.T) {
	e := functest.New(t, functest.Options{Needs: proxmoxservers.Needs, Configure: func(c *functest.Config) {
		c.ProxmoxTimeout = proxmox.DefaultTimeout
	}}, proxmoxservers.New)
	cfg := pvesim.MustPreset("standalone")
	cfg.AuthFailureDelay = pvesim.RealAuthFailureDelay
	sim := pvesim.NewTestSim(t, cfg)
	base := obj{"action": "test", "tenantId": functest.TenantA, "host": "127.0.0.1", "port": sim.Port(),
		"verifyTls": false, "tlsFingerprint": sim.Fingerprint()}
	for name, creds := range map[string]obj{
		"wrong token":    {"tokenId": pvesim.PresetTokenID, "tokenSecret": "00000000-0000-4000-8000-000000000000"},
		"wrong password": {"username": pvesim.PresetUser, "password": "not-the-password"},
	} {
		p := obj{}
		for k, v := range base {
			p[k] = v
		}
		for k, v := range creds {
			p[k] = v
		}
		res := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, p), 200)
		if res.Body["status"] != "auth_error" {
			t.Errorf("%s: %s", name, res.Raw)
		}
	}
	if proxmox.DefaultTimeout < pvesim.RealAuthFailureDelay+2*time.Second {
		t.Errorf("default timeout %s leaves under 2 s beyond pveproxy's 401 delay", proxmox.DefaultTimeout)
	}
}
