package proxmoxservers_test

import (
	"net/http"
	"testing"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
)

func TestClusterCreateTestAndSameCluster(t *testing.T) {
	e := newEnv(t)
	c := pvesim.NewTestCluster(t, pvesim.MustPreset("cluster3"))
	node := func(n string) obj { return obj{"host": "127.0.0.1", "port": c.NodePort(n)} }
	create := func(name, primary string, extra obj) functest.Response {
		p := obj{"tenantId": functest.TenantA, "name": name, "host": "127.0.0.1", "port": c.NodePort(primary),
			"verifyTls": false, "caPem": c.CAPEM(), "tokenId": pvesim.PresetTokenID, "tokenSecret": pvesim.PresetTokenSecret}
		for k, v := range extra {
			p[k] = v
		}
		return e.Call(functest.ManagerA, http.MethodPost, fn, p)
	}
	var answers []functest.Response

	res := functest.Expect(t, create("lab", "pve1", obj{"endpoints": []any{node("pve2")}}), 201)
	answers = append(answers, res)
	s := server(t, res)
	eps, _ := s["endpoints"].([]any)
	if len(eps) != 1 || s["ca_pem"] != c.CAPEM()+"\n" && s["ca_pem"] != c.CAPEM() {
		t.Fatalf("row: %s", res.Raw)
	}
	id := s["id"].(string)

	// The same cluster again, through another node: refused, suggesting an endpoint.
	res = functest.Expect(t, create("lab-2", "pve3", nil), 409)
	answers = append(answers, res)
	if res.Code() != "same_cluster" {
		t.Fatalf("%s", res.Raw)
	}

	// test: the cluster's nodes as suggested endpoints (not added), each
	// endpoint's certificate and whether it chains to the CA.
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "serverId": id}), 200)
	answers = append(answers, res)
	cl, _ := res.Body["cluster"].(map[string]any)
	sugg, _ := cl["suggestedEndpoints"].([]any)
	if res.Body["ok"] != true || cl["name"] != "lab" || cl["quorate"] != true || len(sugg) != 3 {
		t.Fatalf("test: %s", res.Raw)
	}
	if first := sugg[0].(map[string]any); first["node"] != "pve1" || first["ip"] != "192.0.2.11" || first["online"] != true {
		t.Fatalf("suggested: %v", sugg)
	}
	reports, _ := res.Body["endpoints"].([]any)
	if len(reports) != 2 {
		t.Fatalf("endpoint reports: %s", res.Raw)
	}
	for i, n := range []string{"pve1", "pve2"} {
		r := reports[i].(map[string]any)
		if r["tlsFingerprint"] != c.NodeFingerprint(n) || r["chainsToCa"] != true {
			t.Fatalf("%s: %v", n, r)
		}
	}
	got := server(t, functest.Expect(t, e.Call(functest.ManagerA, http.MethodGet, fn, obj{"action": "get", "serverId": id}), 200))
	if eps, _ := got["endpoints"].([]any); len(eps) != 1 {
		t.Fatalf("test added endpoints: %v", got["endpoints"])
	}

	// A node with a certificate from another CA: test shows it does not chain.
	if err := c.UseForeignCertificate("pve3"); err != nil {
		t.Fatal(err)
	}
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "tenantId": functest.TenantA,
		"host": "127.0.0.1", "port": c.NodePort("pve1"), "verifyTls": false, "caPem": c.CAPEM(), "endpoints": []any{node("pve3")},
		"tokenId": pvesim.PresetTokenID, "tokenSecret": pvesim.PresetTokenSecret}), 200)
	answers = append(answers, res)
	reports, _ = res.Body["endpoints"].([]any)
	if len(reports) != 2 || reports[1].(map[string]any)["chainsToCa"] != false || reports[1].(map[string]any)["tlsFingerprint"] != c.NodeFingerprint("pve3") {
		t.Fatalf("foreign: %s", res.Raw)
	}
	if same, _ := res.Body["sameCluster"].([]any); len(same) != 1 {
		t.Fatalf("sameCluster: %s", res.Raw)
	}

	// Adding an endpoint only the unchanged CA vouches for keeps the
	// credentials; one trusted by its own pin needs them again.
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id,
		"endpoints": []any{node("pve2"), node("pve3")}}), 200)
	answers = append(answers, res)
	pinned := node("pve3")
	pinned["tlsFingerprint"] = c.NodeFingerprint("pve3")
	functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id, "endpoints": []any{pinned}}), 400)
	functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id, "caPem": ""}), 400)

	// The address guard holds for every endpoint at update and test:
	// refused before anything is stored or dialled.
	metadata := []any{obj{"host": "169.254.169.254", "port": 8006}}
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id, "endpoints": metadata,
		"tokenId": pvesim.PresetTokenID, "tokenSecret": pvesim.PresetTokenSecret}), 400)
	if res.Code() != "forbidden_address" {
		t.Fatalf("%s", res.Raw)
	}
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "tenantId": functest.TenantA,
		"host": "127.0.0.1", "port": c.NodePort("pve1"), "verifyTls": false, "caPem": c.CAPEM(), "endpoints": metadata,
		"tokenId": pvesim.PresetTokenID, "tokenSecret": pvesim.PresetTokenSecret}), 400)
	if res.Code() != "forbidden_address" {
		t.Fatalf("%s", res.Raw)
	}
	got = server(t, functest.Expect(t, e.Call(functest.ManagerA, http.MethodGet, fn, obj{"action": "get", "serverId": id}), 200))
	if eps, _ := got["endpoints"].([]any); len(eps) != 2 {
		t.Fatalf("endpoints after refusals: %v", got["endpoints"])
	}

	// Bad input.
	functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id, "endpoints": []any{obj{"host": "http://x/"}},
		"tokenId": pvesim.PresetTokenID, "tokenSecret": pvesim.PresetTokenSecret}), 400)
	functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id, "caPem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
		"tokenId": pvesim.PresetTokenID, "tokenSecret": pvesim.PresetTokenSecret}), 400)
	noSecrets(t, e, answers...)
}
