// Package proxmoxservers is the `proxmox-servers` function: the tenant-scoped
// registry of Proxmox VE servers. Rows come back shaped like the table, with
// has_credentials instead of any secret; credentials are sealed before they
// reach the database and never leave it unsealed except towards Proxmox.
package proxmoxservers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/secrets"
	"github.com/pvetenant/backend/shared/setup"
	"github.com/pvetenant/backend/shared/targets"
)

// Name is the function's name in URLs.
const Name = "proxmox-servers"

// Needs lists the settings the function cannot start without.
var Needs = setup.Needs{Database: true, Credentials: true}

type handler struct {
	d *setup.Deps
}

// New returns the function's HTTP handler.
func New(d *setup.Deps) http.Handler {
	h := &handler{d: d}
	return d.Server.Handler(httpapi.Function{
		Name: Name,
		Actions: map[string]httpapi.Action{
			"list":   h.list,
			"get":    h.get,
			"create": h.create,
			"update": h.update,
			"delete": h.delete,
			"test":   h.test,
		},
		ByMethod: map[string]string{
			http.MethodGet: "list", http.MethodPost: "create",
			http.MethodPatch: "update", http.MethodPut: "update", http.MethodDelete: "delete",
		},
	})
}

// Server is a row of public.proxmox_servers as the app sees it.
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

var errServerNotFound = apperr.New(apperr.NotFound, "Server not found.").WithCode("server_not_found")

func fetchServer(ctx context.Context, tx pgx.Tx, id string) (Server, error) {
	rows, err := tx.Query(ctx, `select `+columns+` from public.proxmox_servers s where s.id = $1`, id)
	if err != nil {
		return Server{}, err
	}
	s, err := pgx.CollectExactlyOneRow(rows, scanServer)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, errServerNotFound
	}
	return s, err
}

// serverAccess finds a server the caller can see and their standing in its tenant.
func serverAccess(ctx context.Context, tx pgx.Tx, r *httpapi.Request, id string) (Server, access.Access, error) {
	s, err := fetchServer(ctx, tx, id)
	if err != nil {
		return s, access.Access{}, err
	}
	r.SetTenant(s.TenantID)
	a, err := access.Load(ctx, tx, r.Caller.UserID, s.TenantID)
	return s, a, err
}

func (h *handler) list(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	// One round trip: require_tenant_view answers 404 like access.Load.
	servers := []Server{}
	err = db.ReadAsUser(ctx, h.d.Pool, r.DB(), func(rows pgx.Rows) (err error) {
		servers, err = pgx.CollectRows(rows, scanServer)
		if servers == nil {
			servers = []Server{}
		}
		return err
	}, `select `+columns+` from public.proxmox_servers s
		where private.require_tenant_view($1::uuid) and s.tenant_id = $1::uuid order by s.created_at desc, s.id`, tenantID)
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"servers": servers}), nil
}

func (h *handler) get(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	id, err := r.Params.RequiredUUID("serverId")
	if err != nil {
		return nil, err
	}
	var s Server
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		s, _, err = serverAccess(ctx, tx, r, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"server": s}), nil
}

