package proxmox

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pvetenant/backend/shared/netguard"
)

const (
	testTokenID     = "api@pve!dash"
	testTokenSecret = "0f6d7c1e-5b7a-4f5e-9c2b-SECRET-TOKEN-1234"
	testUser        = "root@pam"
	testPassword    = "hunter2-SECRET-PASSWORD"
	testTicket      = "PVE:root@pam:66F1A2B3::SECRETTICKETSIGNATUREc2lnbmF0dXJlCg=="
	testCSRF        = "66F1A2B3:SECRETCSRFTOKENabcdefghijklmnop"
	versionBody     = `{"data":{"version":"8.2.4","release":"8.2","repoid":"faa83925c9641325"}}`
	nodesBody       = `{"data":[{"node":"pve1","status":"online","maxcpu":8},{"node":"pve2","status":"offline"}]}`
	upidBody        = `{"data":"UPID:pve1:000A1B2C:0B3C4D5E:66F1A2B3:qmstart:100:api@pve!dash:"}`
)

var secrets = []string{testTokenSecret, testPassword, testTicket, testCSRF}

func allowLoopback(t testing.TB) *netguard.Guard {
	t.Helper()
	p, err := netguard.ParseCIDRs("127.0.0.0/8,::1/128")
	if err != nil {
		t.Fatal(err)
	}
	return netguard.New(p)
}

func hostPort(t testing.TB, srv *httptest.Server) (string, int) {
	t.Helper()
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	return ap.Addr().String(), int(ap.Port())
}

func fpOf(c *x509.Certificate) string { return certFingerprint(c) }

// syncBuffer is a log sink safe for concurrent handler writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func debugLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// tokenTarget points at srv with token auth, pinned to srv's certificate.
func tokenTarget(t testing.TB, srv *httptest.Server) Target {
	h, p := hostPort(t, srv)
	return Target{Host: h, Port: p, TokenID: testTokenID, TokenSecret: testTokenSecret, Fingerprint: pinOf(srv)}
}

// pinOf is the fingerprint of srv's certificate, or of nothing for a plain server.
func pinOf(srv *httptest.Server) string {
	if srv.Certificate() == nil {
		return anyPin
	}
	return certFingerprint(srv.Certificate())
}

// anyPin pins a certificate no server has: for tests about anything but TLS.
var anyPin = strings.Repeat("AB:", 31) + "AB"

func newTestClient(t testing.TB, tg Target, timeout time.Duration) (*Client, *syncBuffer) {
	t.Helper()
	log, buf := debugLogger()
	c, err := NewClient(tg, Options{Timeout: timeout, Guard: allowLoopback(t), Logger: log})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, buf
}

func selfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "pve-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"pve.test"},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func newTLSServerWithCert(t testing.TB, cert tls.Certificate, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // expected handshake failures
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func newTLSServer(t testing.TB, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// rawResponse writes a hand-made HTTP response so tests control the status
// line (reason phrase), which net/http's ResponseWriter doesn't allow.
func rawResponse(w http.ResponseWriter, statusLine, body string) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 %s\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		statusLine, len(body), body)
	buf.Flush()
}

func assertStatus(t *testing.T, err error, want Status) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("expected %s error, got nil", want)
	}
	if got := Classify(err); got != want {
		t.Fatalf("Classify = %s, want %s (err: %v)", got, want, err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not *Error: %T %v", err, err)
	}
	return e
}

func assertNoSecrets(t *testing.T, where, s string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("%s contains secret %q:\n%s", where, sec, s)
		}
	}
}

// ---- tests ----

func TestTokenHeader(t *testing.T) {
	var gotAuth, gotPath, gotUA string
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath, gotUA = r.Header.Get("Authorization"), r.URL.Path, r.UserAgent()
		if r.Header.Get("Cookie") != "" || r.Header.Get("CSRFPreventionToken") != "" {
			t.Errorf("token request carried ticket headers")
		}
		io.WriteString(w, versionBody)
	}))
	c, _ := newTestClient(t, tokenTarget(t, srv), 0)
	v, err := c.version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "8.2.4" || v.Release != "8.2" || v.RepoID != "faa83925c9641325" {
		t.Errorf("version = %+v", v)
	}
	if want := "PVEAPIToken=" + testTokenID + "=" + testTokenSecret; gotAuth != want {
		t.Errorf("Authorization = %q, want %q", gotAuth, want)
	}
	if gotPath != "/api2/json/version" {
		t.Errorf("path = %q", gotPath)
	}
	if gotUA != userAgent {
		t.Errorf("user agent = %q", gotUA)
	}
}

