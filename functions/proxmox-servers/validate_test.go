package proxmoxservers

import (
	"testing"

	"github.com/pvetenant/backend/shared/proxmox"
)

// The registry stores exactly the targets the Proxmox client will accept:
// a host refused at create would be refused by the client too, and a host
// the client accepts is not refused at create (once, "pve_1.lan" was).
func TestHostRuleIsTheClients(t *testing.T) {
	hosts := []string{
		"pve1.example.com", "PVE1.Example.COM.", "pve_1.lan", "10.0.0.5", "[fd00::5]", "fd00::5",
		"1.2.3", "-bad.example.com", "bad-.example.com", "a..b", "pve1.example.com:8006",
		"https://pve1", "pve 1", "fe80::1%eth0", "x@pve1", "",
	}
	for _, h := range hosts {
		_, regErr := validHost(h)
		_, cliErr := proxmox.NewClient(proxmox.Target{Host: h, TokenID: "root@pam!dash", TokenSecret: "s", VerifyTLS: true}, proxmox.Options{})
		if (regErr == nil) != (cliErr == nil) {
			t.Errorf("%q: registry err=%v, client err=%v", h, regErr, cliErr)
		}
	}
	ids := []string{"root@pam!dash", "root@pam!d", "root@p!dash", "a@b@pam!dash", "root@pam", "root@pam!1dash"}
	for _, id := range ids {
		_, cliErr := proxmox.NewClient(proxmox.Target{Host: "pve1", TokenID: id, TokenSecret: "s", VerifyTLS: true}, proxmox.Options{})
		if proxmox.ValidTokenID(id) != (cliErr == nil) {
			t.Errorf("token id %q: registry %v, client err=%v", id, proxmox.ValidTokenID(id), cliErr)
		}
	}
}
