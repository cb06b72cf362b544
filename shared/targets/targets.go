// Package targets resolves which Proxmox servers a request may reach, as the
// caller (RLS decides which rows exist for them), and opens their sealed
// credentials into proxmox.Target values.
package targets

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/secrets"
)

// Server is one registered server, ready to be dialled.
type Server struct {
	ID                 string
	TenantID           string
	Name               string
	CredentialsVersion int
	Target             proxmox.Target
	// Endpoints are the cluster's further addresses (0009); Target's
	// Host/Port/Fingerprint is the primary.
	Endpoints []proxmox.Endpoint
	// Problem, when set, says why the server must not be called at all (no
	// credentials, credentials that cannot be opened, or a certificate that
	// nothing verifies); it is reported in ServerHealth with ProblemStatus.
	Problem       string
	ProblemStatus proxmox.Status
}

func (s *Server) fail(st proxmox.Status, msg string) {
	if s.Problem == "" {
		s.Problem, s.ProblemStatus = msg, st
	}
}

// Key identifies a server's configuration for caches: an edit of the row or
// of its credentials gives a new key.
func (s Server) Key() string {
	t := s.Target
	return fmt.Sprintf("%s|%d|%s|%d|%t|%s", s.ID, s.CredentialsVersion, t.Host, t.Port, t.VerifyTLS, t.Fingerprint) + endpointsKey(s)
}

// UnverifiedTLS explains why a server without verification or pin is not called.
const UnverifiedTLS = "TLS verification is off and no certificate fingerprint is pinned: pin the server's SHA-256 fingerprint (a connection test shows it) or turn verification on"

// Filter narrows what Load returns.
type Filter struct {
	TenantID   string
	ServerID   string // optional: just this one
	ActiveOnly bool
}

const selectServers = `
	select id::text, tenant_id::text, name, host, port, verify_ssl, coalesce(tls_fingerprint, ''), credentials_version,
		endpoints::text, coalesce(ca_pem, '')
	from public.proxmox_servers
	where tenant_id = $1 and ($2 = '' or id::text = $2) and (not $3 or is_active)
	order by created_at desc, id`

// Load returns the servers of f the caller can see, credentials opened. tx
// must run as the caller. Legacy plaintext credentials are sealed on the way.
func Load(ctx context.Context, tx pgx.Tx, kr *secrets.Keyring, f Filter) ([]Server, error) {
	rows, err := tx.Query(ctx, selectServers, f.TenantID, f.ServerID, f.ActiveOnly)
	if err != nil {
		return nil, err
	}
	servers, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Server, error) {
		var s Server
		var eps string
		err := r.Scan(&s.ID, &s.TenantID, &s.Name, &s.Target.Host, &s.Target.Port, &s.Target.VerifyTLS, &s.Target.Fingerprint, &s.CredentialsVersion,
			&eps, &s.Target.ClusterCA)
		if err == nil {
			s.Endpoints = parseEndpoints(eps)
		}
		return s, err
	})
	if err != nil || len(servers) == 0 {
		return servers, err
	}
	ids := make([]string, len(servers))
	for i := range servers {
		ids[i] = servers[i].ID
		servers[i].requireVerifiedTLS()
	}
	if err := openCredentials(ctx, tx, kr, servers, ids); err != nil {
		return nil, err
	}
	return servers, nil
}

type sealedRow struct {
	serverID, authType string
	keyID              *string
	sealed             []byte
	legacy             *string
}

func openCredentials(ctx context.Context, tx pgx.Tx, kr *secrets.Keyring, servers []Server, ids []string) error {
	rows, err := tx.Query(ctx, `select server_id::text, auth_type, key_id, sealed, legacy_plaintext::text
		from private.server_credentials($1::uuid[])`, ids)
	if err != nil {
		return err
	}
	sealed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealedRow, error) {
		var s sealedRow
		err := r.Scan(&s.serverID, &s.authType, &s.keyID, &s.sealed, &s.legacy)
		return s, err
	})
	if err != nil {
		return err
	}
	byID := make(map[string]sealedRow, len(sealed))
	for _, s := range sealed {
		byID[s.serverID] = s
	}
	for i := range servers {
		row, ok := byID[servers[i].ID]
		var sl *Sealed
		if ok {
			sl = &Sealed{AuthType: row.authType, KeyID: row.keyID, Sealed: row.sealed, Legacy: row.legacy}
		}
		if err := Open(ctx, tx, kr, &servers[i], sl); err != nil {
			return err
		}
	}
	return nil
}

// Sealed is a server's stored credentials as private.server_credentials
// returns them; nil when none are stored.
type Sealed struct {
	AuthType string
	KeyID    *string
	Sealed   []byte
	Legacy   *string // legacy plaintext JSON moved by 0003, sealed on first use
}

// Execer runs the reseal statements, as the caller.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Open opens row into s.Target, or sets s.Problem when it cannot be used.
// Legacy plaintext and blobs sealed under a previous key are resealed
// under the current key through ex.
func Open(ctx context.Context, ex Execer, kr *secrets.Keyring, s *Server, row *Sealed) error {
	if row == nil {
		s.fail(proxmox.StatusAuthError, "no credentials are stored for this server")
		return nil
	}
	var c secrets.Credentials
	switch {
	case row.Legacy != nil:
		if err := json.Unmarshal([]byte(*row.Legacy), &c); err != nil {
			s.fail(proxmox.StatusAuthError, "the stored credentials are unreadable; enter them again")
			return nil
		}
		if kr != nil {
			keyID, blob, err := kr.SealCredentials(s.ID, c)
			if err != nil {
				return err
			}
			if _, err := ex.Exec(ctx, `select private.seal_legacy_credentials($1, $2, $3)`, s.ID, keyID, blob); err != nil {
				return err
			}
		}
	case kr == nil:
		return apperr.New(apperr.Internal, "CREDENTIALS_KEY is not configured")
	default:
		var err error
		c, err = kr.OpenCredentials(s.ID, deref(row.KeyID), row.Sealed)
		if err != nil {
			s.fail(proxmox.StatusAuthError, "the stored credentials cannot be opened with the current key; enter them again")
			return nil
		}
		if kr.NeedsReseal(deref(row.KeyID)) {
			// Sealed under a previous key: move it to the current one.
			keyID, blob, err := kr.SealCredentials(s.ID, c)
			if err != nil {
				return err
			}
			if _, err := ex.Exec(ctx, `select private.reseal_server_credentials($1, $2, $3, $4)`, s.ID, deref(row.KeyID), keyID, blob); err != nil {
				return err
			}
		}
	}
	s.Target.TokenID, s.Target.TokenSecret = c.TokenID, c.TokenSecret
	s.Target.Username, s.Target.Password = c.Username, c.Password
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
