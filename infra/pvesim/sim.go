package pvesim

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sim is a running (or startable) Proxmox VE API simulator. All methods are
// safe for concurrent use.
type Sim struct {
	cfg     Config // normalized; immutable after New except via setters below
	ver     pveVersion
	signKey []byte // HMAC key for tickets and CSRF tokens

	mu        sync.Mutex
	nodes     []*nodeState // config order
	nodeByNm  map[string]*nodeState
	guests    map[int]*guestState
	tasks     map[string]*task
	taskOrder []string
	taskSeq   int
	faults    []Fault
	requests  map[string]int
	calls     []Call // arrival log (calllog.go)
	total     int
	oddGuest  int

	cert atomic.Pointer[certState]

	// Connection tracking so a rotated certificate is not hidden behind
	// kept-alive connections that were handshaken with the old one.
	connMu  sync.Mutex
	conns   map[net.Conn]*connInfo
	certGen uint64

	srv      *http.Server
	ln       net.Listener
	addr     *net.TCPAddr
	closing  chan struct{}
	closeMu  sync.Mutex
	started  bool
	closed   bool
	inflight sync.WaitGroup
}

type connInfo struct {
	gen  uint64 // certificate generation when accepted
	idle bool
}

type nodeState struct {
	cfg    Node
	online bool
}

type guestState struct {
	cfg       Guest     // running profile; cfg.Status is only the initial status
	status    string    // running, stopped, paused
	startedAt time.Time // zero: report the configured (static) uptime
	hastate   string
	held      map[string]any // /cluster/resources row frozen by HoldGuestRow
}

// New validates cfg, fills defaults and prepares a simulator. It does not
// listen yet; see Start.
func New(cfg Config) (*Sim, error) {
	c := cfg.clone()
	if err := c.normalize(); err != nil {
		return nil, err
	}
	ver, _ := parseVersion(c.Version) // validated by normalize
	s := &Sim{
		cfg:      c,
		ver:      ver,
		nodeByNm: map[string]*nodeState{},
		guests:   map[int]*guestState{},
		tasks:    map[string]*task{},
		requests: map[string]int{},
		oddGuest: c.OddGuest,
		closing:  make(chan struct{}),
		conns:    map[net.Conn]*connInfo{},
	}
	seed := make([]byte, 8)
	binary.BigEndian.PutUint64(seed, uint64(c.Seed))
	k := sha256.Sum256(append([]byte("pvesim-ticket-key:"), seed...))
	s.signKey = k[:]
	for _, n := range c.Nodes {
		ns := &nodeState{cfg: n, online: !n.Offline}
		s.nodes = append(s.nodes, ns)
		s.nodeByNm[n.Name] = ns
	}
	for _, g := range c.Guests {
		s.guests[g.VMID] = &guestState{cfg: g, status: g.Status, hastate: g.HAState}
	}
	cs, err := newCert(c.LocalNode)
	if err != nil {
		return nil, err
	}
	s.cert.Store(cs)
	return s, nil
}

// Start listens on cfg.Addr (default 127.0.0.1:0) and serves HTTPS in the
// background. Only HTTP/1.1 is offered, like pveproxy.
func (s *Sim) Start() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.started {
		return errors.New("pvesim: already started")
	}
	if s.closed {
		return errors.New("pvesim: closed")
	}
	addr, err := checkLoopbackAddr(s.cfg.Addr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pvesim: listen: %w", err)
	}
	tlsCfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		// Read the current certificate per handshake so RotateCertificate
		// takes effect for every new connection.
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &s.cert.Load().tls, nil
		},
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		// Non-nil and empty disables HTTP/2.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		// Clients that reject a rotated certificate produce handshake errors;
		// they are expected, so keep test output clean.
		ErrorLog:  log.New(io.Discard, "", 0),
		ConnState: s.trackConn,
	}
	s.ln = ln
	s.addr = ln.Addr().(*net.TCPAddr)
	s.started = true
	go func() { _ = s.srv.Serve(tls.NewListener(ln, tlsCfg)) }()
	return nil
}

