// Package proxmox talks to users' Proxmox VE servers.
//
// Transport and authentication go through github.com/luthermonson/go-proxmox
// (API token header, ticket + CSRF login, session renewal), but responses are
// decoded into this package's own tolerant types, because Proxmox does not
// always send what its schema (or go-proxmox's structs) say.
//
// Behaviour of go-proxmox v0.8.2 this package relies on or works around
// (read from its source):
//   - Client.Req maps 401/403 to ErrNotAuthorized. With credentials it first
//     calls CreateSession, which re-logs in only if its own 1h session timer
//     expired (otherwise ErrSessionExists -> ErrNotAuthorized), then retries
//     once. A ticket the server rejects earlier would keep failing for up to
//     an hour, so request() drops such a session and logs in again itself.
//   - handleResponse only turns 500 and 501 into errors (errors.New of the
//     status line); 400 becomes an error that embeds the response body;
//     every other status (595/596, 502, 404, 3xx) is decoded as if it were a
//     success, so an empty-body 595 surfaces only as "unexpected end of JSON
//     input" (or as success when no result is wanted). Hence captureTransport
//     records the real status code per request, and that, not go-proxmox's
//     error text, decides the outcome.
//   - It does not retry unless WithRetry is used. We don't use it: its
//     default replays POSTs that carry a body and retries with backoff up to
//     5s, while our calls must fit a few-second budget and a guest action
//     must never run twice.
//   - Its logger prints POST bodies and full response bodies at debug level
//     (it only skips /access/ticket); we install an adapter that drops
//     debug/info output.
//   - Without WithEagerAuth the first credential request goes out
//     unauthenticated, and pveproxy delays every 401 by ~3s; we call
//     CreateSession ourselves, inside the caller's deadline, on our client.
//   - Session fields are written during (re)login while request building
//     reads them without a lock, so password-mode clients serialize calls.
//   - TermWebSocket/VNCWebSocket type-assert the transport to
//     *http.Transport and would panic with ours; this package doesn't use them.
package proxmox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	gp "github.com/luthermonson/go-proxmox"

	"github.com/pvetenant/backend/shared/netguard"
)

const (
	DefaultPort = 8006
	// DefaultTimeout leaves room for pveproxy's 3 s delay of every 401
	// (pve-http-server AnyEvent.pm) plus connecting, TLS and a login round
	// trip, so wrong credentials read as auth_error, not timeout.
	DefaultTimeout = 6 * time.Second

	// maxBodyBytes caps a response body; go-proxmox reads bodies with
	// io.ReadAll, so a hostile server could otherwise exhaust memory. A
	// 10k-guest /cluster/resources is a few MB.
	maxBodyBytes = 32 << 20

	userAgent = "pvetenant-backend (go-proxmox)"
	maxVMID   = 999999999
)

// TFAMessage is the sentence for a password account with a second factor.
const TFAMessage = "This account uses two-factor authentication: use an API token instead."

// Target identifies one Proxmox server and how to authenticate to it.
type Target struct {
	Host string // DNS name or IP, no scheme/path/port
	Port int    // 0 means 8006

	TokenID     string // API token "user@realm!name"
	TokenSecret string

	Username string // or user@realm + password (ticket + CSRF)
	Password string

	VerifyTLS   bool           // verify against system roots (or RootCAs)
	Fingerprint string         // pinned SHA-256 of the leaf, colon hex; takes precedence over VerifyTLS
	RootCAs     *x509.CertPool // optional, for tests / private CAs
	ClusterCA   string         // PEM of the cluster's pve-root-ca.pem: a leaf chaining to it is trusted (catrust.go)
}

// Options tune a Client.
type Options struct {
	// Timeout is the per-server budget of one call to a server: every
	// endpoint tried and every request made (Multi.Do), or one request of
	// a bare Client. 0 means DefaultTimeout.
	Timeout time.Duration
	Guard   *netguard.Guard // nil means netguard.New(nil): no allow list
	Logger  *slog.Logger    // nil discards
	// ConnectTimeout bounds dial + TLS handshake to one endpoint (0: the
	// whole Timeout); set for multi-endpoint servers (endpoints.go).
	ConnectTimeout time.Duration
}

