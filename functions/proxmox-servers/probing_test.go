package proxmoxservers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	proxmoxservers "github.com/pvetenant/backend/functions/proxmox-servers"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/sweep"
)

// Issue 13 item 7 / issue 18: a server is not registered, or moved, at a
// forbidden address: the cloud metadata service, a name resolving only to
// loopback, a port off PROXMOX_ALLOWED_PORTS. Nothing is stored.
func TestForbiddenAddressAtCreateAndUpdate(t *testing.T) {
	sweep.Register(tokenSecret, password)
	e := functest.New(t, functest.Options{Needs: proxmoxservers.Needs, Configure: func(c *functest.Config) {
		c.ProxmoxAllowCIDRs = nil
		c.ProxmoxAllowedPorts = []uint16{8006, 443}
	}}, proxmoxservers.New)
	for _, tc := range []struct {
		host string
		port int
	}{
		{"169.254.169.254", 8006},
		{"localhost", 8006}, // a name resolving only to loopback
		{"127.0.0.1", 8006},
		{"0.0.0.0", 443},
		{"fd00:ec2::254", 8006},
		{"10.1.2.3", 5432}, // a private address is fine, but not that port
	} {
		res := functest.Expect(t, createServer(t, e, functest.ManagerA, obj{"host": tc.host, "port": tc.port}), http.StatusBadRequest)
		if res.Code() != "forbidden_address" {
			t.Fatalf("create at %s:%d: %s", tc.host, tc.port, res.Raw)
		}
	}
	var n int
	if err := e.DB.Pool.QueryRow(context.Background(), `select count(*) from public.proxmox_servers`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d servers stored (%v)", n, err)
	}
	// A private address on an allowed port is what Proxmox servers look like.
	created := functest.Expect(t, createServer(t, e, functest.ManagerA, obj{"host": "10.1.2.3", "port": 8006}), http.StatusCreated)
	id := server(t, created)["id"]
	res := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id, "host": "169.254.169.254",
		"tokenId": "root@pam!monitor", "tokenSecret": tokenSecret}), http.StatusBadRequest)
	if res.Code() != "forbidden_address" || strings.Contains(res.Raw, "link-local") || strings.Contains(res.Raw, "metadata") {
		t.Fatalf("update: %s", res.Raw)
	}
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id, "port": 22,
		"tokenId": "root@pam!monitor", "tokenSecret": tokenSecret}), http.StatusBadRequest)
	if res.Code() != "forbidden_address" {
		t.Fatalf("update port: %s", res.Raw)
	}
	got := functest.Expect(t, e.Call(functest.ManagerA, http.MethodGet, fn+"?action=get&serverId="+id.(string), nil), 200)
	if s := server(t, got); s["host"] != "10.1.2.3" || s["port"] != float64(8006) {
		t.Fatalf("server changed: %v", s)
	}
	// The precise reason is in the log for the operator.
	if !strings.Contains(e.Logs.String(), "forbidden address refused") {
		t.Fatal("no log line for the refusals")
	}
	noSecrets(t, e, created, res, got)
}