func (h *handler) create(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	in, err := parseInput(r.Params)
	if err != nil {
		return nil, err
	}
	switch {
	case in.tenantID == nil:
		return nil, bad("tenantId is required.")
	case in.name == nil:
		return nil, bad("name is required.")
	case in.host == nil:
		return nil, bad("host is required.")
	case in.creds == nil:
		return nil, bad("Credentials are required: tokenId and tokenSecret, or username and password.")
	}
	port, verify, fp := 8006, true, ""
	if in.port != nil {
		port = *in.port
	}
	if in.verifyTLS != nil {
		verify = *in.verifyTLS
	}
	if in.fingerprint != nil {
		fp = *in.fingerprint
	}
	// Admission (address guard, probing limits) comes before anything is
	// dialled: the same-cluster check below reads the new server's status.
	var forbidden error
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		a, err := access.Load(ctx, tx, r.Caller.UserID, *in.tenantID)
		if err != nil {
			return err
		}
		if err := a.Require(access.ManageServers); err != nil {
			return err
		}
		if forbidden, err = h.admitProbe(ctx, tx, r, *in.tenantID, *in.host, port); err != nil || forbidden != nil {
			return err // a forbidden address commits the counted hit and stores nothing
		}
		forbidden, err = h.admitEndpoints(ctx, tx, r, *in.tenantID, in.endpoints, nil)
		return err
	})
	if err == nil {
		err = forbidden
	}
	if err != nil {
		return nil, err
	}
	if err := h.refuseSameCluster(ctx, r, in, port, verify, fp); err != nil {
		return nil, err
	}
	var s Server
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		a, err := access.Load(ctx, tx, r.Caller.UserID, *in.tenantID)
		if err != nil {
			return err
		}
		if err := a.Require(access.ManageServers); err != nil {
			return err
		}
		var id string
		eps, ca := createCluster(in)
		if err := tx.QueryRow(ctx, `insert into public.proxmox_servers
			(tenant_id, user_id, name, host, port, verify_ssl, tls_fingerprint, endpoints, ca_pem)
			values ($1, $2, $3, $4, $5, $6, nullif($7, ''), $8::jsonb, nullif($9, '')) returning id::text`,
			*in.tenantID, r.Caller.UserID, *in.name, *in.host, port, verify, fp, eps, ca).Scan(&id); err != nil {
			return err
		}
		if err := h.storeCredentials(ctx, tx, id, *in.creds); err != nil {
			return err
		}
		s, err = fetchServer(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	r.Log.Info("server created", "server", s.ID, "tenant", s.TenantID)
	return httpapi.Created(map[string]any{"server": s}), nil
}

func (h *handler) storeCredentials(ctx context.Context, tx pgx.Tx, serverID string, c secrets.Credentials) error {
	keyID, sealed, err := h.d.Keyring.SealCredentials(serverID, c)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `select private.set_server_credentials($1, $2, $3, $4)`, serverID, c.AuthType(), keyID, sealed)
	return err
}

func (h *handler) update(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	id, err := r.Params.RequiredUUID("serverId")
	if err != nil {
		return nil, err
	}
	in, err := parseInput(r.Params)
	if err != nil {
		return nil, err
	}
	var s Server
	var forbidden error
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		cur, a, err := serverAccess(ctx, tx, r, id)
		if err != nil {
			return err
		}
		if err := a.Require(access.ManageServers); err != nil {
			return err
		}
		if in.tenantID != nil && *in.tenantID != cur.TenantID {
			to, err := access.Load(ctx, tx, r.Caller.UserID, *in.tenantID)
			if err != nil {
				return err
			}
			if err := to.Require(access.ManageServers); err != nil {
				return err
			}
		}
		// The stored secret must not follow the server to another address
		// its editor chose without knowing it.
		moved := (in.host != nil && *in.host != cur.Host) || (in.port != nil && *in.port != cur.Port)
		if moved && in.creds == nil && cur.HasCredentials {
			return bad("Changing the host or port requires entering the credentials again.")
		}
		if moved {
			host, port := cur.Host, cur.Port
			if in.host != nil {
				host = *in.host
			}
			if in.port != nil {
				port = *in.port
			}
			if forbidden, err = h.admitProbe(ctx, tx, r, cur.TenantID, host, port); err != nil || forbidden != nil {
				return err // a forbidden address commits the counted hit and changes nothing
			}
		}
		if needsCredentialsAgain(cur, in.endpoints, in.caPEM) && in.creds == nil && cur.HasCredentials {
			return bad("Changing the cluster CA, or adding endpoints trusted by their own fingerprint, requires entering the credentials again.")
		}
		if forbidden, err = h.admitEndpoints(ctx, tx, r, cur.TenantID, in.endpoints, cur.endpoints()); err != nil || forbidden != nil {
			return err
		}
		set, args := []string{}, []any{id}
		add := func(col string, v any) {
			args = append(args, v)
			set = append(set, col+" = $"+strconv.Itoa(len(args)))
		}
		if in.tenantID != nil {
			add("tenant_id", *in.tenantID)
		}
		if in.name != nil {
			add("name", *in.name)
		}
		if in.host != nil {
			add("host", *in.host)
		}
		if in.port != nil {
			add("port", *in.port)
		}
		if in.verifyTLS != nil {
			add("verify_ssl", *in.verifyTLS)
		}
		if in.fingerprint != nil {
			args = append(args, *in.fingerprint)
			set = append(set, "tls_fingerprint = nullif($"+strconv.Itoa(len(args))+", '')")
		}
		if in.isActive != nil {
			add("is_active", *in.isActive)
		}
		if in.endpoints != nil {
			args = append(args, endpointsJSON(*in.endpoints))
			set = append(set, "endpoints = $"+strconv.Itoa(len(args))+"::jsonb")
		}
		if in.caPEM != nil {
			args = append(args, *in.caPEM)
			set = append(set, "ca_pem = nullif($"+strconv.Itoa(len(args))+", '')")
		}
		if len(set) == 0 && in.creds == nil {
			return bad("Nothing to update: give at least one field to change.")
		}
		if len(set) > 0 {
			tag, err := tx.Exec(ctx, `update public.proxmox_servers set `+strings.Join(set, ", ")+` where id = $1`, args...)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return apperr.New(apperr.Forbidden, "You do not have permission to change this server.")
			}
		}
		if in.creds != nil {
			if err := h.storeCredentials(ctx, tx, id, *in.creds); err != nil {
				return err
			}
		}
		s, err = fetchServer(ctx, tx, id)
		return err
	})
	if err == nil {
		err = forbidden
	}
	if err != nil {
		return nil, err
	}
	if in.host != nil || in.port != nil || in.endpoints != nil || in.caPEM != nil || in.creds != nil {
		// Shown, not refused: the row exists already.
		if same := h.sameClusterOfRow(ctx, r, s.TenantID, id); len(same) > 0 {
			return httpapi.OK(map[string]any{"server": s, "sameCluster": same}), nil
		}
	}
	return httpapi.OK(map[string]any{"server": s}), nil
}

