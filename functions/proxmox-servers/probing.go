package proxmoxservers

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/netguard"
	"github.com/pvetenant/backend/shared/proxmox"
)

// Issue 18: an address a user types is a probe of the network the functions
// run in. It is counted against the probing limits, judged by the address
// guard before anything is stored or dialled, and (for `test`) recorded.

// errForbiddenAddress does not say which rule refused the address (built-in
// range, deny list or port list): the operator's network layout is not the
// caller's business.
var errForbiddenAddress = apperr.New(apperr.Invalid,
	"This address cannot be used for a Proxmox server. Use the address your Proxmox server is reachable at, or ask the operator of this service which networks are allowed.").
	WithCode("forbidden_address")

// admitProbe judges host:port and counts a probe of it for the caller and
// tenantID (tx runs as the caller). A refused address comes back as
// forbidden, not as err, so the caller can commit the hit: probing for the
// deny list is probing too. The name is resolved before the hit, so the
// limiter's rows are not held locked during a DNS lookup.
func (h *handler) admitProbe(ctx context.Context, tx pgx.Tx, r *httpapi.Request, tenantID, host string, port int) (forbidden, err error) {
	guard := h.d.Proxmox.Guard
	if guard == nil {
		guard = netguard.New(nil)
	}
	refusal := guard.CheckHost(ctx, host, port)
	if refusal != nil && !errors.Is(refusal, netguard.ErrForbiddenAddress) {
		return nil, refusal
	}
	if err := h.d.Limits.Probe(ctx, tx, tenantID); err != nil {
		if apperr.KindOf(err) == apperr.TooManyRequests {
			r.Log.Warn("probing limited", "tenant", tenantID, "host", host, "port", port)
		}
		return nil, err
	}
	if refusal != nil {
		// The precise reason is for the operator's log only.
		r.Log.Warn("forbidden address refused", "tenant", tenantID, "host", host, "port", port, "reason", refusal.Error())
		return errForbiddenAddress, nil
	}
	return nil, nil
}

// recordAdHocTest writes a `test` of an unsaved target into the tenant's
// audit trail (0008's private.record_connection_test) and the log: who, which
// host and port, how it authenticated, the outcome class. Never a credential.
// The test already happened, so a failure to record is logged, not answered.
func (h *handler) recordAdHocTest(ctx context.Context, r *httpapi.Request, tenantID string, t proxmox.Target, outcome string) {
	authType := "token"
	if t.TokenID == "" {
		authType = "password"
	}
	r.Log.Info("connection test of an unsaved server", "tenant", tenantID, "host", t.Host, "port", t.Port,
		"auth_type", authType, "outcome", outcome)
	if err := db.WriteAsUser(ctx, h.d.Pool, r.DB(), nil, `select private.record_connection_test($1::uuid, $2::text, $3::integer, $4::text, $5::text)`,
		tenantID, t.Host, t.Port, authType, outcome); err != nil {
		r.Log.Error("connection test not recorded in the audit trail", "tenant", tenantID, "error", err.Error())
	}
}
