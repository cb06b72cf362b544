package proxmox

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
)

// TLS modes reported by ProbeResult.TLSMode.
const (
	TLSModePinned   = "pinned"   // Fingerprint set: leaf SHA-256 must match; chain not checked
	TLSModeVerified = "verified" // VerifyTLS: normal chain + host name verification
)

// parseFingerprint parses a SHA-256 certificate fingerprint written as colon
// separated hex (as shown by Proxmox and browsers), case-insensitive. Colons
// are optional so a plain 64-digit hex string is accepted too.
func parseFingerprint(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, ":", "")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, errors.New("fingerprint must be a SHA-256 digest in hex (32 bytes, colon separated)")
	}
	return b, nil
}

// formatFingerprint renders a digest as uppercase colon separated hex, the
// form Proxmox shows in its UI and in /nodes ssl_fingerprint.
func formatFingerprint(sum []byte) string {
	const hexd = "0123456789ABCDEF"
	if len(sum) == 0 {
		return ""
	}
	b := make([]byte, 0, len(sum)*3-1)
	for i, v := range sum {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexd[v>>4], hexd[v&0x0f])
	}
	return string(b)
}

func certFingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return formatFingerprint(sum[:])
}

// buildTLSConfig returns the TLS config for the chosen mode. record is called
// with the leaf fingerprint on every handshake that got far enough to see a
// certificate.
//
// Decisions:
//   - Fingerprint set: it is the trust anchor. InsecureSkipVerify only turns
//     off chain building; VerifyConnection then enforces the pin on every
//     handshake (including resumed ones), with a constant-time compare. A
//     changed certificate is an error; we never re-pin.
//   - VerifyTLS: standard verification (system roots or RootCAs). On failure
//     the leaf is still recoverable from tls.CertificateVerificationError,
//     which classifyCause uses so the UI can offer to pin it.
//   - Neither: refused before any connection (NewClient). Credentials never
//     travel over TLS that nothing verifies; PeekFingerprint shows the
//     certificate, without sending anything, so the user can pin it.
func buildTLSConfig(t Target, pin []byte, record func(string)) (*tls.Config, string) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	seen := func(cs tls.ConnectionState) ([]byte, bool) {
		if len(cs.PeerCertificates) == 0 {
			return nil, false
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		record(formatFingerprint(sum[:]))
		return sum[:], true
	}
	switch {
	case pin != nil:
		tc.InsecureSkipVerify = true //nolint:gosec // verification is done by VerifyConnection against the pin
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			sum, ok := seen(cs)
			if !ok {
				return &FingerprintMismatchError{Seen: "(none)"}
			}
			if subtle.ConstantTimeCompare(sum, pin) != 1 {
				return &FingerprintMismatchError{Seen: formatFingerprint(sum)}
			}
			return nil
		}
		return tc, TLSModePinned
	case t.VerifyTLS:
		tc.RootCAs = t.RootCAs // nil means system roots
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			seen(cs) // only reached after successful chain verification
			return nil
		}
		return tc, TLSModeVerified
	}
	return nil, ""
}
