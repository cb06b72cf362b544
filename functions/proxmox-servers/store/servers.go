package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/secrets"
)

// Server is a row of public.proxmox_servers as the app sees it: shaped like
// the table, with has_credentials instead of any secret.
type Server struct {
	ID                 string     `json:"id"`
	UserID             *string    `json:"user_id"`
	TenantID           string     `json:"tenant_id"`
	Name               string     `json:"name"`
	Host               string     `json:"host"`
	Port               int        `json:"port"`
	VerifySSL          bool       `json:"verify_ssl"`
	TLSFingerprint     *string    `json:"tls_fingerprint"`
	AuthType           *string    `json:"auth_type"`
	IsActive           bool       `json:"is_active"`
	ConnectionStatus   *string    `json:"connection_status"`
	LastConnectedAt    *time.Time `json:"last_connected_at"`
	CredentialsVersion int        `json:"credentials_version"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	HasCredentials     bool       `json:"has_credentials"`
	// Endpoints are the cluster's further addresses, CAPEM its
	// pve-root-ca.pem (0009).
	Endpoints json.RawMessage `json:"endpoints"`
	CAPEM     *string         `json:"ca_pem"`
}

// ClusterEndpoints is Endpoints decoded.
func (s Server) ClusterEndpoints() []proxmox.Endpoint {
	var eps []proxmox.Endpoint
	_ = json.Unmarshal(s.Endpoints, &eps)
	return eps
}

const columns = `s.id::text, s.user_id::text, s.tenant_id::text, s.name, s.host, s.port, s.verify_ssl,
	s.tls_fingerprint, s.auth_type, s.is_active, s.connection_status, s.last_connected_at,
	s.credentials_version, s.created_at, s.updated_at, public.has_credentials(s), s.endpoints, s.ca_pem`

func scanServer(row pgx.CollectableRow) (Server, error) {
	var s Server
	err := row.Scan(&s.ID, &s.UserID, &s.TenantID, &s.Name, &s.Host, &s.Port, &s.VerifySSL,
		&s.TLSFingerprint, &s.AuthType, &s.IsActive, &s.ConnectionStatus, &s.LastConnectedAt,
		&s.CredentialsVersion, &s.CreatedAt, &s.UpdatedAt, &s.HasCredentials, &s.Endpoints, &s.CAPEM)
	return s, err
}

// List is the tenant's servers, newest first, in one round trip:
// require_tenant_view answers 404 as access.Load would.
func (s *Store) List(ctx context.Context, c db.Caller, tenantID string) ([]Server, error) {
	return db.ListAsUser(ctx, s.pool, c, scanServer, `select `+columns+` from public.proxmox_servers s
		where private.require_tenant_view($1::uuid) and s.tenant_id = $1::uuid order by s.created_at desc, s.id`, tenantID)
}

func (t *Tx) get(ctx context.Context, id string) (Server, error) {
	// A failed Query reports through rows too (pgx).
	rows, _ := t.tx.Query(ctx, `select `+columns+` from public.proxmox_servers s where s.id = $1`, id)
	s, err := pgx.CollectExactlyOneRow(rows, scanServer)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, ErrServerNotFound
	}
	return s, err
}

// NewServer is a server to register.
type NewServer struct {
	TenantID, Name, Host string
	Port                 int
	VerifyTLS            bool
	TLSFingerprint       string // "" pins nothing
	Endpoints            []proxmox.Endpoint
	CAPEM                string // "" for none
	Credentials          secrets.Credentials
}

// Create registers n as the caller's, its credentials sealed.
func (t *Tx) Create(ctx context.Context, n NewServer) (Server, error) {
	var id string
	if err := t.tx.QueryRow(ctx, `insert into public.proxmox_servers
		(tenant_id, user_id, name, host, port, verify_ssl, tls_fingerprint, endpoints, ca_pem)
		values ($1, $2, $3, $4, $5, $6, nullif($7, ''), $8::jsonb, nullif($9, '')) returning id::text`,
		n.TenantID, t.caller.UserID, n.Name, n.Host, n.Port, n.VerifyTLS, n.TLSFingerprint, endpointsJSON(n.Endpoints), n.CAPEM).Scan(&id); err != nil {
		return Server{}, err
	}
	if err := t.setCredentials(ctx, id, n.Credentials); err != nil {
		return Server{}, err
	}
	return t.get(ctx, id)
}

func (t *Tx) setCredentials(ctx context.Context, serverID string, c secrets.Credentials) error {
	keyID, sealed, err := t.store.keyring.SealCredentials(serverID, c)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(ctx, `select private.set_server_credentials($1, $2, $3, $4)`, serverID, c.AuthType(), keyID, sealed)
	return err
}

func endpointsJSON(eps []proxmox.Endpoint) string {
	if len(eps) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(eps)
	return string(b)
}

// Changes are what an update sets; nil leaves a column (or the credentials)
// as it is. The zero value changes nothing.
type Changes struct {
	TenantID       *string
	Name           *string
	Host           *string
	Port           *int
	VerifyTLS      *bool
	TLSFingerprint *string // "" clears the pin
	IsActive       *bool
	Endpoints      *[]proxmox.Endpoint // [] removes them
	CAPEM          *string             // "" clears it
	Credentials    *secrets.Credentials
}

// Update applies c to server id and returns the row as it is now.
func (t *Tx) Update(ctx context.Context, id string, c Changes) (Server, error) {
	set, args := []string{}, []any{id}
	add := func(assign string, v any) { // assign names the argument %d
		args = append(args, v)
		set = append(set, fmt.Sprintf(assign, len(args)))
	}
	setIf(add, "tenant_id = $%d", c.TenantID)
	setIf(add, "name = $%d", c.Name)
	setIf(add, "host = $%d", c.Host)
	setIf(add, "port = $%d", c.Port)
	setIf(add, "verify_ssl = $%d", c.VerifyTLS)
	setIf(add, "tls_fingerprint = nullif($%d, '')", c.TLSFingerprint)
	setIf(add, "is_active = $%d", c.IsActive)
	if c.Endpoints != nil {
		add("endpoints = $%d::jsonb", endpointsJSON(*c.Endpoints))
	}
	setIf(add, "ca_pem = nullif($%d, '')", c.CAPEM)
	if len(set) > 0 {
		tag, err := t.tx.Exec(ctx, `update public.proxmox_servers set `+strings.Join(set, ", ")+` where id = $1`, args...)
		if err != nil {
			return Server{}, err
		}
		if tag.RowsAffected() != 1 {
			return Server{}, errNotChanged
		}
	}
	if c.Credentials != nil {
		if err := t.setCredentials(ctx, id, *c.Credentials); err != nil {
			return Server{}, err
		}
	}
	return t.get(ctx, id)
}

// setIf adds assign with *v when v is given.
func setIf[T any](add func(assign string, v any), assign string, v *T) {
	if v != nil {
		add(assign, *v)
	}
}

// Delete deletes server id.
func (t *Tx) Delete(ctx context.Context, id string) error {
	tag, err := t.tx.Exec(ctx, `delete from public.proxmox_servers where id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return errNotDeleted
	}
	return nil
}
