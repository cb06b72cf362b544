package pvesim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func clusterGet(t *testing.T, c *Cluster, node, path string) (*http.Response, []byte, error) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(c.CAPEM()))
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: node, MinVersion: tls.VersionTLS12}}}
	req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1:"+strconv.Itoa(c.NodePort(node))+"/api2/json"+path, nil)
	rootToken(req)
	res, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b, nil
}

func TestClusterNodesServeWithCACertificates(t *testing.T) {
	c := NewTestCluster(t, MustPreset("cluster3"))
	seen := map[string]bool{}
	for _, n := range c.Nodes() {
		res, _, err := clusterGet(t, c, n, "/version")
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		fp := Fingerprint(res.TLS.PeerCertificates[0].Raw)
		if fp != c.NodeFingerprint(n) || seen[fp] {
			t.Fatalf("%s: certificate %s not its own", n, fp)
		}
		seen[fp] = true
		if got := c.Calls(n); len(got) != 1 || !got[0].Credentials || got[0].Path != "/version" {
			t.Fatalf("%s calls: %+v", n, got)
		}
	}

	// A stopped node refuses connections and is offline for the others;
	// two of three online keeps quorum.
	if err := c.StopNode("pve1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := clusterGet(t, c, "pve1", "/version"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("stopped node: %v", err)
	}
	status := func() (quorate int, online map[string]int) {
		_, b, err := clusterGet(t, c, "pve2", "/cluster/status")
		if err != nil {
			t.Fatal(err)
		}
		var env struct{ Data []map[string]any }
		_ = json.Unmarshal(b, &env)
		online = map[string]int{}
		for _, e := range env.Data {
			switch e["type"] {
			case "cluster":
				quorate = int(e["quorate"].(float64))
			case "node":
				online[e["name"].(string)] = int(e["online"].(float64))
			}
		}
		return
	}
	if q, on := status(); q != 1 || on["pve1"] != 0 || on["pve2"] != 1 {
		t.Fatalf("quorate %d online %v", q, on)
	}
	if err := c.SetNodeOnline("pve3", false); err != nil {
		t.Fatal(err)
	}
	if q, _ := status(); q != 0 {
		t.Fatal("one of three nodes online must lose quorum")
	}
	// Restarted on the same port.
	if err := c.StartNode("pve1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := clusterGet(t, c, "pve1", "/version"); err != nil {
		t.Fatalf("restarted node: %v", err)
	}

	// A certificate from another CA fails verification against the cluster's.
	if err := c.UseForeignCertificate("pve2"); err != nil {
		t.Fatal(err)
	}
	before := len(c.Calls("pve2"))
	if _, _, err := clusterGet(t, c, "pve2", "/version"); err == nil {
		t.Fatal("foreign certificate verified")
	}
	if len(c.Calls("pve2")) != before {
		t.Fatal("a request reached the node despite the failed handshake")
	}
}
