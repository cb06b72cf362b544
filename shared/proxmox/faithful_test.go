package proxmox

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/shared/netguard"
)

// simClient is a client for sim with the given credentials, pinned to its
// certificate, loopback allowed.
func simClient(t *testing.T, sim *pvesim.Sim, tg Target, timeout time.Duration) *Client {
	t.Helper()
	tg.Host, tg.Port, tg.Fingerprint = "127.0.0.1", sim.Port(), sim.Fingerprint()
	c, err := NewClient(tg, Options{Timeout: timeout, Guard: netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// A password account with a second factor logs in "successfully" (NeedTFA,
// a half ticket) and every later call is 401: the client says why, at once.
func TestNeedTFALoginIsAuthErrorWithReason(t *testing.T) {
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	c := simClient(t, sim, Target{Username: pvesim.PresetTFAUser, Password: pvesim.PresetTFAPassword}, 4*time.Second)
	_, err := c.Probe(context.Background())
	if Classify(err) != StatusAuthError || Describe(err) != TFAMessage {
		t.Fatalf("probe: %s / %q", Classify(err), Describe(err))
	}
	if n := sim.Requests("/version"); n != 0 {
		t.Errorf("%d calls made with a half ticket", n)
	}
}

// pveproxy delays every 401 by 3 s. A rejected session leads to a re-login
// that is refused too; the first 401 arrived inside the deadline, so the
// answer is auth_error, never timeout.
func TestRejectedSessionWithSlow401IsAuthError(t *testing.T) {
	cfg := pvesim.MustPreset("standalone")
	cfg.AuthFailureDelay = pvesim.RealAuthFailureDelay
	slow := pvesim.NewTestSim(t, cfg)
	c := simClient(t, slow, Target{Username: pvesim.PresetUser, Password: pvesim.PresetPassword}, 4*time.Second)
	if _, err := c.version(context.Background()); err != nil {
		t.Fatal(err)
	}
	slow.SetFault(pvesim.Fault{Unauthorized: true})
	_, err := c.version(context.Background())
	if Classify(err) != StatusAuthError {
		t.Fatalf("rejected session: %s (%v)", Classify(err), err)
	}
}

// PVE's UPID allows any non-space, non-colon character in the user name;
// a token of "ops#1%x?@pve" gets UPIDs the client must accept and follow.
func TestUPIDWithPVEUserCharset(t *testing.T) {
	cfg := pvesim.MustPreset("standalone")
	const id, secret = "ops#1%x?@pve!tk", "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
	cfg.Tokens = append(cfg.Tokens, pvesim.Token{ID: id, Secret: secret})
	cfg.ACL = append(cfg.ACL, pvesim.ACL{Path: "/", UGID: "ops#1%x?@pve", Role: "PVEVMUser"})
	sim := pvesim.NewTestSim(t, cfg)
	c := simClient(t, sim, Target{TokenID: id, TokenSecret: secret}, 4*time.Second)
	upid, err := c.GuestAction(context.Background(), "pve", "qemu", 102, "start")
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if !strings.Contains(upid, ":ops#1%x?@pve!tk:") {
		t.Fatalf("upid %q", upid)
	}
	ts, err := c.TaskStatus(context.Background(), "pve", upid)
	if err != nil || !ts.Succeeded() {
		t.Fatalf("task status %+v, %v", ts, err)
	}
}

// PVE's reason reaches the sentence the user sees.
func TestRefusalCarriesPVEReason(t *testing.T) {
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	c := simClient(t, sim, Target{TokenID: pvesim.PresetTokenID, TokenSecret: pvesim.PresetTokenSecret}, 4*time.Second)
	_, err := c.GuestAction(context.Background(), "pve", "lxc", 101, "start")
	if !errors.Is(err, ErrHTTPStatus) || !strings.Contains(Describe(err), "CT 101 already running") {
		t.Fatalf("lxc start of a running CT: %q", Describe(err))
	}
}

// Permissions: a token without ACL cannot do anything; an auditor can read.
func TestPermissionsSummary(t *testing.T) {
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	for _, tc := range []struct {
		id, secret     string
		audit, powerMg bool
	}{
		{pvesim.PresetNoPrivTokenID, pvesim.PresetNoPrivSecret, false, false},
		{pvesim.PresetAuditorTokenID, pvesim.PresetAuditorSecret, true, false},
		{pvesim.PresetOperatorTokenID, pvesim.PresetOperatorSecret, true, true},
		{pvesim.PresetTokenID, pvesim.PresetTokenSecret, true, true},
	} {
		c := simClient(t, sim, Target{TokenID: tc.id, TokenSecret: tc.secret}, 4*time.Second)
		p, err := c.Permissions(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		if p.CanAudit != tc.audit || p.CanPowerManage != tc.powerMg || (p.Sentence() == "") != (tc.audit && tc.powerMg) {
			t.Errorf("%s: %+v %q", tc.id, p, p.Sentence())
		}
	}
}
