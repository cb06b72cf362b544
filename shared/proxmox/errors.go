package proxmox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/pvetenant/backend/shared/netguard"
)

// Status is the coarse health of a server as shown in the UI.
type Status string

const (
	StatusOnline    Status = "online"
	StatusOffline   Status = "offline"    // refused/reset, DNS failure, no route, pveproxy 595/596
	StatusAuthError Status = "auth_error" // 401/403, failed login
	StatusTLSError  Status = "tls_error"  // untrusted/mismatched certificate, pin mismatch
	StatusTimeout   Status = "timeout"    // per-call deadline exceeded
	StatusError     Status = "error"      // anything else: 5xx, malformed JSON, forbidden address, bad input
)

// Sentinel errors. Every error returned by a Client method wraps exactly one
// of them (and is an *Error), so callers can use errors.Is.
var (
	ErrAuth         = errors.New("authentication failed")
	ErrTLS          = errors.New("TLS verification failed")
	ErrTimeout      = errors.New("request timed out")
	ErrUnreachable  = errors.New("server unreachable")
	ErrBadResponse  = errors.New("malformed response")
	ErrHTTPStatus   = errors.New("unexpected HTTP status")
	ErrCanceled     = errors.New("request canceled")
	ErrInvalidInput = errors.New("invalid input")
	ErrConfig       = errors.New("invalid server configuration")
	ErrRequest      = errors.New("request failed")

	// ErrForbiddenAddress is netguard's sentinel, re-exported so callers only
	// need this package. A forbidden address is a configuration problem, so
	// it classifies as StatusError, not offline.
	ErrForbiddenAddress = netguard.ErrForbiddenAddress
)

// Error is the concrete error type returned by Client methods. Its text never
// contains credentials, tickets or response bodies: everything that came from
// the wire or from a lower layer is passed through the client's redactor
// before being stored.
type Error struct {
	Op          string        // "GET /cluster/resources"; never includes query secrets (there are none)
	Kind        error         // one of the sentinels above
	HTTPStatus  int           // 0 if no HTTP response decided the outcome
	Reason      string        // HTTP reason phrase as sent by the server (redacted, truncated); not for end users
	Timeout     time.Duration // the deadline budget, for timeouts
	Fingerprint string        // TLS leaf fingerprint seen, for TLS errors (so the UI can offer to pin it)

	detail    string // short, human, secret-free (what Describe returns)
	causeText string // redacted text of the underlying error, for logs
	cause     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("proxmox: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.detail)
	if e.Reason != "" && e.HTTPStatus != 0 && !strings.HasSuffix(e.detail, e.Reason) {
		fmt.Fprintf(&b, " (server said %q)", e.Reason)
	}
	if e.causeText != "" {
		b.WriteString(": ")
		b.WriteString(e.causeText)
	}
	return b.String()
}

// Unwrap exposes both the sentinel and the underlying cause to errors.Is/As.
func (e *Error) Unwrap() []error {
	if e.cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.cause}
}

// Classify maps any error (ours or a raw one) to a Status. nil is online.
func Classify(err error) Status {
	if err == nil {
		return StatusOnline
	}
	var kind error
	var e *Error
	if errors.As(err, &e) {
		kind = e.Kind
	} else {
		kind, _, _ = classifyCause(err)
	}
	switch kind {
	case ErrAuth:
		return StatusAuthError
	case ErrTLS:
		return StatusTLSError
	case ErrTimeout:
		return StatusTimeout
	case ErrUnreachable:
		return StatusOffline
	}
	return StatusError
}

// Describe returns a short sentence for a person: no secrets, no response
// bodies, no internal error chains.
func Describe(err error) string {
	if err == nil {
		return "ok"
	}
	var e *Error
	if errors.As(err, &e) {
		return e.detail
	}
	_, detail, _ := classifyCause(err)
	return detail
}

// FingerprintMismatchError is returned from the TLS handshake when a pinned
// fingerprint doesn't match. Seen is what the server presented.
type FingerprintMismatchError struct {
	Seen string
}

func (e *FingerprintMismatchError) Error() string {
	return "certificate fingerprint " + e.Seen + " does not match the pinned one"
}

func (e *FingerprintMismatchError) Unwrap() error { return ErrTLS }

// errBodyTooLarge is returned by the capture transport's body limiter.
var errBodyTooLarge = errors.New("response body exceeds size limit")