// Close stops listening, aborts hanging or delayed handlers and closes all
// connections. It waits briefly for handlers to return. Safe to call twice.
func (s *Sim) Close() {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return
	}
	s.closed = true
	close(s.closing)
	srv := s.srv
	s.closeMu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// URL is the base URL, e.g. "https://127.0.0.1:40123" (append /api2/json).
func (s *Sim) URL() string { return "https://" + s.Host() }

// APIURL is URL() + "/api2/json".
func (s *Sim) APIURL() string { return s.URL() + "/api2/json" }

// Host is "127.0.0.1:port".
func (s *Sim) Host() string {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.addr == nil {
		return ""
	}
	return net.JoinHostPort(s.addr.IP.String(), strconv.Itoa(s.addr.Port))
}

// Port is the listening port (0 before Start).
func (s *Sim) Port() int {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.addr == nil {
		return 0
	}
	return s.addr.Port
}

// Fingerprint is the SHA-256 fingerprint of the current certificate,
// "AB:CD:..." as Proxmox displays it.
func (s *Sim) Fingerprint() string { return s.cert.Load().fingerprint }

// CertPEM is the current certificate in PEM form.
func (s *Sim) CertPEM() []byte { return append([]byte(nil), s.cert.Load().pem...) }

// Certificate is the current leaf certificate.
func (s *Sim) Certificate() *x509.Certificate { return s.cert.Load().leaf }

// CertPool trusts exactly the current certificate. After RotateCertificate
// an old pool no longer verifies the server.
func (s *Sim) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.cert.Load().leaf)
	return p
}

// Client returns an HTTP client trusting the current certificate.
func (s *Sim) Client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: false,
		},
		Timeout: 30 * time.Second,
	}
}

// RotateCertificate switches to a freshly generated self-signed certificate
// (the "changed certificate" fault). Keep-alive connections made with the
// old certificate are closed once idle, so the next request performs a new
// handshake and a client pinning the old fingerprint fails.
func (s *Sim) RotateCertificate() error {
	cs, err := newCert(s.cfg.LocalNode)
	if err != nil {
		return err
	}
	s.connMu.Lock()
	defer s.connMu.Unlock()
	s.cert.Store(cs)
	s.certGen++
	for c, info := range s.conns {
		if info.idle {
			_ = c.Close()
		}
	}
	return nil
}

// trackConn closes connections from before a certificate rotation as soon
// as they go idle, so every later request handshakes with the new cert.
func (s *Sim) trackConn(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = &connInfo{gen: s.certGen}
	case http.StateActive:
		if info := s.conns[c]; info != nil {
			info.idle = false
		}
	case http.StateIdle:
		info := s.conns[c]
		if info == nil {
			return
		}
		info.idle = true
		if info.gen != s.certGen {
			_ = c.Close()
		}
	case http.StateHijacked, http.StateClosed:
		delete(s.conns, c)
	}
}

// Version is the pve-manager version being imitated, e.g. "8.2.4".
func (s *Sim) Version() string { return s.ver.version }

// Requests counts requests whose API path (after /api2/json, without query)
// equals path, e.g. Requests("/cluster/resources"). A leading "/api2/json"
// in the argument is accepted too. Every arrival counts, including ones
// answered by a fault or an auth error.
func (s *Sim) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[normalizeAPIPath(path)]
}

// TotalRequests counts every request received.
func (s *Sim) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// RequestPaths returns a copy of all per-path counters.
func (s *Sim) RequestPaths() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

// ResetRequests zeroes all counters.
func (s *Sim) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = map[string]int{}
	s.calls = nil
	s.total = 0
}

func normalizeAPIPath(p string) string {
	p = strings.TrimPrefix(p, "/api2/json")
	if p == "" {
		return "/"
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// Guest returns the guest as the API currently shows it (stopped guests
// have zero cpu/mem/uptime). ok is false if vmid does not live on node.
func (s *Sim) Guest(node string, vmid int) (Guest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.guests[vmid]
	if !ok || g.cfg.Node != node {
		return Guest{}, false
	}
	return s.effectiveGuest(g), true
}

// Guests returns all guests (effective values) sorted by vmid.
func (s *Sim) Guests() []Guest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Guest, 0, len(s.guests))
	for _, id := range s.sortedVMIDs() {
		out = append(out, s.effectiveGuest(s.guests[id]))
	}
	return out
}

