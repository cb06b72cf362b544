package targets

import (
	"encoding/json"

	"github.com/pvetenant/backend/shared/proxmox"
)

// serverRow is the part of a public.proxmox_servers row (as to_jsonb gives
// it) that a Server is built from. Reading the whole row as JSON lets a
// statement return it without naming columns, so a column added later only
// needs a field here.
type serverRow struct {
	ID                 string  `json:"id"`
	TenantID           string  `json:"tenant_id"`
	Name               string  `json:"name"`
	Host               string  `json:"host"`
	Port               int     `json:"port"`
	VerifySSL          bool    `json:"verify_ssl"`
	TLSFingerprint     *string `json:"tls_fingerprint"`
	CredentialsVersion int     `json:"credentials_version"`
}

// FromRow builds a Server, credentials not yet opened (see Open), from a
// whole public.proxmox_servers row as JSON.
func FromRow(raw []byte) (Server, error) {
	var r serverRow
	if err := json.Unmarshal(raw, &r); err != nil {
		return Server{}, err
	}
	s := Server{ID: r.ID, TenantID: r.TenantID, Name: r.Name, CredentialsVersion: r.CredentialsVersion,
		Target: proxmox.Target{Host: r.Host, Port: r.Port, VerifyTLS: r.VerifySSL}}
	if r.TLSFingerprint != nil {
		s.Target.Fingerprint = *r.TLSFingerprint
	}
	// Credentials only ever travel over TLS that something verifies.
	if !s.Target.VerifyTLS && s.Target.Fingerprint == "" {
		s.fail(proxmox.StatusTLSError, UnverifiedTLS)
	}
	return s, nil
}
