package proxmox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
)

// PeekCertificates completes a TLS handshake with host:port, through the
// address guard and under the per-call timeout, and returns the chain the
// server presented, so `test` can show a fingerprint to pin and say whether
// an endpoint chains to the cluster CA. Verification is skipped on purpose:
// nothing is sent after the handshake, no credentials ever.
func PeekCertificates(ctx context.Context, host string, port int, o Options) ([]*x509.Certificate, error) {
	h, err := normalizeHost(host)
	if err != nil {
		return nil, configErr(err.Error())
	}
	if port == 0 {
		port = DefaultPort
	}
	o = o.normalized()
	ctx, cancel := withBudget(ctx, o.Timeout)
	defer cancel()
	raw, err := o.Guard.DialContext(ctx, "tcp", net.JoinHostPort(h, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	conn := tls.Client(raw, &tls.Config{ServerName: h, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // only reads the certificate
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("the server presented no certificate")
	}
	return certs, nil
}

// ChainsToCAPEM reports whether certs chain to the CA in caPEM ("" or an
// invalid PEM: false).
func ChainsToCAPEM(caPEM string, certs []*x509.Certificate) bool {
	pool, err := parseClusterCA(caPEM)
	if err != nil || pool == nil {
		return false
	}
	return ChainsToCA(pool, certs)
}

// CertFingerprint is the SHA-256 of a certificate in Proxmox's notation.
func CertFingerprint(c *x509.Certificate) string { return certFingerprint(c) }
