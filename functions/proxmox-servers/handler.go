// Package proxmoxservers is the `proxmox-servers` function: the tenant-scoped
// registry of Proxmox VE servers. Rows come back shaped like the table, with
// has_credentials instead of any secret; credentials are sealed before they
// reach the database and never leave it unsealed except towards Proxmox.
package proxmoxservers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/pvetenant/backend/functions/proxmox-servers/store"
	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/setup"
	"github.com/pvetenant/backend/shared/targets"
)

// Name is the function's name in URLs.
const Name = "proxmox-servers"

// Needs lists the settings the function cannot start without.
var Needs = setup.Needs{Database: true, Credentials: true}

type handler struct {
	store   *store.Store
	proxmox proxmox.Options // dialling a server: timeouts, TLS, the address guard
	runner  fanout.Runner   // the tenant's saved servers, with reused clients
}

// New returns the function's HTTP handler.
func New(d *setup.Deps) http.Handler {
	h := &handler{
		store:   store.New(d.Pool, d.Keyring, d.Limits),
		proxmox: d.Proxmox,
		runner:  fanout.Runner{Proxmox: d.Proxmox, Clients: d.Clients},
	}
	return d.Server.Handler(h.function())
}

// inServer is the store's InServer, with the server's tenant named in the
// request's log line.
func (h *handler) inServer(ctx context.Context, r *httpapi.Request, id string, need access.Permission, fn func(*store.Tx, store.Server) error) (store.Server, error) {
	s, err := h.store.InServer(ctx, r.DB(), id, need, fn)
	if s.TenantID != "" {
		r.SetTenant(s.TenantID)
	}
	return s, err
}

func (h *handler) list(ctx context.Context, r *httpapi.Request, q httpapi.TenantRef) (ServersAnswer, error) {
	servers, err := h.store.List(ctx, r.DB(), q.TenantID)
	return ServersAnswer{Servers: servers}, err
}

func (h *handler) get(ctx context.Context, r *httpapi.Request, q ServerRef) (ServerAnswer, error) {
	s, err := h.inServer(ctx, r, q.ServerID, access.View, nil)
	return ServerAnswer{Server: s}, err
}

func (h *handler) create(ctx context.Context, r *httpapi.Request, q CreateServerRequest) (ServerAnswer, error) {
	// Admission (address guard, probing limits) comes before anything is
	// dialled: the same-cluster check below reads the new server's status.
	// A refused address commits the counted hit and stores nothing.
	err := h.store.InTenant(ctx, r.DB(), q.TenantID, access.ManageServers, func(t *store.Tx) error {
		if err := h.admitProbe(ctx, t, r, q.TenantID, q.Host, q.Port); err != nil {
			return err
		}
		return h.admitEndpoints(ctx, t, r, q.TenantID, q.endpoints(), nil)
	})
	if err != nil {
		return ServerAnswer{}, err
	}
	if err := h.refuseSameCluster(ctx, r, q); err != nil {
		return ServerAnswer{}, err
	}
	var s store.Server
	err = h.store.InTenant(ctx, r.DB(), q.TenantID, access.ManageServers, func(t *store.Tx) (err error) {
		s, err = t.Create(ctx, q.newServer())
		return err
	})
	if err != nil {
		return ServerAnswer{}, err
	}
	r.Log.Info("server created", "server", s.ID, "tenant", s.TenantID)
	return ServerAnswer{Server: s}, nil
}

func (h *handler) update(ctx context.Context, r *httpapi.Request, q UpdateServerRequest) (ServerAnswer, error) {
	change := q.changes()
	var s store.Server
	_, err := h.inServer(ctx, r, q.ServerID, access.ManageServers, func(t *store.Tx, cur store.Server) (err error) {
		if q.moveTo != "" && q.moveTo != cur.TenantID {
			if err := t.Require(ctx, q.moveTo, access.ManageServers); err != nil {
				return err
			}
		}
		host, port := cur.Host, cur.Port
		if q.Host != "" {
			host = q.Host
		}
		if q.Port != 0 {
			port = q.Port
		}
		moved := host != cur.Host || port != cur.Port
		if moved && change.Credentials == nil && cur.HasCredentials {
			return errMovedWithoutCredentials
		}
		if moved {
			if err := h.admitProbe(ctx, t, r, cur.TenantID, host, port); err != nil {
				return err // a refused address commits the counted hit and changes nothing
			}
		}
		if needsCredentialsAgain(cur, q.ServerFields) && change.Credentials == nil && cur.HasCredentials {
			return errClusterWithoutCredentials
		}
		if err := h.admitEndpoints(ctx, t, r, cur.TenantID, q.endpoints(), cur.ClusterEndpoints()); err != nil {
			return err
		}
		// Checked here, not in Parse, as it always was: who may not edit this
		// server (or cannot see it) learns that first, not that the edit
		// was empty.
		if change == (store.Changes{}) {
			return errNothingToUpdate
		}
		s, err = t.Update(ctx, q.ServerID, change)
		return err
	})
	if err != nil {
		return ServerAnswer{}, err
	}
	ans := ServerAnswer{Server: s}
	if change.Host != nil || change.Port != nil || change.Endpoints != nil || change.CAPEM != nil || change.Credentials != nil {
		// Shown, not refused: the row exists already. Failures only mean
		// nothing is shown.
		ans.SameCluster = h.sameClusterOfRow(ctx, r, s.TenantID, q.ServerID)
	}
	return ans, nil
}