// fakeTicketServer implements /access/ticket and enforces cookie + CSRF.
type fakeTicketServer struct {
	t      *testing.T
	rotate atomic.Bool // when set, only a fresh ticket is accepted
	logins atomic.Int32
	posts  atomic.Int32
	// after login, respond to other paths with this handler
	next http.HandlerFunc
}

func (f *fakeTicketServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api2/json/access/ticket" {
		f.logins.Add(1)
		var body struct{ Username, Password string }
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad login request", http.StatusBadRequest)
			return
		}
		if body.Username != testUser || body.Password != testPassword {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"data":null}`)
			return
		}
		fmt.Fprintf(w, `{"data":{"username":%q,"ticket":%q,"CSRFPreventionToken":%q,"cap":{}}}`, testUser, f.ticket(), testCSRF)
		return
	}
	ck, err := r.Cookie("PVEAuthCookie")
	if err != nil || ck.Value != f.ticket() {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodPost {
		f.posts.Add(1)
		if r.Header.Get("CSRFPreventionToken") != testCSRF {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	if f.next != nil {
		f.next(w, r)
		return
	}
	switch {
	case r.URL.Path == "/api2/json/version":
		io.WriteString(w, versionBody)
	case r.URL.Path == "/api2/json/nodes":
		io.WriteString(w, nodesBody)
	case strings.HasSuffix(r.URL.Path, "/status/start"):
		io.WriteString(w, upidBody)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeTicketServer) ticket() string {
	if f.rotate.Load() {
		return testTicket + "-ROTATED"
	}
	return testTicket
}

func TestTicketRejectedSessionRelogin(t *testing.T) {
	f := &fakeTicketServer{t: t}
	srv := newTLSServer(t, f)
	h, p := hostPort(t, srv)
	c, logs := newTestClient(t, Target{Host: h, Port: p, Username: testUser, Password: testPassword, Fingerprint: pinOf(srv)}, 0)
	ctx := context.Background()
	if _, err := c.version(ctx); err != nil {
		t.Fatal(err)
	}
	f.rotate.Store(true) // server no longer accepts the ticket we hold
	if _, err := c.GuestAction(ctx, "pve1", "qemu", 100, "start"); err != nil {
		t.Fatalf("after ticket rejection: %v", err)
	}
	if n := f.logins.Load(); n != 2 {
		t.Errorf("logins = %d, want 2", n)
	}
	if n := f.posts.Load(); n != 1 {
		t.Errorf("authenticated POSTs = %d, want 1 (the rejected one never ran)", n)
	}
	assertNoSecrets(t, "log", logs.String())
}

func TestTicketAndCSRFFlow(t *testing.T) {
	f := &fakeTicketServer{t: t}
	srv := newTLSServer(t, f)
	h, p := hostPort(t, srv)
	c, logs := newTestClient(t, Target{Host: h, Port: p, Username: testUser, Password: testPassword, Fingerprint: pinOf(srv)}, 0)

	if _, err := c.version(context.Background()); err != nil {
		t.Fatalf("Version: %v", err)
	}
	upid, err := c.GuestAction(context.Background(), "pve1", "qemu", 100, "start")
	if err != nil {
		t.Fatalf("GuestAction: %v", err)
	}
	if !strings.HasPrefix(upid, "UPID:pve1:") {
		t.Errorf("upid = %q", upid)
	}
	if n := f.logins.Load(); n != 1 {
		t.Errorf("logins = %d, want exactly 1 (eager, then reused)", n)
	}
	if n := f.posts.Load(); n != 1 {
		t.Errorf("authenticated POSTs = %d", n)
	}
	assertNoSecrets(t, "log", logs.String())

	// Concurrent use of a password client is serialized, not racy.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.nodes(context.Background()); err != nil {
				t.Errorf("concurrent Nodes: %v", err)
			}
		}()
	}
	wg.Wait()
}

func TestTicketLoginFailure(t *testing.T) {
	f := &fakeTicketServer{t: t}
	srv := newTLSServer(t, f)
	h, p := hostPort(t, srv)
	c, logs := newTestClient(t, Target{Host: h, Port: p, Username: testUser, Password: "wrong-password", Fingerprint: pinOf(srv)}, 0)
	_, err := c.version(context.Background())
	e := assertStatus(t, err, StatusAuthError)
	if e.HTTPStatus != 401 || !strings.Contains(Describe(err), "login failed") {
		t.Errorf("login failure: %v / %q", err, Describe(err))
	}
	if !errors.Is(err, ErrAuth) {
		t.Errorf("not ErrAuth: %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password") || strings.Contains(logs.String(), "wrong-password") {
		t.Errorf("password leaked: %v\n%s", err, logs)
	}
}

func TestTLSModes(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api2/json/version":
			io.WriteString(w, versionBody)
		case "/api2/json/nodes":
			io.WriteString(w, nodesBody)
		}
	})
	srv := newTLSServer(t, handler)
	realFP := fpOf(srv.Certificate())
	other := selfSigned(t)
	otherFP := fpOf(other.Leaf)

	t.Run("pinned ok (lowercase pin)", func(t *testing.T) {
		tg := tokenTarget(t, srv)
		tg.Fingerprint = strings.ToLower(realFP)
		c, _ := newTestClient(t, tg, 0)
		res, err := c.Probe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Fingerprint != realFP || res.TLSMode != TLSModePinned || res.Version.Version != "8.2.4" || res.Nodes != 2 || res.NodesOnline != 1 {
			t.Errorf("probe = %+v", res)
		}
	})

	t.Run("pin without colons", func(t *testing.T) {
		tg := tokenTarget(t, srv)
		tg.Fingerprint = strings.ReplaceAll(realFP, ":", "")
		c, _ := newTestClient(t, tg, 0)
		if _, err := c.version(context.Background()); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("changed certificate", func(t *testing.T) {
		// The server now presents `other`; we had pinned the old one.
		srv2 := newTLSServerWithCert(t, other, handler)
		tg := tokenTarget(t, srv2)
		tg.Fingerprint = realFP
		tg.VerifyTLS = true // the pin wins; the chain is not what fails
		c, _ := newTestClient(t, tg, 0)
		res, err := c.Probe(context.Background())
		e := assertStatus(t, err, StatusTLSError)
		if Describe(err) != "certificate fingerprint does not match the pinned one" {
			t.Errorf("Describe = %q", Describe(err))
		}
		if e.Fingerprint != otherFP || res.Fingerprint != otherFP || c.LastFingerprint() != otherFP {
			t.Errorf("seen fingerprint not reported: err=%q res=%q last=%q want %q", e.Fingerprint, res.Fingerprint, c.LastFingerprint(), otherFP)
		}
		var fm *FingerprintMismatchError
		if !errors.As(err, &fm) || !errors.Is(err, ErrTLS) {
			t.Errorf("error chain: %v", err)
		}
		// And again: never silently re-pinned.
		_, err = c.version(context.Background())
		assertStatus(t, err, StatusTLSError)
	})

	t.Run("unknown CA with VerifyTLS", func(t *testing.T) {
		tg := tokenTarget(t, srv)
		tg.Fingerprint, tg.VerifyTLS = "", true
		c, _ := newTestClient(t, tg, 0)
		res, err := c.Probe(context.Background())
		e := assertStatus(t, err, StatusTLSError)
		if !strings.Contains(Describe(err), "unknown authority") {
			t.Errorf("Describe = %q", Describe(err))
		}
		if e.Fingerprint != realFP || res.Fingerprint != realFP {
			t.Errorf("fingerprint for pinning not reported: %q / %q", e.Fingerprint, res.Fingerprint)
		}
	})

	t.Run("VerifyTLS with RootCAs", func(t *testing.T) {
		tg := tokenTarget(t, srv)
		tg.Fingerprint, tg.VerifyTLS = "", true
		tg.RootCAs = x509.NewCertPool()
		tg.RootCAs.AddCert(srv.Certificate())
		c, _ := newTestClient(t, tg, 0)
		res, err := c.Probe(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.TLSMode != TLSModeVerified || res.Fingerprint != realFP {
			t.Errorf("probe = %+v", res)
		}
	})

	t.Run("hostname mismatch", func(t *testing.T) {
		// httptest's certificate covers 127.0.0.1 and example.com, not localhost.
		tg := tokenTarget(t, srv)
		tg.Host = "localhost"
		tg.Fingerprint, tg.VerifyTLS = "", true
		tg.RootCAs = x509.NewCertPool()
		tg.RootCAs.AddCert(srv.Certificate())
		c, _ := newTestClient(t, tg, 0)
		_, err := c.version(context.Background())
		assertStatus(t, err, StatusTLSError)
		if !strings.Contains(Describe(err), "host name") {
			t.Errorf("Describe = %q", Describe(err))
		}
	})

	t.Run("neither verified nor pinned is refused before connecting", func(t *testing.T) {
		h, p := hostPort(t, srv)
		_, err := NewClient(Target{Host: h, Port: p, TokenID: testTokenID, TokenSecret: testTokenSecret}, Options{Guard: allowLoopback(t)})
		assertStatus(t, err, StatusTLSError)
		if fp, err := PeekFingerprint(context.Background(), h, p, Options{Guard: allowLoopback(t)}); err != nil || fp != realFP {
			t.Errorf("PeekFingerprint = %q, %v; want %s", fp, err, realFP)
		}
	})

	t.Run("plain HTTP on the port", func(t *testing.T) {
		plain := httptest.NewServer(handler)
		defer plain.Close()
		h, p := hostPort(t, plain)
		c, _ := newTestClient(t, Target{Host: h, Port: p, TokenID: testTokenID, TokenSecret: testTokenSecret, Fingerprint: anyPin}, 0)
		_, err := c.version(context.Background())
		assertStatus(t, err, StatusTLSError)
	})
}

func TestHTTPStatusClassification(t *testing.T) {
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		call     func(*Client) error
		want     Status
		kind     error
		describe string
	}{
		{
			name:     "401",
			handler:  func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) },
			want:     StatusAuthError,
			kind:     ErrAuth,
			describe: "authentication failed (HTTP 401)",
		},
		{
			name: "403",
			handler: func(w http.ResponseWriter, r *http.Request) {
				rawResponse(w, "403 Permission check failed (/, Sys.Audit)", `{"data":null}`)
			},
			want:     StatusAuthError,
			kind:     ErrAuth,
			describe: "permission denied (HTTP 403): Permission check failed (/, Sys.Audit)",
		},
		{
			name: "500",
			handler: func(w http.ResponseWriter, r *http.Request) {
				rawResponse(w, "500 unable to read config", `{"data":null}`)
			},
			want:     StatusError,
			kind:     ErrHTTPStatus,
			describe: "server error (HTTP 500): unable to read config",
		},
		{
			name: "502 (go-proxmox would decode it as success)",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(502)
				io.WriteString(w, versionBody)
			},
			want:     StatusError,
			kind:     ErrHTTPStatus,
			describe: "server error (HTTP 502)",
		},
		{
			name: "empty-body 595",
			handler: func(w http.ResponseWriter, r *http.Request) {
				rawResponse(w, "595 Errors during connection establishment, proxy handshake: No route to host", "")
			},
			want:     StatusOffline,
			kind:     ErrUnreachable,
			describe: "Proxmox could not reach the node (HTTP 595)",
		},
		{
			name:    "empty-body 595 on POST",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(595) },
			call: func(c *Client) error {
				_, err := c.GuestAction(context.Background(), "pve2", "lxc", 200, "shutdown")
				return err
			},
			want:     StatusOffline,
			kind:     ErrUnreachable,
			describe: "Proxmox could not reach the node (HTTP 595)",
		},
		{
			name:     "596",
			handler:  func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(596) },
			want:     StatusOffline,
			kind:     ErrUnreachable,
			describe: "Proxmox could not reach the node (HTTP 596)",
		},
		{
			name:     "malformed JSON",
			handler:  func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"data":{"version":"8.2`) },
			want:     StatusError,
			kind:     ErrBadResponse,
			describe: "malformed response from server",
		},
		{
			name:     "not Proxmox (HTML 200)",
			handler:  func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `<html>hello</html>`) },
			want:     StatusError,
			kind:     ErrBadResponse,
			describe: "malformed response from server",
		},
		{
			name:     "valid JSON, wrong shape",
			handler:  func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"data":[1,2]}`) },
			want:     StatusError,
			kind:     ErrBadResponse,
			describe: "malformed response from server",
		},
		{
			name: "redirect not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://169.254.169.254/", http.StatusFound)
			},
			want:     StatusError,
			kind:     ErrBadResponse,
			describe: "unexpected redirect (HTTP 302)",
		},
		{
			name: "truncated body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				rawResponseTruncated(w)
			},
			want: StatusOffline,
			kind: ErrUnreachable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTLSServer(t, tc.handler)
			c, logs := newTestClient(t, tokenTarget(t, srv), 0)
			call := tc.call
			if call == nil {
				call = func(c *Client) error { _, err := c.version(context.Background()); return err }
			}
			err := call(c)
			assertStatus(t, err, tc.want)
			if !errors.Is(err, tc.kind) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.kind)
			}
			if tc.describe != "" && Describe(err) != tc.describe {
				t.Errorf("Describe = %q, want %q", Describe(err), tc.describe)
			}
			assertNoSecrets(t, "error", err.Error())
			assertNoSecrets(t, "log", logs.String())
		})
	}
}

// rawResponseTruncated promises more body than it sends, then hangs up.
func rawResponseTruncated(w http.ResponseWriter) {
	conn, buf, _ := w.(http.Hijacker).Hijack()
	defer conn.Close()
	io.WriteString(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"data\":{\"vers")
	buf.Flush()
}

// newHangingServer never answers: each request waits until the client
// gives up or the test ends.
func newHangingServer(t testing.TB) *httptest.Server {
	release := make(chan struct{})
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // before the server's own cleanup waits for its handlers
	return srv
}

func TestTimeout(t *testing.T) {
	srv := newHangingServer(t)
	const timeout = 300 * time.Millisecond
	c, _ := newTestClient(t, tokenTarget(t, srv), timeout)

	start := time.Now()
	_, err := c.version(context.Background())
	elapsed := time.Since(start)
	e := assertStatus(t, err, StatusTimeout)
	if elapsed > timeout+5*time.Second {
		t.Errorf("took %v with a %v timeout", elapsed, timeout)
	}
	if !strings.HasPrefix(Describe(err), "timed out after") || e.Timeout != timeout || !errors.Is(err, ErrTimeout) {
		t.Errorf("Describe = %q, Timeout = %v", Describe(err), e.Timeout)
	}

	// A shorter parent deadline is honoured and reported.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.ClusterResources(ctx, "")
	assertStatus(t, err, StatusTimeout)

	// Caller cancellation is not a timeout.
	ctx, cancel2 := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel2() }()
	_, err = c.version(ctx)
	if !errors.Is(err, ErrCanceled) || Classify(err) != StatusError {
		t.Errorf("cancel: %v (%s)", err, Classify(err))
	}
}

func TestClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c, _ := newTestClient(t, Target{Host: "127.0.0.1", Port: port, TokenID: testTokenID, TokenSecret: testTokenSecret, Fingerprint: anyPin}, 0)
	_, err = c.version(context.Background())
	assertStatus(t, err, StatusOffline)
	if Describe(err) != "connection refused" || !errors.Is(err, ErrUnreachable) {
		t.Errorf("Describe = %q (%v)", Describe(err), err)
	}
}

func TestGuardRefusal(t *testing.T) {
	var hits atomic.Int32
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, versionBody)
	}))
	_, port := hostPort(t, srv)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			log, logs := debugLogger()
			// No Guard in Options: the default refuses loopback.
			c, err := NewClient(Target{Host: host, Port: port, TokenID: testTokenID, TokenSecret: testTokenSecret, Fingerprint: anyPin}, Options{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.version(context.Background())
			assertStatus(t, err, StatusError)
			if !errors.Is(err, ErrForbiddenAddress) || !errors.Is(err, netguard.ErrForbiddenAddress) {
				t.Errorf("not ErrForbiddenAddress: %v", err)
			}
			if !strings.Contains(Describe(err), "forbidden address") || !strings.Contains(Describe(err), "loopback") {
				t.Errorf("Describe = %q", Describe(err))
			}
			assertNoSecrets(t, "error", err.Error())
			assertNoSecrets(t, "log", logs.String())
		})
	}
	if hits.Load() != 0 {
		t.Errorf("server was reached %d times", hits.Load())
	}
}

func TestInputValidation(t *testing.T) {
	var hits atomic.Int32
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	c, _ := newTestClient(t, tokenTarget(t, srv), 0)
	ctx := context.Background()
	bad := []struct {
		node, typ string
		vmid      int
		action    string
	}{
		{"", "qemu", 100, "start"},
		{"../../access", "qemu", 100, "start"},
		{"pve 1", "qemu", 100, "start"},
		{"pve1/qemu", "qemu", 100, "start"},
		{"-pve", "qemu", 100, "start"},
		{strings.Repeat("a", 64), "qemu", 100, "start"},
		{"pve1", "vm", 100, "start"},
		{"pve1", "openvz", 100, "start"},
		{"pve1", "qemu", 99, "start"},
		{"pve1", "qemu", 1000000000, "start"},
		{"pve1", "qemu", 100, "destroy"},
		{"pve1", "qemu", 100, "start?force=1"},
		{"pve1", "lxc", 100, "Start"},
	}
	for _, b := range bad {
		_, err := c.GuestAction(ctx, b.node, b.typ, b.vmid, b.action)
		if !errors.Is(err, ErrInvalidInput) || Classify(err) != StatusError {
			t.Errorf("GuestAction(%q,%q,%d,%q) = %v", b.node, b.typ, b.vmid, b.action, err)
		}
	}
	for _, upid := range []string{
		"",
		"UPID:pve1:000A1B2C:0B3C4D5E:66F1A2B3:qmstart:100:root@pam",  // no trailing colon
		"UPID:pve2:000A1B2C:0B3C4D5E:66F1A2B3:qmstart:100:root@pam:", // other node
		"UPID:pve1:000A1B2C:0B3C4D5E:66F1A2B3:qm/../start:100:root@pam:",
		"UPID:pve1:zzzz:0B3C4D5E:66F1A2B3:qmstart:100:root@pam:",
	} {
		if _, err := c.TaskStatus(ctx, "pve1", upid); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("TaskStatus(%q) = %v", upid, err)
		}
	}
	if _, err := c.ClusterResources(ctx, "bogus"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("ClusterResources(bogus) = %v", err)
	}
	if hits.Load() != 0 {
		t.Errorf("invalid input reached the server %d times", hits.Load())
	}
}

func TestEndpoints(t *testing.T) {
	resources := readFixture(t, "pve8_cluster_resources.json")
	var gotQuery []string
	var mu sync.Mutex
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotQuery = append(gotQuery, r.URL.RawQuery)
		mu.Unlock()
		switch {
		case r.URL.Path == "/api2/json/cluster/resources":
			w.Write(resources)
		case r.URL.Path == "/api2/json/nodes":
			w.Write(readFixture(t, "pve8_nodes.json"))
		case r.URL.Path == "/api2/json/cluster/status":
			w.Write(readFixture(t, "pve8_cluster_status.json"))
		case r.Method == http.MethodPost && r.URL.Path == "/api2/json/nodes/pve-b/lxc/201/status/reboot":
			io.WriteString(w, `{"data":"UPID:pve-b:00001234:00ABCDEF:66F1A2B3:vzreboot:201:api@pve!dash:"}`)
		case r.URL.Path == "/api2/json/nodes/pve-b/tasks/UPID:pve-b:00001234:00ABCDEF:66F1A2B3:vzreboot:201:api@pve!dash:/status":
			io.WriteString(w, `{"data":{"upid":"UPID:pve-b:00001234:00ABCDEF:66F1A2B3:vzreboot:201:api@pve!dash:","node":"pve-b","pid":4660,"pstart":11259375,"starttime":1727111859,"type":"vzreboot","id":"201","user":"api@pve!dash","status":"running"}}`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
		}
	}))
	c, _ := newTestClient(t, tokenTarget(t, srv), 0)
	ctx := context.Background()

	all, err := c.ClusterResources(ctx, "")
	if err != nil || len(all) != 24 {
		t.Fatalf("resources: %d %v", len(all), err)
	}
	lxc, err := c.ClusterResources(ctx, "lxc")
	if err != nil || len(lxc) != 2 {
		t.Fatalf("lxc filter: %d %v", len(lxc), err)
	}
	for _, r := range lxc {
		if r.Type != "lxc" {
			t.Errorf("filter leaked %s", r.ID)
		}
	}
	if gotQuery[1] != "type=vm" {
		t.Errorf("query = %q", gotQuery[1])
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.ClusterResources(ctx, "node"); err != nil {
				t.Errorf("concurrent: %v", err)
			}
		}()
	}
	wg.Wait()
	nodes, err := c.nodes(ctx)
	if err != nil || len(nodes) != 3 {
		t.Fatalf("nodes: %v %v", nodes, err)
	}
	cs, err := c.ClusterStatus(ctx)
	if err != nil || cs.Name != "homelab" || len(cs.Nodes) != 3 {
		t.Fatalf("cluster status: %+v %v", cs, err)
	}
	upid, err := c.GuestAction(ctx, "pve-b", "lxc", 201, "reboot")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.TaskStatus(ctx, "pve-b", upid)
	if err != nil || !ts.Running() || ts.Type != "vzreboot" || ts.PID != 4660 {
		t.Fatalf("task: %+v %v", ts, err)
	}
}

func TestOddEntriesLoggedNotFatal(t *testing.T) {
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(readFixture(t, "odd_cluster_resources.json"))
	}))
	c, logs := newTestClient(t, tokenTarget(t, srv), 0)
	rs, err := c.ClusterResources(context.Background(), "")
	if err != nil || len(rs) != 16 {
		t.Fatalf("resources: %d %v", len(rs), err)
	}
	if !strings.Contains(logs.String(), "skipped=5") || !strings.Contains(logs.String(), "partial=3") {
		t.Errorf("stats not logged:\n%s", logs)
	}
}

func TestBodyLimit(t *testing.T) {
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"data":"`)
		chunk := strings.Repeat("x", 1<<20)
		for i := 0; i < maxBodyBytes>>20+2; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `"}`)
	}))
	c, _ := newTestClient(t, tokenTarget(t, srv), 10*time.Second)
	_, err := c.version(context.Background())
	assertStatus(t, err, StatusError)
	if Describe(err) != "response too large" {
		t.Errorf("Describe = %q (%v)", Describe(err), err)
	}
}

