package pvesim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Cluster serves one simulated PVE cluster the way it is really reached:
// every node runs its own pveproxy on its own address (here one loopback
// port per node), any node answers for the whole cluster (the shared state
// is one Sim; pveproxy forwards /nodes/<other>/... to the owning node, which
// the Sim models with 595 when that node is down), and each node presents
// its own certificate signed by the cluster's CA.
//
// Modelled on pve-cluster's PVE::Cluster::Setup: gen_pveca_cert makes one CA
// per cluster (/etc/pve/pve-root-ca.pem, subject "CN=Proxmox Virtual
// Environment/OU=<uuid>/O=PVE Cluster Manager CA", keyUsage
// keyCertSign,cRLSign, 10 years), and gen_pve_ssl_cert issues each node's
// /etc/pve/nodes/<node>/pve-ssl.pem from it ("OU=PVE Cluster Node/O=Proxmox
// Virtual Environment/CN=<fqdn>", basicConstraints CA:FALSE,
// extendedKeyUsage serverAuth, subjectAltName IP:127.0.0.1, IP:::1,
// DNS:localhost, IP:<node ip>, DNS:<nodename>); `pvecm updatecerts` reissues
// them. Quorum in /cluster/status is the Sim's (more than half the nodes
// online, as corosync's votequorum with one vote per node); a stopped node
// is offline for the others, as corosync sees it.
type Cluster struct {
	*Sim

	ca    *caState
	mu    sync.Mutex
	nodes map[string]*clusterNode
	order []string
}

type caState struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

type clusterNode struct {
	name  string
	ip    string
	port  int
	cert  *certState
	srv   *http.Server
	up    bool
	calls []NodeCall
}

// NodeCall is one request a cluster node received, for tests: whether it carried
// credentials (API token header, ticket cookie, or a login) is recorded,
// never their value.
type NodeCall struct {
	Node        string
	Method      string
	Path        string
	Credentials bool
}

// NewCluster prepares a cluster simulator for cfg (ClusterName required).
func NewCluster(cfg Config) (*Cluster, error) {
	if cfg.ClusterName == "" {
		return nil, errors.New("pvesim: a cluster needs a ClusterName")
	}
	ca, err := newCA()
	if err != nil {
		return nil, err
	}
	c := &Cluster{ca: ca, nodes: map[string]*clusterNode{}}
	cfg = cfg.clone()
	for i := range cfg.Nodes {
		n := &cfg.Nodes[i]
		ip := n.IP
		if ip == "" {
			ip = fmt.Sprintf("192.0.2.%d", 11+i)
		}
		cs, err := ca.issue(n.Name, ip)
		if err != nil {
			return nil, err
		}
		n.Fingerprint = cs.fingerprint // /nodes ssl_fingerprint, as pveproxy reports it
		c.nodes[n.Name] = &clusterNode{name: n.Name, ip: ip, cert: cs}
		c.order = append(c.order, n.Name)
	}
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	// The "local" node's certificate is the one its listener serves.
	s.cert.Store(c.nodes[s.cfg.LocalNode].cert)
	c.Sim = s
	return c, nil
}

// Start listens on one loopback port per node.
func (c *Cluster) Start() error {
	for _, name := range c.order {
		if err := c.StartNode(name); err != nil {
			return err
		}
	}
	return nil
}

// StartNode (re)starts one node's pveproxy on its port (a fresh one the
// first time) and marks the node online.
func (c *Cluster) StartNode(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		return fmt.Errorf("pvesim: no node %q", name)
	}
	if n.up {
		return nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)))
	if err != nil {
		return fmt.Errorf("pvesim: listen for %s: %w", name, err)
	}
	n.port = ln.Addr().(*net.TCPAddr).Port
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return &c.nodes[name].cert.tls, nil
		}}
	n.srv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.serve(name, w, r) }),
		ReadHeaderTimeout: 30 * time.Second,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	n.up = true
	srv := n.srv
	go func() { _ = srv.Serve(tls.NewListener(ln, tlsCfg)) }()
	return c.Sim.SetNodeOnline(name, true)
}

// StopNode stops one node's listener and closes its connections (a reboot:
// connections are refused), and marks the node offline for the others.
func (c *Cluster) StopNode(name string) error {
	c.mu.Lock()
	n, ok := c.nodes[name]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("pvesim: no node %q", name)
	}
	srv := n.srv
	n.up, n.srv = false, nil
	c.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	return c.Sim.SetNodeOnline(name, false)
}

func (c *Cluster) serve(node string, w http.ResponseWriter, r *http.Request) {
	creds := r.Header.Get("Authorization") != "" || strings.HasSuffix(r.URL.Path, "/access/ticket")
	if ck, err := r.Cookie("PVEAuthCookie"); err == nil && ck.Value != "" {
		creds = true
	}
	c.mu.Lock()
	if n := c.nodes[node]; n != nil {
		n.calls = append(n.calls, NodeCall{Node: node, Method: r.Method, Path: normalizeAPIPath(r.URL.Path), Credentials: creds})
	}
	c.mu.Unlock()
	c.Sim.ServeHTTP(w, r)
}

// Close stops every node.
func (c *Cluster) Close() {
	for _, name := range c.order {
		_ = c.StopNode(name)
	}
	c.Sim.Close()
}

// Nodes lists the node names in configuration order.
func (c *Cluster) Nodes() []string { return append([]string(nil), c.order...) }

// NodePort is the port of node's pveproxy.
func (c *Cluster) NodePort(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[name].port
}

// NodeFingerprint is the SHA-256 of node's current certificate.
func (c *Cluster) NodeFingerprint(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[name].cert.fingerprint
}

// CAPEM is the cluster's pve-root-ca.pem.
func (c *Cluster) CAPEM() string { return string(c.ca.pem) }

// Calls returns what node received, in order.
func (c *Cluster) Calls(name string) []NodeCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]NodeCall(nil), c.nodes[name].calls...)
}

// UseForeignCertificate makes node present a certificate signed by another
// CA (an impostor, or a node of another cluster) from its next handshake on.
func (c *Cluster) UseForeignCertificate(name string) error {
	other, err := newCA()
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		return fmt.Errorf("pvesim: no node %q", name)
	}
	cs, err := other.issue(name, n.ip)
	if err != nil {
		return err
	}
	n.cert = cs
	return nil
}

// NewTestCluster builds and starts a cluster for a test, closed in Cleanup.
func NewTestCluster(t interface {
	Helper()
	Fatalf(string, ...any)
	Cleanup(func())
}, cfg Config) *Cluster {
	t.Helper()
	c, err := NewCluster(cfg)
	if err != nil {
		t.Fatalf("pvesim.NewCluster: %v", err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("pvesim cluster start: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func newCA() (*caState, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{CommonName: "Proxmox Virtual Environment", OrganizationalUnit: []string{serial.Text(16)},
			Organization: []string{"PVE Cluster Manager CA"}},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(3650 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &caState{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// issue makes a node certificate as gen_pve_ssl_cert does.
func (ca *caState) issue(node, ip string) (*certState, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if a := net.ParseIP(ip); a != nil {
		ips = append(ips, a)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{CommonName: node + ".pvesim.test", OrganizationalUnit: []string{"PVE Cluster Node"},
			Organization: []string{"Proxmox Virtual Environment"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(2 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: false,
		DNSNames:    []string{"localhost", node, node + ".pvesim.test"},
		IPAddresses: ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &certState{
		tls:         tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		leaf:        leaf,
		fingerprint: Fingerprint(der),
		pem:         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}
