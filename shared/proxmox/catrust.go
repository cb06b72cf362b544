package proxmox

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"time"
)

// TLSModeClusterCA: the leaf must chain to the server's cluster CA
// (pve-root-ca.pem) or match the endpoint's pin.
const TLSModeClusterCA = "cluster_ca"

// CAMismatchError is a handshake refused in cluster-CA mode: the leaf is
// neither pinned nor signed by the cluster's CA. Nothing was sent.
type CAMismatchError struct{ Seen string }

func (e *CAMismatchError) Error() string {
	return "certificate " + e.Seen + " is not signed by the cluster's CA and not pinned"
}

func (e *CAMismatchError) Unwrap() error { return ErrTLS }

// parseClusterCA reads the PEM of a cluster's pve-root-ca.pem. "" is no CA.
func parseClusterCA(p string) (*x509.CertPool, error) {
	if p == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	rest, n := []byte(p), 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, errors.New("the cluster CA must be PEM certificates only (pve-root-ca.pem), no keys")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, errors.New("the cluster CA is not a valid certificate")
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("the cluster CA is not a PEM certificate")
	}
	return pool, nil
}

// ValidClusterCA reports whether p parses as a cluster CA (for input checks).
func ValidClusterCA(p string) error {
	_, err := parseClusterCA(p)
	return err
}

// ChainsToCA reports whether leaf (with intermediates) chains to the CA pool,
// for server authentication, ignoring the host name (see buildCATLSConfig).
func ChainsToCA(pool *x509.CertPool, certs []*x509.Certificate) bool {
	if pool == nil || len(certs) == 0 {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter, CurrentTime: time.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err == nil
}

// buildCATLSConfig trusts a leaf that matches pin (when set) or chains to
// the cluster CA.
//
// The host name is not checked in this mode, on purpose: pve-cluster issues
// each node's pve-ssl.pem from the cluster CA with subjectAltName
// "IP:127.0.0.1,IP:::1,DNS:localhost,IP:<node ip>,DNS:<nodename>[,DNS:<fqdn>]"
// (PVE::Cluster::Setup::gen_pve_ssl_cert; the CA itself comes from
// gen_pveca_cert, one per cluster, "O=PVE Cluster Manager CA"), so the names
// people reach nodes by (NAT, VPN, DNS aliases, a second address) are
// usually not in it. The CA is private to one cluster and only signs that
// cluster's nodes, so a leaf chaining to it already proves the peer is a
// node of this cluster, which is what the host name check would establish.
// Everywhere else (system roots) the host name is checked.
//
// A pin that does not match is not an error when the leaf chains to the CA
// (pvecm updatecerts renews node certificates); the stored pin is never
// replaced by what was seen.
func buildCATLSConfig(pin []byte, pool *x509.CertPool, record func(string)) (*tls.Config, string) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	tc.InsecureSkipVerify = true //nolint:gosec // verified by VerifyConnection: pin or cluster CA
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return &CAMismatchError{Seen: "(none)"}
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		fp := formatFingerprint(sum[:])
		record(fp)
		if pin != nil && subtle.ConstantTimeCompare(sum[:], pin) == 1 {
			return nil
		}
		if ChainsToCA(pool, cs.PeerCertificates) {
			return nil
		}
		return &CAMismatchError{Seen: fp}
	}
	return tc, TLSModeClusterCA
}
