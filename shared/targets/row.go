package targets

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/secrets"
)

// serverRow is the part of a public.proxmox_servers row (as to_jsonb gives
// it) that a Server is built from. Reading the whole row as JSON lets a
// statement return it without naming columns, so a column added later only
// needs a field here.
type serverRow struct {
	ID                 string          `json:"id"`
	TenantID           string          `json:"tenant_id"`
	Name               string          `json:"name"`
	Host               string          `json:"host"`
	Port               int             `json:"port"`
	VerifySSL          bool            `json:"verify_ssl"`
	TLSFingerprint     *string         `json:"tls_fingerprint"`
	CredentialsVersion int             `json:"credentials_version"`
	Endpoints          json.RawMessage `json:"endpoints"` // 0009
	CAPEM              *string         `json:"ca_pem"`    // 0009
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
	if r.CAPEM != nil {
		s.Target.ClusterCA = *r.CAPEM
	}
	if len(r.Endpoints) > 0 {
		s.Endpoints = parseEndpoints(string(r.Endpoints))
	}
	s.requireVerifiedTLS()
	return s, nil
}

// selectForCaller is Load's two queries as one, for db.ReadAsUser: RLS
// decides which servers exist for the caller, private.server_credentials
// which sealed credentials they may read, and private.require_tenant_view
// answers 404 for a tenant that is not theirs.
const selectForCaller = `
	select to_jsonb(s), c.auth_type, c.key_id, c.sealed, c.legacy_plaintext::text
	from public.proxmox_servers s
	left join lateral private.server_credentials(array[s.id]) c on true
	where private.require_tenant_view($1::uuid) and s.tenant_id = $1::uuid
	  and ($2 = '' or s.id::text = $2) and (not $3 or s.is_active)
	order by s.created_at desc, s.id`

// LoadAsCaller is Load for a read that only needs the caller to see the
// tenant: one round trip of two statements instead of a transaction. A
// tenant the caller has no role in is 404 tenant_not_found. Credentials that
// need resealing are resealed as the caller in a transaction of their own.
func LoadAsCaller(ctx context.Context, pool *pgxpool.Pool, c db.Caller, kr *secrets.Keyring, f Filter) ([]Server, error) {
	var servers []Server
	var sealed []*Sealed
	err := db.ReadAsUser(ctx, pool, c, func(rows pgx.Rows) error {
		servers, sealed = []Server{}, nil
		for rows.Next() {
			var raw []byte
			var authType, keyID, legacy *string
			var blob []byte
			if err := rows.Scan(&raw, &authType, &keyID, &blob, &legacy); err != nil {
				return err
			}
			s, err := FromRow(raw)
			if err != nil {
				return err
			}
			var sl *Sealed
			if authType != nil {
				sl = &Sealed{AuthType: *authType, KeyID: keyID, Sealed: blob, Legacy: legacy}
			}
			servers, sealed = append(servers, s), append(sealed, sl)
		}
		return rows.Err()
	}, selectForCaller, f.TenantID, f.ServerID, f.ActiveOnly)
	if err != nil {
		return nil, err
	}
	for i := range servers {
		if err := OpenAsCaller(ctx, pool, c, kr, &servers[i], sealed[i]); err != nil {
			return nil, err
		}
	}
	return servers, nil
}

// OpenAsCaller is Open for a server read without a transaction. Resealing
// (legacy plaintext, or a blob under a previous key) is a write, done as the
// caller in a transaction of its own; it happens once per server after a
// key rotation, so a read stays one round trip otherwise.
func OpenAsCaller(ctx context.Context, pool *pgxpool.Pool, c db.Caller, kr *secrets.Keyring, s *Server, row *Sealed) error {
	if row == nil || (row.Legacy == nil && (kr == nil || !kr.NeedsReseal(deref(row.KeyID)))) {
		return Open(ctx, nil, kr, s, row)
	}
	return db.AsUser(ctx, pool, c, func(tx pgx.Tx) error { return Open(ctx, tx, kr, s, row) })
}
