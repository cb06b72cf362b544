package proxmox

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pvetenant/backend/shared/netguard"
)

// Endpoint is one more address of the same cluster: any PVE node serves the
// whole cluster's API and forwards /nodes/<other>/... itself (pveproxy's
// proxy_request to the node that owns the path), so every node is an
// equivalent endpoint. Fingerprint optionally pins that node's leaf; the
// server's ClusterCA, VerifyTLS and credentials apply to all endpoints.
type Endpoint struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Fingerprint string `json:"tls_fingerprint,omitempty"`
}

// Name is "host:port" as shown in ServerHealth.
func (e Endpoint) Name() string {
	p := e.Port
	if p == 0 {
		p = DefaultPort
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(p))
}

// maxConnectTimeout caps the per-endpoint connect phase.
const maxConnectTimeout = time.Second

// connectTimeout is how the per-server budget is split: with n endpoints
// each gets at most budget/(n+1) (capped at maxConnectTimeout) to connect
// and handshake, so that even if every endpoint but the last one black-holes
// its SYNs, the last one still has at least one share of the budget to
// answer. Once connected, a request may use whatever is left of the budget.
// A single endpoint keeps the whole budget (unchanged behaviour).
func connectTimeout(budget time.Duration, n int) time.Duration {
	if n <= 1 {
		return 0
	}
	return min(budget/time.Duration(n+1), maxConnectTimeout)
}

// Multi is one server reached through several endpoints: the primary
// (Target's Host/Port/Fingerprint) first, then the further ones in order.
type Multi struct {
	key     string // server identity for the process-wide memory
	timeout time.Duration
	names   []string
	clients []*Client // nil where the endpoint's client could not be built
	errs    []error   // why not
}

// NewMulti builds one Client per endpoint. An endpoint whose client cannot
// be built (bad host, nothing verifies its certificate) is kept as failed,
// never called. It makes no network request.
func NewMulti(key string, t Target, extra []Endpoint, o Options) *Multi {
	eps := append([]Endpoint{{Host: t.Host, Port: t.Port, Fingerprint: t.Fingerprint}}, extra...)
	o = o.normalized()
	o.ConnectTimeout = connectTimeout(o.Timeout, len(eps))
	m := &Multi{key: key, timeout: o.Timeout, names: make([]string, len(eps)), clients: make([]*Client, len(eps)), errs: make([]error, len(eps))}
	for i, e := range eps {
		m.names[i] = e.Name()
		et := t
		et.Host, et.Port, et.Fingerprint = e.Host, e.Port, e.Fingerprint
		m.clients[i], m.errs[i] = NewClient(et, o)
	}
	return m
}

// CloseIdleConnections closes every endpoint's kept-alive connections.
func (m *Multi) CloseIdleConnections() {
	for _, c := range m.clients {
		if c != nil {
			c.CloseIdleConnections()
		}
	}
}

// Via says which endpoint answered and how many are reachable.
type Via struct {
	Endpoint  string // "" when none answered
	Reachable int
	Total     int
	Attempts  int // endpoints tried for this call
}

// Do runs fn against the endpoint that worked last (remembered per process),
// and on a failure that means "this node, not the cluster" (refused, reset,
// no route, connect timeout, TLS refused, pveproxy 595/596) against the next
// one, all within the per-server budget (Options.Timeout, applied here and
// nowhere else for this call; ctx may end it sooner). fn must be safe to repeat on
// another endpoint after such a failure: nothing was executed (for writes,
// only failures before the request was sent fail over, see failover).
//
// When the server has several endpoints, the ones not tried in this call and
// not checked for recheckAfter are checked with a TLS handshake only (no
// credentials) concurrently, so Via.Reachable is a real count.
func (m *Multi) Do(ctx context.Context, fn func(ctx context.Context, c *Client) error) (Via, error) {
	ctx, cancel := withBudget(ctx, m.timeout)
	defer cancel()
	n := len(m.clients)
	via := Via{Total: n}
	// Order: the last endpoint that worked, then the others in configured
	// order; endpoints that failed a moment ago go last.
	first := mem.last(m.key, n)
	var order, later []int
	for k := 0; k < n; k++ {
		i := (first + k) % n
		if k == 0 || mem.worthTrying(m.key, i, n) {
			order = append(order, i)
		} else {
			later = append(later, i)
		}
	}
	order = append(order, later...)
	// Reachability of the other endpoints is refreshed while the call runs,
	// so it costs no time unless an endpoint black-holes (then at most one
	// connect timeout, every recheckAfter).
	var checks sync.WaitGroup
	if n > 1 {
		skip := make([]bool, n)
		skip[order[0]] = true
		m.checkStale(ctx, skip, &checks)
	}
	var err error
	for _, i := range order {
		if m.clients[i] == nil {
			err = m.errs[i]
			mem.record(m.key, i, n, false)
			continue
		}
		via.Attempts++
		err = fn(ctx, m.clients[i])
		if err == nil || (!failover(err) && ctx.Err() == nil) {
			// Answered (an error the cluster itself gave counts as an answer).
			mem.record(m.key, i, n, true)
			mem.setLast(m.key, i)
			via.Endpoint = m.names[i]
			break
		}
		mem.record(m.key, i, n, false)
		if ctx.Err() != nil {
			break // the server's budget is spent
		}
	}
	checks.Wait()
	via.Reachable = mem.reachable(m.key, n)
	return via, err
}