// TestNoSecretsAnywhere forces each failure with servers that try hard to
// echo credentials back (reason phrase, body) and checks neither errors nor
// debug logs contain them.
func TestNoSecretsAnywhere(t *testing.T) {
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			leak := r.Header.Get("Authorization") + " " + r.Header.Get("Cookie") + " " + r.Header.Get("CSRFPreventionToken")
			rawResponse(w, strconv.Itoa(status)+" echo "+leak, `{"errors":{"x":"`+leak+`"},"data":null}`)
		}
	}
	handlers := map[string]http.HandlerFunc{
		"401 echo": echo(401),
		"400 echo": echo(400),
		"500 echo": echo(500),
		"595 echo": echo(595),
		"200 malformed echo": func(w http.ResponseWriter, r *http.Request) {
			rawResponse(w, "200 OK", `{"data":{"version":"`+r.Header.Get("Authorization")+`"`)
		},
		"200 wrong type echo": func(w http.ResponseWriter, r *http.Request) {
			rawResponse(w, "200 OK", `{"data":["`+r.Header.Get("Authorization")+`"]}`)
		},
		"hang": func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
	}
	modes := map[string]func(Target) Target{
		"token": func(tg Target) Target { return tg },
		"password": func(tg Target) Target {
			tg.TokenID, tg.TokenSecret = "", ""
			tg.Username, tg.Password = testUser, testPassword
			return tg
		},
	}
	for modeName, mode := range modes {
		for name, h := range handlers {
			t.Run(modeName+"/"+name, func(t *testing.T) {
				var srv *httptest.Server
				if modeName == "password" {
					srv = newTLSServer(t, &fakeTicketServer{t: t, next: h})
				} else {
					srv = newTLSServer(t, h)
				}
				c, logs := newTestClient(t, mode(tokenTarget(t, srv)), 300*time.Millisecond)
				var errs []error
				_, err := c.version(context.Background())
				errs = append(errs, err)
				_, err = c.ClusterResources(context.Background(), "")
				errs = append(errs, err)
				_, err = c.GuestAction(context.Background(), "pve1", "qemu", 100, "stop")
				errs = append(errs, err)
				_, err = c.Probe(context.Background())
				errs = append(errs, err)
				failed := 0
				for _, err := range errs {
					if err == nil {
						continue
					}
					failed++
					assertNoSecrets(t, "err.Error()", err.Error())
					assertNoSecrets(t, "Describe", Describe(err))
					assertNoSecrets(t, "%+v", fmt.Sprintf("%+v", err))
				}
				if failed == 0 {
					t.Fatal("expected errors")
				}
				assertNoSecrets(t, "log", logs.String())
				if !strings.Contains(logs.String(), "proxmox request failed") && !strings.Contains(logs.String(), "rejected") {
					t.Errorf("nothing was logged; the test would prove nothing:\n%s", logs)
				}
			})
		}
	}

	// Transport-level failures (no server cooperation needed).
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	other := newTLSServerWithCert(t, selfSigned(t), http.NotFoundHandler())
	oh, op := hostPort(t, other)
	transport := map[string]struct {
		tg    Target
		guard *netguard.Guard
	}{
		"refused": {Target{Host: "127.0.0.1", Port: port, Fingerprint: anyPin}, allowLoopback(t)},
		"guard":   {Target{Host: "127.0.0.1", Port: port, Fingerprint: anyPin}, netguard.New(nil)},
		"pin":     {Target{Host: oh, Port: op, Fingerprint: strings.Repeat("AB:", 31) + "AB"}, allowLoopback(t)},
		"verify":  {Target{Host: oh, Port: op, VerifyTLS: true}, allowLoopback(t)},
	}
	for name, tc := range transport {
		for modeName, mode := range modes {
			t.Run(modeName+"/"+name, func(t *testing.T) {
				tg := tc.tg
				tg.TokenID, tg.TokenSecret = testTokenID, testTokenSecret
				log, logs := debugLogger()
				c, err := NewClient(mode(tg), Options{Guard: tc.guard, Logger: log, Timeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				_, err = c.Probe(context.Background())
				if err == nil {
					t.Fatal("expected an error")
				}
				assertNoSecrets(t, "err.Error()", err.Error())
				assertNoSecrets(t, "log", logs.String())
			})
		}
	}
}

func TestNewClientValidation(t *testing.T) {
	ok := Target{Host: "pve.example.com", TokenID: testTokenID, TokenSecret: testTokenSecret, Fingerprint: anyPin}
	bad := map[string]func(*Target){
		"empty host":       func(t *Target) { t.Host = "" },
		"scheme":           func(t *Target) { t.Host = "https://pve.example.com" },
		"path":             func(t *Target) { t.Host = "pve.example.com/api2" },
		"port in host":     func(t *Target) { t.Host = "pve.example.com:8006" },
		"userinfo":         func(t *Target) { t.Host = "root@pve.example.com" },
		"zone":             func(t *Target) { t.Host = "fe80::1%eth0" },
		"bad label":        func(t *Target) { t.Host = "pve..example.com" },
		"port range":       func(t *Target) { t.Port = 70000 },
		"both auths":       func(t *Target) { t.Username, t.Password = testUser, testPassword },
		"no auth":          func(t *Target) { t.TokenID, t.TokenSecret = "", "" },
		"token id format":  func(t *Target) { t.TokenID = "root@pam" },
		"secret space":     func(t *Target) { t.TokenSecret = "a b" },
		"secret newline":   func(t *Target) { t.TokenSecret = "abc\r\nX-Evil: 1" },
		"bad fingerprint":  func(t *Target) { t.Fingerprint = "AB:CD" },
		"bad fingerprint2": func(t *Target) { t.Fingerprint = strings.Repeat("ZZ:", 31) + "ZZ" },
		"user without realm": func(t *Target) {
			t.TokenID, t.TokenSecret = "", ""
			t.Username, t.Password = "root", testPassword
		},
		"empty password": func(t *Target) {
			t.TokenID, t.TokenSecret = "", ""
			t.Username = testUser
		},
	}
	for name, mutate := range bad {
		tg := ok
		mutate(&tg)
		_, err := NewClient(tg, Options{})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v", name, err)
			continue
		}
		assertNoSecrets(t, name, err.Error())
		if Describe(err) == "" || Classify(err) != StatusError {
			t.Errorf("%s: Describe/Classify = %q/%s", name, Describe(err), Classify(err))
		}
	}
	good := []string{"pve.example.com", "PVE1", "10.0.0.5", "2001:db8::1", "[2001:db8::1]", "pve.example.com."}
	for _, h := range good {
		tg := ok
		tg.Host = h
		c, err := NewClient(tg, Options{})
		if err != nil {
			t.Errorf("host %q rejected: %v", h, err)
			continue
		}
		if strings.Contains(c.baseURL, "[[") || !strings.HasSuffix(c.baseURL, ":8006/api2/json") {
			t.Errorf("host %q -> %s", h, c.baseURL)
		}
	}
}