// classifyCause inspects a transport-level (or decode) error chain. It
// returns the sentinel, a human sentence and, for TLS errors, the leaf
// fingerprint the server presented if it can be recovered.
func classifyCause(err error) (kind error, detail, fingerprint string) {
	var (
		addrErr *netguard.AddressError
		fpErr   *FingerprintMismatchError
		cvErr   *tls.CertificateVerificationError
		uaErr   x509.UnknownAuthorityError
		hnErr   x509.HostnameError
		ciErr   x509.CertificateInvalidError
		rhErr   tls.RecordHeaderError
		dnsErr  *net.DNSError
		opErr   *net.OpError
		synErr  *json.SyntaxError
		typErr  *json.UnmarshalTypeError
		ourErr  *Error
	)
	if errors.As(err, &cvErr) && len(cvErr.UnverifiedCertificates) > 0 {
		fingerprint = certFingerprint(cvErr.UnverifiedCertificates[0])
	}
	switch {
	case errors.As(err, &ourErr):
		return ourErr.Kind, ourErr.detail, ourErr.Fingerprint
	case errors.As(err, &addrErr):
		if addrErr.Addr.IsValid() {
			return ErrForbiddenAddress, fmt.Sprintf("host resolves to a forbidden address (%s is %s)", addrErr.Addr, addrErr.Reason), ""
		}
		return ErrForbiddenAddress, "forbidden address (" + addrErr.Reason + ")", ""
	case errors.Is(err, ErrForbiddenAddress):
		return ErrForbiddenAddress, "host resolves to a forbidden address", ""
	case errors.As(err, &fpErr):
		return ErrTLS, "certificate fingerprint does not match the pinned one", fpErr.Seen
	case errors.As(err, new(*CAMismatchError)):
		var ca *CAMismatchError
		errors.As(err, &ca)
		return ErrTLS, "certificate is neither pinned nor signed by the cluster's CA", ca.Seen
	case errors.As(err, &hnErr):
		return ErrTLS, "certificate is not valid for this host name", fingerprint
	case errors.As(err, &uaErr):
		return ErrTLS, "certificate is not trusted (unknown authority)", fingerprint
	case errors.As(err, &ciErr):
		if ciErr.Reason == x509.Expired {
			return ErrTLS, "certificate has expired or is not yet valid", fingerprint
		}
		return ErrTLS, "certificate is not valid", fingerprint
	case cvErr != nil:
		return ErrTLS, "certificate verification failed", fingerprint
	case errors.Is(err, http.ErrSchemeMismatch), errors.As(err, &rhErr):
		return ErrTLS, "server did not answer with TLS (is it plain HTTP?)", ""
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// A TLS alert sent by the server, e.g. handshake failure.
		return ErrTLS, "TLS handshake failed", ""
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return ErrTimeout, "timed out", ""
	case errors.Is(err, context.Canceled):
		return ErrCanceled, "request canceled", ""
	case errors.Is(err, errBodyTooLarge):
		return ErrBadResponse, "response too large", ""
	case errors.As(err, &synErr), errors.As(err, &typErr):
		return ErrBadResponse, "malformed response from server", ""
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return ErrUnreachable, "host name could not be resolved", ""
		}
		return ErrUnreachable, "DNS lookup failed", ""
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrUnreachable, "connection refused", ""
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ErrUnreachable, "connection reset by server", ""
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EHOSTDOWN):
		return ErrUnreachable, "no route to host", ""
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENETDOWN):
		return ErrUnreachable, "network unreachable", ""
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrUnreachable, "connection closed by server", ""
	case opErr != nil && opErr.Op == "dial":
		return ErrUnreachable, "could not connect", ""
	}
	if k := sentinelOf(err); k != nil {
		return k, k.Error(), fingerprint
	}
	return ErrRequest, "request failed", fingerprint
}

// sentinelOf finds one of our sentinels in a foreign chain (e.g. a caller
// wrapped ErrAuth with fmt.Errorf).
func sentinelOf(err error) error {
	for _, k := range []error{ErrAuth, ErrTLS, ErrTimeout, ErrUnreachable, ErrBadResponse,
		ErrHTTPStatus, ErrCanceled, ErrInvalidInput, ErrConfig, ErrRequest} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statusError builds the error for a non-2xx HTTP status. PVE's reason
// (pveproxy puts the first line of the error message in the status line,
// e.g. "500 CT 101 already running") is kept in the sentence, so it reaches
// the user; 401s and pveproxy's 595/596 have fixed sentences.
func statusError(code int, loginRequest bool, reason string) (kind error, detail string) {
	kind, detail = statusErrorBase(code, loginRequest)
	if reason != "" && reason != http.StatusText(code) && code != http.StatusUnauthorized && code != 595 && code != 596 {
		detail += ": " + reason
	}
	return kind, detail
}

func statusErrorBase(code int, loginRequest bool) (kind error, detail string) {
	switch {
	case code == http.StatusUnauthorized && loginRequest:
		return ErrAuth, "login failed: wrong username or password (HTTP 401)"
	case code == http.StatusUnauthorized:
		return ErrAuth, "authentication failed (HTTP 401)"
	case code == http.StatusForbidden:
		return ErrAuth, "permission denied (HTTP 403)"
	case code == 595 || code == 596:
		// pveproxy forwards requests for other nodes with AnyEvent::HTTP,
		// whose pseudo-statuses 595 (connect/proxy handshake failed) and
		// 596 (TLS/request/header failure) mean "the node is unreachable".
		return ErrUnreachable, fmt.Sprintf("Proxmox could not reach the node (HTTP %d)", code)
	case code >= 300 && code < 400:
		return ErrBadResponse, fmt.Sprintf("unexpected redirect (HTTP %d)", code)
	case code == http.StatusNotFound:
		return ErrHTTPStatus, "not found (HTTP 404)"
	case code >= 500:
		return ErrHTTPStatus, fmt.Sprintf("server error (HTTP %d)", code)
	case code >= 400:
		return ErrHTTPStatus, fmt.Sprintf("request rejected (HTTP %d)", code)
	}
	return ErrHTTPStatus, fmt.Sprintf("unexpected HTTP status %d", code)
}

// formatBudget renders a timeout budget compactly ("4s", "1.5s", "250ms").
func formatBudget(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	if d >= time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}
