package proxmoxservers

import (
	"context"
	"errors"

	"github.com/pvetenant/backend/functions/proxmox-servers/store"
	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/netguard"
	"github.com/pvetenant/backend/shared/proxmox"
)

// Issue 18: an address a user types is a probe of the network the functions
// run in. It is counted against the probing limits, judged by the address
// guard before anything is stored or dialled, and (for `test`) recorded.

// admitProbe judges host:port and counts a probe of it for the caller and
// tenantID, in t. A refused address fails after t commits
// (store.AfterCommit): probing for the deny list is probing too. The name
// is resolved before the hit, so the limiter's rows are not held locked
// during a DNS lookup.
func (h *handler) admitProbe(ctx context.Context, t *store.Tx, r *httpapi.Request, tenantID, host string, port int) error {
	guard := h.proxmox.Guard
	if guard == nil {
		guard = netguard.New(nil)
	}
	refusal := guard.CheckHost(ctx, host, port)
	if refusal != nil && !errors.Is(refusal, netguard.ErrForbiddenAddress) {
		return refusal
	}
	if err := t.CountProbe(ctx, tenantID); err != nil {
		if apperr.KindOf(err) == apperr.TooManyRequests {
			r.Log.Warn("probing limited", "tenant", tenantID, "host", host, "port", port)
		}
		return err
	}
	if refusal != nil {
		// The precise reason is for the operator's log only.
		r.Log.Warn("forbidden address refused", "tenant", tenantID, "host", host, "port", port, "reason", refusal.Error())
		return store.AfterCommit(errForbiddenAddress)
	}
	return nil
}

// recordAdHocTest writes a `test` of an unsaved target into the tenant's
// audit trail and the log: who, which host and port, how it authenticated,
// the outcome class. Never a credential. The test already happened, so a
// failure to record is logged, not answered.
func (h *handler) recordAdHocTest(ctx context.Context, r *httpapi.Request, tenantID string, t proxmox.Target, outcome string) {
	authType := "token"
	if t.TokenID == "" {
		authType = "password"
	}
	r.Log.Info("connection test of an unsaved server", "tenant", tenantID, "host", t.Host, "port", t.Port,
		"auth_type", authType, "outcome", outcome)
	if err := h.store.RecordAdHocTest(ctx, r.DB(), tenantID, t.Host, t.Port, authType, outcome); err != nil {
		r.Log.Error("connection test not recorded in the audit trail", "tenant", tenantID, "error", err.Error())
	}
}