// recheckAfter is how long an endpoint's reachability is trusted before a
// handshake-only check refreshes it.
const recheckAfter = 30 * time.Second

// checkStale starts handshakes (no request, no credentials) with the
// endpoints not skipped whose state is older than recheckAfter, each in its
// own goroutine bounded by the connect timeout; wg waits for them.
func (m *Multi) checkStale(ctx context.Context, skip []bool, wg *sync.WaitGroup) {
	for i, c := range m.clients {
		if skip[i] || c == nil || !mem.stale(m.key, i, len(m.clients)) {
			continue
		}
		wg.Add(1)
		go func(i int, c *Client) {
			defer wg.Done()
			defer func() { _ = recover() }()
			mem.record(m.key, i, len(m.clients), c.handshake(ctx) == nil)
		}(i, c)
	}
}

// handshake connects and completes a TLS handshake under the client's trust
// (pin, cluster CA or system roots), then closes without sending a byte.
func (c *Client) handshake(ctx context.Context) error {
	d := c.timeout
	if c.connectTimeout > 0 {
		d = c.connectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	raw, err := c.guard.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	defer raw.Close()
	tc := c.tlsConf.Clone()
	if h, _, err := net.SplitHostPort(c.addr); err == nil && !tc.InsecureSkipVerify {
		tc.ServerName = h
	}
	conn := tls.Client(raw, tc)
	return conn.HandshakeContext(ctx)
}

// failover reports whether err means this endpoint (not the cluster) failed
// before anything was executed, so the next endpoint may be tried.
func failover(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.HTTPStatus == 595 || e.HTTPStatus == 596 {
		// pveproxy could not reach the node it proxies to: nothing ran.
		return true
	}
	if e.HTTPStatus != 0 {
		return false // the cluster answered
	}
	switch {
	case errors.Is(err, ErrTLS), errors.Is(err, ErrForbiddenAddress), errors.Is(err, ErrConfig):
		// Refused before any byte of the request (guard, handshake, config).
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTDOWN), errors.Is(err, syscall.ENETDOWN):
		return true
	case isDialError(err), strings.Contains(e.causeText, "TLS handshake timeout"):
		return true // the per-endpoint connect timeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// A write may have run before the reset; reads and the login are
		// safe to repeat.
		return strings.HasPrefix(e.Op, "GET ") || e.Op == "POST /access/ticket"
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// connectBounded dials through the guard with its own short deadline, so a
// black-holed endpoint costs one connect timeout, not the whole budget.
func connectBounded(g *netguard.Guard, d time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return g.DialContext(ctx, network, addr)
	}
}

// ---- the process-wide endpoint memory ----

// memory remembers, per server, the endpoint that last worked and each
// endpoint's last outcome. It lives as long as the (Lambda) process; the
// first request of a cold process starts at the primary. Bounded.
type memory struct {
	mu sync.Mutex
	m  map[string]*serverMem
}

type serverMem struct {
	last int
	ok   []bool
	at   []time.Time
}

const memoryMax = 4096

var mem = &memory{m: map[string]*serverMem{}}

func (mm *memory) get(key string, n int) *serverMem {
	s := mm.m[key]
	if s == nil || len(s.ok) != n {
		if len(mm.m) >= memoryMax {
			for k := range mm.m { // drop an arbitrary entry
				delete(mm.m, k)
				break
			}
		}
		s = &serverMem{ok: make([]bool, n), at: make([]time.Time, n)}
		mm.m[key] = s
	}
	return s
}

func (mm *memory) last(key string, n int) int {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.get(key, n).last
}

func (mm *memory) setLast(key string, i int) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if s := mm.m[key]; s != nil {
		s.last = i
	}
}

func (mm *memory) record(key string, i, n int, ok bool) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	s := mm.get(key, n)
	s.ok[i], s.at[i] = ok, time.Now()
}

// worthTrying is false for an endpoint that failed within recheckAfter.
func (mm *memory) worthTrying(key string, i, n int) bool {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	s := mm.get(key, n)
	return s.ok[i] || s.at[i].IsZero() || time.Since(s.at[i]) > recheckAfter
}

func (mm *memory) stale(key string, i, n int) bool {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	s := mm.get(key, n)
	return s.at[i].IsZero() || time.Since(s.at[i]) > recheckAfter
}

func (mm *memory) reachable(key string, n int) int {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	s := mm.get(key, n)
	c := 0
	for _, ok := range s.ok {
		if ok {
			c++
		}
	}
	return c
}

// ResetEndpointMemory forgets every server's endpoints (tests).
func ResetEndpointMemory() {
	mem.mu.Lock()
	defer mem.mu.Unlock()
	mem.m = map[string]*serverMem{}
}
