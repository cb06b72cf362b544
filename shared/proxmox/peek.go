package proxmox

import "context"

// PeekFingerprint completes a TLS handshake with host:port, through the
// address guard and under the per-call timeout, and returns the SHA-256
// fingerprint of the certificate it presented. Nothing is sent over the
// connection: it exists so a user can see, and pin, a certificate that no
// root verifies, before any credential travels to that server.
func PeekFingerprint(ctx context.Context, host string, port int, o Options) (string, error) {
	certs, err := PeekCertificates(ctx, host, port, o)
	if err != nil {
		return "", err
	}
	return certFingerprint(certs[0]), nil
}
