package proxmox

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"net"
	"strconv"

	"github.com/pvetenant/backend/shared/netguard"
)

// PeekFingerprint completes a TLS handshake with host:port, through the
// address guard and under the per-call timeout, and returns the SHA-256
// fingerprint of the certificate it presented. Nothing is sent over the
// connection: it exists so a user can see, and pin, a certificate that no
// root verifies, before any credential travels to that server.
func PeekFingerprint(ctx context.Context, host string, port int, o Options) (string, error) {
	h, err := normalizeHost(host)
	if err != nil {
		return "", configErr(err.Error())
	}
	if port == 0 {
		port = DefaultPort
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	guard := o.Guard
	if guard == nil {
		guard = netguard.New(nil)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := guard.DialContext(ctx, "tcp", net.JoinHostPort(h, strconv.Itoa(port)))
	if err != nil {
		return "", err
	}
	defer raw.Close()
	// Verification is skipped on purpose: the handshake only reads the
	// certificate, and the connection is closed without sending a byte.
	conn := tls.Client(raw, &tls.Config{ServerName: h, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec
	if err := conn.HandshakeContext(ctx); err != nil {
		return "", err
	}
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", errors.New("the server presented no certificate")
	}
	sum := sha256.Sum256(certs[0].Raw)
	return FormatFingerprint(sum[:]), nil
}
