package pvesim

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultLatency(t *testing.T) {
	s := newCluster(t, nil)
	s.SetFault(Fault{Latency: 80 * time.Millisecond})
	start := time.Now()
	expectOK(t, do(t, s, "GET", "/version", rootToken, nil))
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("answered after %v", d)
	}

	// A client giving up ends the wait (long latency, short client deadline).
	s.SetFault(Fault{Latency: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start = time.Now()
	res, err := doErr(ctx, s.Client(), s, "GET", "/version", rootToken, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want deadline exceeded, got %v (%q)", err, res.status)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancel took %v", d)
	}

	s.ClearFaults()
	start = time.Now()
	expectOK(t, do(t, s, "GET", "/version", rootToken, nil))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("latency still applied after ClearFaults: %v", d)
	}
}

func TestFaultHang(t *testing.T) {
	s := newCluster(t, nil)
	s.SetFault(Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if res, err := doErr(ctx, s.Client(), s, "GET", "/cluster/resources", rootToken, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v (%q)", err, res.status)
	}

	// Close releases a request that would otherwise hang forever.
	c := s.Client()
	c.Timeout = 0
	errc := make(chan error, 1)
	go func() {
		_, err := doErr(context.Background(), c, s, "GET", "/cluster/resources", rootToken, nil)
		errc <- err
	}()
	deadline := time.Now().Add(2 * time.Second)
	for s.Requests("/cluster/resources") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	s.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("hanging request got an answer")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not release the hanging request")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
}

func TestFaultStatuses(t *testing.T) {
	s := newCluster(t, nil)

	s.SetFault(Fault{Unauthorized: true})
	r := do(t, s, "GET", "/version", rootToken, nil)
	expectError(t, r, 401, "Authentication failed!")
	if string(r.body) != "" {
		t.Errorf("401 body %q", r.body)
	}

	s.SetFault(Fault{Status: 500})
	r = do(t, s, "GET", "/version", rootToken, nil)
	expectError(t, r, 500, "Internal Server Error")
	if d, msg, _ := r.envelope(t); string(d) != "null" || msg != "Internal Server Error\n" {
		t.Errorf("500 body %s", r.body)
	}

	s.SetFault(Fault{Status: 503, Reason: "Service Unavailable - too many connections"})
	expectError(t, do(t, s, "GET", "/version", rootToken, nil), 503, "Service Unavailable - too many connections")

	for code, reason := range map[int]string{595: "Connection refused", 596: "Connection timed out"} {
		s.SetFault(Fault{Status: code})
		r = do(t, s, "GET", "/nodes/pve2/status", rootToken, nil)
		if r.status != fmt.Sprintf("%d %s", code, reason) || len(r.body) != 0 {
			t.Errorf("%d: status %q body %q", code, r.status, r.body)
		}
	}

	s.SetFault(Fault{MalformedJSON: true})
	r = do(t, s, "GET", "/cluster/resources", rootToken, nil)
	expectOK(t, r)
	var v any
	if err := json.Unmarshal(r.body, &v); err == nil {
		t.Errorf("malformed body parsed: %q", r.body)
	}
	if !strings.HasPrefix(string(r.body), `{"data":[`) {
		t.Errorf("malformed body %q", r.body)
	}
	s.ClearFaults()
	expectOK(t, do(t, s, "GET", "/version", rootToken, nil))
}

func TestFaultScopeAndTimes(t *testing.T) {
	s := newCluster(t, nil)
	s.SetFault(Fault{PathPrefix: "/nodes/pve2", Status: 503, Times: 2})
	expectError(t, do(t, s, "GET", "/nodes/pve2/status", rootToken, nil), 503, "Service Unavailable")
	expectOK(t, do(t, s, "GET", "/nodes/pve1/status", rootToken, nil))
	// Not under the prefix: answered normally (unknown node => 500 lookup error).
	if r := do(t, s, "GET", "/nodes/pve20/status", rootToken, nil); !strings.HasPrefix(r.status, "500 hostname lookup") {
		t.Errorf("/nodes/pve20: %q", r.status)
	}
	expectError(t, do(t, s, "GET", "/nodes/pve2/qemu", rootToken, nil), 503, "Service Unavailable")
	expectOK(t, do(t, s, "GET", "/nodes/pve2/status", rootToken, nil))
	if len(s.Faults()) != 0 {
		t.Errorf("fault not used up: %v", s.Faults())
	}
	if s.Requests("/nodes/pve2/status") != 2 || s.Requests("/nodes/pve2/qemu") != 1 {
		t.Errorf("counters %v", s.RequestPaths())
	}

	s.SetFault(Fault{PathPrefix: "/api2/json/cluster/resources", Unauthorized: true})
	expectError(t, do(t, s, "GET", "/cluster/resources", rootToken, nil), 401, "Authentication failed!")
	expectOK(t, do(t, s, "GET", "/cluster/status", rootToken, nil))

	// Combined faults: latency plus an error.
	s.SetFault(Fault{Latency: 30 * time.Millisecond})
	s.AddFault(Fault{Status: 500, Reason: "boom"})
	start := time.Now()
	expectError(t, do(t, s, "GET", "/version", rootToken, nil), 500, "boom")
	if time.Since(start) < 30*time.Millisecond {
		t.Error("latency of combined fault not applied")
	}
}

func TestCertificateRotation(t *testing.T) {
	s := newCluster(t, nil)
	oldFP := s.Fingerprint()
	if len(oldFP) != 95 || strings.ToUpper(oldFP) != oldFP {
		t.Fatalf("fingerprint format %q", oldFP)
	}
	if got := Fingerprint(s.Certificate().Raw); got != oldFP {
		t.Fatalf("Fingerprint(raw) %q != %q", got, oldFP)
	}
	oldClient := s.Client()
	pinned := pinnedClient(oldFP)
	expectOK(t, mustDo(t, oldClient, s))
	expectOK(t, mustDo(t, pinned, s))

	if err := s.RotateCertificate(); err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint() == oldFP {
		t.Fatal("fingerprint unchanged")
	}
	// Kept-alive connections were dropped, so both old clients re-handshake
	// and reject the new certificate.
	_, err := doErr(context.Background(), oldClient, s, "GET", "/version", rootToken, nil)
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Errorf("old CA pool: want unknown authority, got %v", err)
	}
	if _, err := doErr(context.Background(), pinned, s, "GET", "/version", rootToken, nil); err == nil ||
		!strings.Contains(err.Error(), "fingerprint mismatch") {
		t.Errorf("old pin: got %v", err)
	}
	expectOK(t, mustDo(t, s.Client(), s))
	expectOK(t, mustDo(t, pinnedClient(s.Fingerprint()), s))

	var nodes []map[string]any
	do(t, s, "GET", "/nodes", rootToken, nil).decode(t, &nodes)
	if nodes[0]["ssl_fingerprint"] != s.Fingerprint() || nodes[1]["ssl_fingerprint"] == s.Fingerprint() {
		t.Errorf("ssl_fingerprint after rotation: %v / %v", nodes[0]["ssl_fingerprint"], nodes[1]["ssl_fingerprint"])
	}
}

func mustDo(t *testing.T, c *http.Client, s *Sim) result {
	t.Helper()
	r, err := doErr(context.Background(), c, s, "GET", "/version", rootToken, nil)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	return r
}

// pinnedClient accepts exactly one leaf fingerprint, like a client that
// trusts a PVE host by its displayed SHA-256 fingerprint.
func pinnedClient(fp string) *http.Client {
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // verification is the fingerprint check below
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				sum := sha256.Sum256(raw[0])
				if colonHex(sum) != fp {
					return errors.New("fingerprint mismatch")
				}
				return nil
			},
		}},
	}
}