func (h *handler) delete(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	id, err := r.Params.RequiredUUID("serverId")
	if err != nil {
		return nil, err
	}
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		_, a, err := serverAccess(ctx, tx, r, id)
		if err != nil {
			return err
		}
		if err := a.Require(access.DeleteServers); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `delete from public.proxmox_servers where id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return apperr.New(apperr.Forbidden, "You do not have permission to delete this server.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"deleted": true}), nil
}

// TestResult answers `test`. A failed connection is an answer, not an error:
// ok is false, status says how it failed, and tlsFingerprint shows the
// certificate the server presented so the user can pin it.
type TestResult struct {
	OK             bool           `json:"ok"`
	Version        string         `json:"version,omitempty"`
	Nodes          int            `json:"nodes"`
	LatencyMs      int64          `json:"latencyMs"`
	TLSFingerprint string         `json:"tlsFingerprint,omitempty"`
	Status         proxmox.Status `json:"status"`
	Error          string         `json:"error,omitempty"`
	// What the credentials may do (GET /access/permissions), and a sentence
	// when they cannot see guests, storage or node figures, or power guests.
	Privileges  *proxmox.Privileges `json:"privileges,omitempty"`
	Warning     string              `json:"warning,omitempty"`
	TestCluster                     // issue 14 (cluster.go)
}

func (h *handler) test(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	serverID, byID, err := r.Params.OptionalUUID("serverId")
	if err != nil {
		return nil, err
	}
	var target proxmox.Target
	var eps []proxmox.Endpoint
	var tenantID string
	var problem string
	var problemStatus proxmox.Status
	if byID {
		err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
			s, a, err := serverAccess(ctx, tx, r, serverID)
			if err != nil {
				return err
			}
			if err := a.Require(access.ManageServers); err != nil {
				return err
			}
			if err := h.d.Limits.SavedTest(ctx, tx); err != nil {
				return err
			}
			loaded, err := targets.Load(ctx, tx, h.d.Keyring, targets.Filter{TenantID: s.TenantID, ServerID: s.ID})
			if err != nil {
				return err
			}
			if len(loaded) != 1 {
				return errServerNotFound
			}
			target, problem, problemStatus = loaded[0].Target, loaded[0].Problem, loaded[0].ProblemStatus
			eps, tenantID = loaded[0].Endpoints, s.TenantID
			return nil
		})
	} else {
		target, eps, tenantID, err = h.adHocCluster(ctx, r)
		if err == nil && !target.VerifyTLS && target.Fingerprint == "" && target.ClusterCA == "" {
			problem, problemStatus = targets.UnverifiedTLS, proxmox.StatusTLSError
		}
	}
	if err != nil {
		return nil, err
	}

	res := h.probeVia(ctx, serverID, target, eps, problem, problemStatus)
	h.describeCluster(ctx, r, &res, tenantID, serverID, target, eps)
	if byID {
		// Remember the outcome on the row (the legacy columns the app shows).
		status := string(res.Status)
		_ = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `update public.proxmox_servers
				set connection_status = $2, last_connected_at = case when $3 then now() else last_connected_at end
				where id = $1`, serverID, status, res.OK)
			return err
		})
	} else {
		tenantID, _, _ := r.Params.OptionalUUID("tenantId") // validated by adHocTarget
		h.recordAdHocTest(ctx, r, tenantID, target, string(res.Status))
	}
	return httpapi.OK(res), nil
}

// adHocTarget builds a target from create fields, for testing before saving.
func (h *handler) adHocTarget(ctx context.Context, r *httpapi.Request) (proxmox.Target, error) {
	in, err := parseInput(r.Params)
	if err != nil {
		return proxmox.Target{}, err
	}
	switch {
	case in.tenantID == nil:
		return proxmox.Target{}, bad("Give serverId, or tenantId with the server's fields, to test a connection.")
	case in.host == nil:
		return proxmox.Target{}, bad("host is required.")
	case in.creds == nil:
		return proxmox.Target{}, bad("Credentials are required: tokenId and tokenSecret, or username and password.")
	}
	r.SetTenant(*in.tenantID)
	port := 8006
	if in.port != nil {
		port = *in.port
	}
	var forbidden error
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		a, err := access.Load(ctx, tx, r.Caller.UserID, *in.tenantID)
		if err != nil {
			return err
		}
		if err := a.Require(access.ManageServers); err != nil {
			return err
		}
		forbidden, err = h.admitProbe(ctx, tx, r, *in.tenantID, *in.host, port)
		return err
	})
	if err != nil {
		return proxmox.Target{}, err
	}
	if forbidden != nil {
		h.recordAdHocTest(ctx, r, *in.tenantID, proxmox.Target{Host: *in.host, Port: port, TokenID: in.creds.TokenID}, "forbidden_address")
		return proxmox.Target{}, forbidden
	}
	t := proxmox.Target{Host: *in.host, Port: 8006, VerifyTLS: true,
		TokenID: in.creds.TokenID, TokenSecret: in.creds.TokenSecret,
		Username: in.creds.Username, Password: in.creds.Password}
	if in.port != nil {
		t.Port = *in.port
	}
	if in.verifyTLS != nil {
		t.VerifyTLS = *in.verifyTLS
	}
	if in.fingerprint != nil {
		t.Fingerprint = *in.fingerprint
	}
	return t, nil
}

func (h *handler) probe(ctx context.Context, t proxmox.Target, problem string, problemStatus proxmox.Status) TestResult {
	start := time.Now()
	if problem != "" {
		res := TestResult{Status: problemStatus, Error: problem}
		if problemStatus == proxmox.StatusTLSError {
			// No credentials are sent: only the handshake, to show the certificate.
			res.TLSFingerprint, _ = proxmox.PeekFingerprint(ctx, t.Host, t.Port, h.d.Proxmox)
		}
		res.LatencyMs = time.Since(start).Milliseconds()
		return res
	}
	c, err := proxmox.NewClient(t, h.d.Proxmox)
	if err != nil {
		return TestResult{Status: proxmox.StatusError, Error: proxmox.Describe(err)}
	}
	p, err := c.Probe(ctx)
	if err != nil {
		res := TestResult{Status: proxmox.Classify(err), Error: proxmox.Describe(err),
			LatencyMs: time.Since(start).Milliseconds(), TLSFingerprint: c.LastFingerprint()}
		if res.Status == proxmox.StatusTLSError && res.TLSFingerprint == "" {
			res.TLSFingerprint, _ = proxmox.PeekFingerprint(ctx, t.Host, t.Port, h.d.Proxmox)
		}
		return res
	}
	res := TestResult{OK: true, Status: proxmox.StatusOnline, Version: p.Version.Version, Nodes: p.Nodes,
		LatencyMs: p.LatencyMS, TLSFingerprint: p.Fingerprint}
	// A privilege-separated token without ACL connects fine and sees
	// nothing (issue 13): say so here, where the user can fix it.
	if priv, err := c.Permissions(ctx); err == nil {
		res.Privileges, res.Warning = &priv, priv.Sentence()
	}
	return res
}