func TestClassifyRawErrors(t *testing.T) {
	tests := []struct {
		err  error
		want Status
	}{
		{nil, StatusOnline},
		{context.DeadlineExceeded, StatusTimeout},
		{fmt.Errorf("wrap: %w", ErrAuth), StatusAuthError},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", IsNotFound: true}}, StatusOffline},
		{&FingerprintMismatchError{Seen: "AA"}, StatusTLSError},
		{x509.UnknownAuthorityError{}, StatusTLSError},
		{&netguard.AddressError{Addr: netip.MustParseAddr("127.0.0.1"), Reason: "loopback"}, StatusError},
		{errors.New("something"), StatusError},
	}
	for _, tc := range tests {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
		if tc.err != nil && Describe(tc.err) == "" {
			t.Errorf("Describe(%v) empty", tc.err)
		}
	}
	if Describe(nil) != "ok" {
		t.Errorf("Describe(nil) = %q", Describe(nil))
	}
}

func TestFingerprintFormat(t *testing.T) {
	b, err := parseFingerprint(" ab:CD:" + strings.Repeat("01:", 29) + "ff ")
	if err != nil {
		t.Fatal(err)
	}
	if got := formatFingerprint(b); got != "AB:CD:"+strings.Repeat("01:", 29)+"FF" {
		t.Errorf("formatFingerprint = %s", got)
	}
	if formatFingerprint(nil) != "" {
		t.Error("empty digest")
	}
}

func TestPeekFingerprint(t *testing.T) {
	var hits atomic.Int32
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	h, p := hostPort(t, srv)
	fp, err := PeekFingerprint(context.Background(), h, p, Options{Guard: allowLoopback(t)})
	if err != nil || fp != fpOf(srv.Certificate()) {
		t.Fatalf("PeekFingerprint = %q, %v", fp, err)
	}
	if _, err := PeekFingerprint(context.Background(), h, p, Options{}); !errors.Is(err, ErrForbiddenAddress) || Classify(err) != StatusError {
		t.Fatalf("default guard: %v", err)
	}
	if hits.Load() != 0 {
		t.Errorf("peek sent an HTTP request")
	}
}