func (s *Sim) effectiveGuest(g *guestState) Guest {
	out := g.cfg
	out.Status = g.status
	out.HAState = g.hastate
	if g.status == "stopped" {
		out.CPU, out.Mem, out.Disk, out.Uptime = 0, 0, 0, 0
		out.NetIn, out.NetOut, out.DiskRead, out.DiskWrite = 0, 0, 0, 0
	} else {
		out.Uptime = s.guestUptime(g)
		if g.status == "paused" {
			out.CPU = 0 // a paused VM burns no CPU
		}
	}
	return out
}

func (s *Sim) guestUptime(g *guestState) int64 {
	if g.status == "stopped" {
		return 0
	}
	if g.startedAt.IsZero() {
		return g.cfg.Uptime
	}
	return 1 + int64(s.cfg.Clock().Sub(g.startedAt)/time.Second)
}

func (s *Sim) sortedVMIDs() []int {
	ids := make([]int, 0, len(s.guests))
	for id := range s.guests {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// SetGuestStatus forces a guest into running, stopped or paused without a
// task, for test setup.
func (s *Sim) SetGuestStatus(vmid int, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.guests[vmid]
	if !ok {
		return fmt.Errorf("pvesim: no guest %d", vmid)
	}
	switch status {
	case "running", "stopped":
	case "paused":
		if g.cfg.Type != "qemu" {
			return fmt.Errorf("pvesim: only qemu guests can be paused")
		}
	default:
		return fmt.Errorf("pvesim: bad status %q", status)
	}
	if g.cfg.Template && status != "stopped" {
		return fmt.Errorf("pvesim: guest %d is a template", vmid)
	}
	if g.status == "stopped" && status != "stopped" {
		g.startedAt = s.cfg.Clock()
	}
	g.status = status
	return nil
}

// SetNodeOnline takes a node down or brings it back. While offline its
// guests show status "unknown" without name/usage in /cluster/resources, the
// node loses cpu/mem/disk/uptime/level, and /nodes/{node}/... answers 595.
func (s *Sim) SetNodeOnline(node string, online bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodeByNm[node]
	if !ok {
		return fmt.Errorf("pvesim: no node %q", node)
	}
	n.online = online
	return nil
}

// SetOddGuest makes vmid's list entries carry vmid as a string and maxcpu
// 1.5 (0 turns it off).
func (s *Sim) SetOddGuest(vmid int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.guests[vmid]; vmid != 0 && !ok {
		return fmt.Errorf("pvesim: no guest %d", vmid)
	}
	s.oddGuest = vmid
	return nil
}

// sleepCtx waits d unless the request is cancelled or the sim closes.
func (s *Sim) sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return errClosing
	}
}

var errClosing = errors.New("pvesim: closing")

// SetGuestLock sets (or with "" clears) a guest's config lock, e.g.
// "backup", "snapshot", "migrate", as /cluster/resources then shows it.
func (s *Sim) SetGuestLock(vmid int, lock string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.guests[vmid]
	if !ok {
		return fmt.Errorf("pvesim: no guest %d", vmid)
	}
	g.cfg.Lock = lock
	return nil
}

// HoldGuestRow freezes (hold) or releases a guest's /cluster/resources row.
// pvestatd broadcasts guest status every 10 s (pve-manager
// PVE/Service/pvestatd.pm), so the row lags the guest: a held row shows the
// state of the moment it was held while actions see the real one.
func (s *Sim) HoldGuestRow(vmid int, hold bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.guests[vmid]
	if !ok {
		return fmt.Errorf("pvesim: no guest %d", vmid)
	}
	g.held = nil
	if hold {
		g.held = s.guestResource(g)
	}
	return nil
}