// Budget is the per-server budget: Timeout, or DefaultTimeout when unset.
// The one place that default is applied.
func (o Options) Budget() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

// normalized fills in every default, so nothing below checks for zero again.
func (o Options) normalized() Options {
	o.Timeout = o.Budget()
	if o.Guard == nil {
		// Secure default: an unconfigured caller must not reach loopback or
		// metadata addresses.
		o.Guard = netguard.New(nil)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Client talks to one server. Token-authenticated clients are safe for
// concurrent use; password-authenticated clients are too, but serialize
// their calls (see package doc).
type Client struct {
	api      *gp.Client        // replaced (under authMu) to drop a rejected session
	newAPI   func() *gp.Client // builds a go-proxmox client with our options
	baseURL  string
	timeout  time.Duration
	log      *slog.Logger
	tlsMode  string
	password bool

	static  []string                  // token secret or password
	session atomic.Pointer[[2]string] // ticket, CSRF token: for redaction only
	authMu  sync.Mutex
	lastFP  atomic.Pointer[string]
	hc      *http.Client
	tlsConf *tls.Config     // for handshake-only reachability checks (endpoints.go)
	guard   *netguard.Guard // the same guard, for those checks
	addr    string          // host:port

	connectTimeout time.Duration
}

// CloseIdleConnections closes the client's kept-alive connections, so a
// client that is done with leaves no connection (or its goroutines) behind.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// NewClient validates t and builds a client with its own http.Client. It
// makes no network request.
func NewClient(t Target, o Options) (*Client, error) {
	host, err := normalizeHost(t.Host)
	if err != nil {
		return nil, configErr(err.Error())
	}
	port := t.Port
	if port == 0 {
		port = DefaultPort
	}
	if port < 1 || port > 65535 {
		return nil, configErr("port must be between 1 and 65535")
	}

	useToken := t.TokenID != "" || t.TokenSecret != ""
	usePass := t.Username != "" || t.Password != ""
	switch {
	case useToken && usePass:
		return nil, configErr("set either an API token or a username/password, not both")
	case !useToken && !usePass:
		return nil, configErr("no credentials: set an API token or a username/password")
	case useToken:
		if !tokenIDRe.MatchString(t.TokenID) {
			return nil, configErr(`API token ID must look like "user@realm!tokenname"`)
		}
		if !headerSafe(t.TokenSecret) {
			return nil, configErr("API token secret is empty or contains whitespace/control characters")
		}
	case usePass:
		if !userIDRe.MatchString(t.Username) {
			return nil, configErr(`username must look like "user@realm" (e.g. root@pam)`)
		}
		if t.Password == "" || len(t.Password) > 1024 {
			return nil, configErr("password is empty or too long")
		}
	}

	var pin []byte
	if strings.TrimSpace(t.Fingerprint) != "" {
		if pin, err = parseFingerprint(t.Fingerprint); err != nil {
			return nil, configErr(err.Error())
		}
	}

	o = o.normalized()
	c := &Client{
		baseURL:  "https://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/api2/json",
		timeout:  o.Timeout,
		log:      o.Logger,
		password: usePass,
	}
	guard := o.Guard

	ca, err := parseClusterCA(t.ClusterCA)
	if err != nil {
		return nil, configErr(err.Error())
	}
	if pin == nil && !t.VerifyTLS && ca == nil {
		return nil, &Error{Kind: ErrTLS, detail: "TLS verification is off and no certificate fingerprint is pinned: pin the server's fingerprint or turn verification on"}
	}
	tc, mode := buildTLSConfig(t, pin, c.recordFingerprint)
	if ca != nil {
		tc, mode = buildCATLSConfig(pin, ca, c.recordFingerprint)
	}
	c.tlsMode = mode
	c.tlsConf, c.guard, c.addr = tc, guard, net.JoinHostPort(host, strconv.Itoa(port))
	c.connectTimeout = o.ConnectTimeout
	dial, handshake := guard.DialContext, c.timeout
	if o.ConnectTimeout > 0 {
		dial, handshake = connectBounded(guard, o.ConnectTimeout), o.ConnectTimeout
	}
	tr := &http.Transport{
		// Never use environment proxies: the guard must see the real
		// destination, and credentials must not transit a proxy.
		Proxy:                  nil,
		DialContext:            dial,
		TLSClientConfig:        tc,
		TLSHandshakeTimeout:    handshake,
		MaxIdleConns:           4,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	hc := &http.Client{
		Transport: &captureTransport{base: tr},
		// pveproxy doesn't redirect API calls. Following one would carry
		// the CSRF header (not stripped by net/http) to wherever it points.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	c.hc = hc
	opts := []gp.Option{
		gp.WithHTTPClient(hc),
		gp.WithUserAgent(userAgent),
		gp.WithLogger(gpLogger{c}),
		// Deliberately not: WithTimeout (deadline is per call via ctx),
		// WithRetry (see package doc), TLS options (they only work on a bare
		// *http.Transport and we configured TLS ourselves).
	}
	if useToken {
		opts = append(opts, gp.WithAPIToken(t.TokenID, t.TokenSecret))
		c.static = []string{t.TokenSecret}
	} else {
		opts = append(opts, gp.WithCredentials(&gp.Credentials{Username: t.Username, Password: t.Password}))
		c.static = []string{t.Password}
	}
	c.newAPI = func() *gp.Client { return gp.NewClient(c.baseURL, opts...) }
	c.api = c.newAPI()
	return c, nil
}

// LastFingerprint returns the SHA-256 leaf fingerprint (uppercase colon hex)
// seen on the most recent TLS handshake, including failed ones, or "".
func (c *Client) LastFingerprint() string {
	if p := c.lastFP.Load(); p != nil {
		return *p
	}
	return ""
}

func (c *Client) recordFingerprint(fp string) {
	if fp != "" {
		c.lastFP.Store(&fp)
	}
}

// ---- per-call plumbing ----

type callKey struct{}

// callInfo marks a context that runs under a server's budget: the deadline
// it set, and what the call actually had (the parent deadline may be
// shorter), for the timeout message.
type callInfo struct {
	deadline time.Time
	budget   time.Duration
}

// withBudget bounds one call to a server by its budget, once: a context
// already under a budget (inside Multi.Do, whose budget covers every
// endpoint and every request fn makes) keeps it. A context detached from its
// budget (context.WithoutCancel keeps the mark but drops the deadline, as a
// fetch shared by several requests does) gets a budget of its own, so a
// shared fetch is bounded by the server's budget, not by whoever asked first.
func withBudget(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	dl, has := ctx.Deadline()
	if ci, _ := ctx.Value(callKey{}).(*callInfo); ci != nil && has && !dl.After(ci.deadline) {
		return ctx, func() {}
	}
	budget := timeout
	if has {
		budget = min(budget, time.Until(dl))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	dl, _ = ctx.Deadline()
	return context.WithValue(ctx, callKey{}, &callInfo{deadline: dl, budget: budget}), cancel
}

// begin applies the budget to one request of a bare Client; inside
// Multi.Do it is already applied.
func (c *Client) begin(ctx context.Context) (context.Context, context.CancelFunc) {
	return withBudget(ctx, c.timeout)
}

// recorder is filled by captureTransport for one go-proxmox request (which
// may be several HTTP exchanges: 401 -> login -> retry). The last response
// wins, which is the one that decided go-proxmox's result.
type recorder struct {
	status int
	reason string
	login  bool
	fp     string
}

type recKey struct{}

// captureTransport records what go-proxmox hides (status code, reason, TLS
// leaf) and caps body size. It wraps the transport instead of replacing the
// library because go-proxmox has no hook that sees the response.
type captureTransport struct{ base http.RoundTripper }

func (t *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	if res == nil {
		return res, err
	}
	if rec, _ := req.Context().Value(recKey{}).(*recorder); rec != nil {
		rec.status = res.StatusCode
		rec.reason = reasonPhrase(res)
		rec.login = strings.HasSuffix(req.URL.Path, "/access/ticket")
		if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 {
			rec.fp = certFingerprint(res.TLS.PeerCertificates[0])
		}
	}
	if res.Body != nil {
		res.Body = &limitedBody{rc: res.Body, left: maxBodyBytes}
	}
	return res, err
}

func reasonPhrase(res *http.Response) string {
	r := strings.TrimSpace(strings.TrimPrefix(res.Status, strconv.Itoa(res.StatusCode)))
	r = strings.Map(func(c rune) rune {
		if unicode.IsPrint(c) {
			return c
		}
		return -1
	}, r)
	if len(r) > 160 {
		r = r[:160] + "…"
	}
	return r
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Limit reached: more data means too large, EOF means exactly fit.
		var one [1]byte
		n, err := l.rc.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }

// request runs one go-proxmox call and turns its outcome into our error.
// out receives the "data" member of the response.
func (c *Client) request(ctx context.Context, method, path string, out *json.RawMessage) error {
	if !c.password {
		return c.requestOnce(ctx, method, path, out)
	}
	c.authMu.Lock()
	defer c.authMu.Unlock()
	fresh := false
	if !c.hasSessionLocked() {
		if err := c.loginLocked(ctx); err != nil {
			return err
		}
		fresh = true
	}
	err := c.requestOnce(ctx, method, path, out)
	var e *Error
	if !fresh && errors.As(err, &e) && e.HTTPStatus == http.StatusUnauthorized {
		// The server rejected a session we had (expired, revoked, auth key
		// rotated). go-proxmox would keep reusing it until its own 1h timer
		// runs out, so start from a new go-proxmox client and log in again,
		// once. Repeating is safe: a 401 means nothing was executed.
		c.api = c.newAPI()
		first := err
		if lerr := c.loginLocked(ctx); lerr != nil {
			return authInsideDeadline(first, lerr)
		}
		err = authInsideDeadline(first, c.requestOnce(ctx, method, path, out))
	}
	return err
}

// authInsideDeadline: pveproxy holds every 401 back for 3 s, so a re-login
// after a rejected session can outlast the deadline. The 401 that arrived
// in time is the answer then, not the timeout it led to.
func authInsideDeadline(first, then error) error {
	if then != nil && (errors.Is(then, ErrTimeout) || errors.Is(then, ErrCanceled)) {
		return first
	}
	return then
}

func (c *Client) requestOnce(ctx context.Context, method, path string, out *json.RawMessage) error {
	rec := &recorder{}
	rctx := context.WithValue(ctx, recKey{}, rec)
	var err error
	switch method {
	case http.MethodGet:
		err = c.api.Get(rctx, path, out)
	case http.MethodPost:
		err = c.api.Post(rctx, path, nil, out)
	default:
		return &Error{Op: method + " " + path, Kind: ErrInvalidInput, detail: "unsupported method"}
	}
	if c.password {
		c.snapshotSession() // go-proxmox may have renewed the ticket transparently
	}
	return c.finish(ctx, method+" "+path, rec, err)
}

func (c *Client) hasSessionLocked() bool {
	s := c.api.Session()
	return s != nil && s.Ticket != ""
}

// ensureSessionLocked logs in unless a session exists. Caller holds authMu.
func (c *Client) ensureSessionLocked(ctx context.Context) error {
	if c.hasSessionLocked() {
		return nil
	}
	return c.loginLocked(ctx)
}

// loginLocked gets a ticket + CSRF token. It goes through the same guarded,
// pinned http.Client and the caller's deadline, because go-proxmox's
// CreateSession posts with the client's own http.Client and our ctx.
func (c *Client) loginLocked(ctx context.Context) error {
	rec := &recorder{}
	err := c.api.CreateSession(context.WithValue(ctx, recKey{}, rec))
	c.snapshotSession()
	if err == nil {
		if s := c.api.Session(); s == nil || s.Ticket == "" || s.CSRFPreventionToken == "" {
			err = fmt.Errorf("%w: login response had no ticket", ErrBadResponse)
			c.api = c.newAPI() // don't keep an unusable session around
		} else if strings.HasPrefix(s.Ticket, "PVE:!tfa!") {
			// pve-access-control PVE/API2/AccessControl.pm create_ticket_do:
			// an account with a second factor gets NeedTFA: 1 and a half
			// ticket "PVE:!tfa!<challenge>:..." that every call but
			// /access/tfa refuses with 401 (go-proxmox drops NeedTFA, the
			// ticket says it too). No use retrying: say why.
			c.api = c.newAPI()
			return &Error{Op: "POST /access/ticket", Kind: ErrAuth, detail: TFAMessage}
		}
	}
	return c.finish(ctx, "POST /access/ticket", rec, err)
}

func (c *Client) snapshotSession() {
	if s := c.api.Session(); s != nil {
		c.session.Store(&[2]string{s.Ticket, s.CSRFPreventionToken})
	}
}

// finish decides the outcome. Precedence: a non-2xx status seen on the wire
// (go-proxmox may have reported success or a JSON error for it), then our
// deadline, then the error chain.
func (c *Client) finish(ctx context.Context, op string, rec *recorder, err error) error {
	if rec.fp != "" {
		c.recordFingerprint(rec.fp)
	}
	e := &Error{Op: op}
	switch {
	case rec.status != 0 && (rec.status < 200 || rec.status > 299):
		// go-proxmox's own error is dropped on purpose: for 400 it embeds
		// the response body.
		e.HTTPStatus = rec.status
		e.Reason = c.redact(rec.reason)
		e.Kind, e.detail = statusError(rec.status, rec.login, e.Reason)
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Kind, e.detail = ErrTimeout, "timed out"
		if ci, _ := ctx.Value(callKey{}).(*callInfo); ci != nil {
			e.Timeout = ci.budget
			if s := formatBudget(ci.budget); s != "" {
				e.detail = "timed out after " + s
			}
		}
		e.cause, e.causeText = err, c.redact(truncate(err.Error(), 300))
	default:
		e.Kind, e.detail, e.Fingerprint = classifyCause(err)
		if e.Kind == ErrTimeout {
			// A transport timeout below our deadline (e.g. TLS handshake).
			e.Timeout = c.timeout
		}
		if e.Kind == ErrTLS {
			if e.Fingerprint == "" {
				e.Fingerprint = c.LastFingerprint()
			}
			c.recordFingerprint(e.Fingerprint)
		}
		e.cause, e.causeText = err, c.redact(truncate(err.Error(), 300))
	}
	c.log.Debug("proxmox request failed",
		"op", op, "status", string(Classify(e)), "http_status", e.HTTPStatus, "error", e.Error())
	return e
}

// badResponse reports a 2xx response we could not use.
func (c *Client) badResponse(op string, err error) error {
	e := &Error{Op: op, Kind: ErrBadResponse, detail: "malformed response from server",
		cause: err, causeText: c.redact(truncate(err.Error(), 300))}
	c.log.Debug("proxmox response rejected", "op", op, "error", e.Error())
	return e
}

func configErr(msg string) *Error {
	return &Error{Kind: ErrConfig, detail: msg}
}

func invalidInput(op, msg string) *Error {
	return &Error{Op: op, Kind: ErrInvalidInput, detail: msg}
}

// redact removes every known secret from s. Secrets shorter than 4 bytes
// are not replaced: that would shred ordinary text while protecting nothing.
func (c *Client) redact(s string) string {
	for _, sec := range c.static {
		s = replaceSecret(s, sec)
	}
	if p := c.session.Load(); p != nil {
		s = replaceSecret(s, p[0])
		s = replaceSecret(s, p[1])
	}
	return s
}

func replaceSecret(s, sec string) string {
	if len(sec) < 4 {
		return s
	}
	return strings.ReplaceAll(s, sec, "[REDACTED]")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// gpLogger adapts go-proxmox's logger. Debug and info are dropped because
// go-proxmox logs POST data and full response bodies there; warnings and
// errors (only emitted for option problems) are redacted and forwarded.
// It must not call into go-proxmox: it can run while go-proxmox holds its
// session mutex.
type gpLogger struct{ c *Client }

func (gpLogger) Debugf(string, ...interface{}) {}
func (gpLogger) Infof(string, ...interface{})  {}
func (l gpLogger) Warnf(f string, v ...interface{}) {
	l.c.log.Warn("go-proxmox", "msg", l.c.redact(fmt.Sprintf(f, v...)))
}
func (l gpLogger) Errorf(f string, v ...interface{}) {
	l.c.log.Warn("go-proxmox", "msg", l.c.redact(fmt.Sprintf(f, v...)))
}

// ---- validation ----

var (
	// PVE node names are single hostname labels (pve_verify_node_name).
	nodeRe = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
	// PVE userid: user part without whitespace, ':' or '/', realm id.
	// Proxmox user ids are user@realm; API token ids add !tokenname (realm
	// and token names: a letter, then at least one more character, as
	// pve-access-control's regexes have it). The one rule for both the
	// registry's validation and the client.
	userIDRe  = regexp.MustCompile(`^[^\s@!:/=]{1,64}@[A-Za-z][A-Za-z0-9._-]{1,31}$`)
	tokenIDRe = regexp.MustCompile(`^[^\s@!:/=]{1,64}@[A-Za-z][A-Za-z0-9._-]{1,31}![A-Za-z][A-Za-z0-9._-]{1,63}$`)
	// UPID as PVE::Tools::upid_decode accepts it (`[^:\s]` per field: user
	// names may hold '?', '#', '%'; TaskStatus path-escapes them), minus '/',
	// which no PVE user, type or id holds and which would change the path.
	upidRe     = regexp.MustCompile(`^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8}:[^:\s/]+:[^:\s/]*:[^:\s/]+:$`)
	dnsLabelRe = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)
)

var (
	guestTypes   = map[string]bool{"qemu": true, "lxc": true}
	guestActions = map[string]bool{"start": true, "stop": true, "shutdown": true, "reboot": true}
)

func headerSafe(s string) bool {
	if s == "" || len(s) > 512 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r > unicode.MaxASCII {
			return false
		}
	}
	return true
}

// normalizeHost accepts a DNS name or an IP literal (IPv6 optionally in
// brackets) and nothing else: no scheme, path, port, userinfo or zone.
// ValidUserID reports whether s is a Proxmox user id (user@realm).
func ValidUserID(s string) bool { return userIDRe.MatchString(s) }

// ValidTokenID reports whether s is a Proxmox API token id (user@realm!name).
func ValidTokenID(s string) bool { return tokenIDRe.MatchString(s) }

// NormalizeHost is the one rule for a Proxmox host: an IP address (IPv6
// optionally in brackets, no zone) or a DNS name, lowercased, without a
// trailing dot. Underscores are accepted in labels: internal DNS has them
// and the resolver accepts them.
func NormalizeHost(h string) (string, error) { return normalizeHost(h) }

func normalizeHost(h string) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", errors.New("host is empty")
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
			return "", errors.New("host in brackets must be an IPv6 address")
		}
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", errors.New("IPv6 zones are not supported in host")
		}
		return a.String(), nil
	}
	if strings.ContainsAny(h, ":/@?#%[] \t\\") {
		return "", errors.New("host must be a DNS name or IP address without scheme, port or path")
	}
	h = strings.TrimSuffix(h, ".")
	if strings.Trim(h, "0123456789.") == "" {
		return "", errors.New("host looks like an IP address but is not one")
	}
	if len(h) > 253 {
		return "", errors.New("host name is too long")
	}
	for _, l := range strings.Split(h, ".") {
		if !dnsLabelRe.MatchString(l) {
			return "", errors.New("host is not a valid DNS name")
		}
	}
	return strings.ToLower(h), nil
}