func (h *handler) delete(ctx context.Context, r *httpapi.Request, q ServerRef) (httpapi.DeletedAnswer, error) {
	_, err := h.inServer(ctx, r, q.ServerID, access.DeleteServers, func(t *store.Tx, _ store.Server) error {
		return t.Delete(ctx, q.ServerID)
	})
	return httpapi.DeletedAnswer{Deleted: err == nil}, err
}

// test probes a saved server, or settings before they are saved.
func (h *handler) test(ctx context.Context, r *httpapi.Request, q TestServerRequest) (TestResult, error) {
	if q.ServerID != "" {
		return h.testSaved(ctx, r, q.ServerID)
	}
	return h.testUnsaved(ctx, r, q)
}

func (h *handler) testSaved(ctx context.Context, r *httpapi.Request, id string) (TestResult, error) {
	var saved targets.Server
	_, err := h.inServer(ctx, r, id, access.ManageServers, func(t *store.Tx, cur store.Server) (err error) {
		if err := t.CountSavedTest(ctx); err != nil {
			return err
		}
		saved, err = t.Target(ctx, cur)
		return err
	})
	if err != nil {
		return TestResult{}, err
	}
	res := h.probeVia(ctx, id, saved.Target, saved.Endpoints, saved.Problem, saved.ProblemStatus)
	h.describeCluster(ctx, r, &res, saved.TenantID, id, saved.Target, saved.Endpoints)
	// The outcome goes on the row (the legacy columns the app shows); the
	// test itself happened, so failing to note it changes no answer.
	_ = h.store.RecordTest(ctx, r.DB(), id, string(res.Status), res.OK)
	return res, nil
}

func (h *handler) testUnsaved(ctx context.Context, r *httpapi.Request, q TestServerRequest) (TestResult, error) {
	t, eps := q.target(), q.endpoints()
	err := h.store.InTenant(ctx, r.DB(), q.TenantID, access.ManageServers, func(tx *store.Tx) error {
		return h.admitProbe(ctx, tx, r, q.TenantID, q.Host, q.Port)
	})
	if errors.Is(err, errForbiddenAddress) {
		h.recordAdHocTest(ctx, r, q.TenantID, t, "forbidden_address")
	}
	if err == nil && q.given.endpoints {
		// The same admission as the primary got, in a transaction of its own.
		err = h.store.Run(ctx, r.DB(), func(tx *store.Tx) error {
			return h.admitEndpoints(ctx, tx, r, q.TenantID, eps, nil)
		})
	}
	if err != nil {
		return TestResult{}, err
	}
	var problem string
	var problemStatus proxmox.Status
	if !t.VerifyTLS && t.Fingerprint == "" && t.ClusterCA == "" {
		problem, problemStatus = targets.UnverifiedTLS, proxmox.StatusTLSError
	}
	res := h.probeVia(ctx, "", t, eps, problem, problemStatus)
	h.describeCluster(ctx, r, &res, q.TenantID, "", t, eps)
	h.recordAdHocTest(ctx, r, q.TenantID, t, string(res.Status))
	return res, nil
}

func (h *handler) probe(ctx context.Context, t proxmox.Target, problem string, problemStatus proxmox.Status) TestResult {
	start := time.Now()
	if problem != "" {
		res := TestResult{Status: problemStatus, Error: problem}
		if problemStatus == proxmox.StatusTLSError {
			// No credentials are sent: only the handshake, to show the certificate.
			res.TLSFingerprint, _ = proxmox.PeekFingerprint(ctx, t.Host, t.Port, h.proxmox)
		}
		res.LatencyMs = time.Since(start).Milliseconds()
		return res
	}
	c, err := proxmox.NewClient(t, h.proxmox)
	if err != nil {
		return TestResult{Status: proxmox.StatusError, Error: proxmox.Describe(err)}
	}
	p, err := c.Probe(ctx)
	if err != nil {
		res := TestResult{Status: proxmox.Classify(err), Error: proxmox.Describe(err),
			LatencyMs: time.Since(start).Milliseconds(), TLSFingerprint: c.LastFingerprint()}
		if res.Status == proxmox.StatusTLSError && res.TLSFingerprint == "" {
			res.TLSFingerprint, _ = proxmox.PeekFingerprint(ctx, t.Host, t.Port, h.proxmox)
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
