package store

import (
	"context"

	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/targets"
)

// CountProbe counts a probe of a new address for the caller and tenantID
// (the probing limits, issue 18).
func (t *Tx) CountProbe(ctx context.Context, tenantID string) error {
	return t.store.limits.Probe(ctx, t.tx, tenantID)
}

// CountSavedTest counts a `test` of a saved server for the caller.
func (t *Tx) CountSavedTest(ctx context.Context) error {
	return t.store.limits.SavedTest(ctx, t.tx)
}

// Target is s ready to be dialled, its credentials opened.
func (t *Tx) Target(ctx context.Context, s Server) (targets.Server, error) {
	loaded, err := targets.Load(ctx, t.tx, t.store.keyring, targets.Filter{TenantID: s.TenantID, ServerID: s.ID})
	if err != nil {
		return targets.Server{}, err
	}
	if len(loaded) != 1 {
		return targets.Server{}, ErrServerNotFound
	}
	return loaded[0], nil
}

// Targets is the tenant's servers the caller can see (just serverID when
// given), ready to be dialled, in one round trip (targets.LoadAsCaller, as
// list-vms reads them); the caller's access was checked before.
func (s *Store) Targets(ctx context.Context, c db.Caller, tenantID, serverID string) ([]targets.Server, error) {
	return targets.LoadAsCaller(ctx, s.pool, c, s.keyring, targets.Filter{TenantID: tenantID, ServerID: serverID})
}

// RecordTest remembers a test's outcome on the row (the legacy columns the
// app shows); ok also moves last_connected_at. One statement, one round trip.
func (s *Store) RecordTest(ctx context.Context, c db.Caller, id, status string, ok bool) error {
	return db.WriteAsUser(ctx, s.pool, c, nil, `update public.proxmox_servers
		set connection_status = $2, last_connected_at = case when $3 then now() else last_connected_at end
		where id = $1`, id, status, ok)
}

// RecordAdHocTest writes a test of an unsaved server into the tenant's
// audit trail (0008's private.record_connection_test): who, which host and
// port, how it authenticated, the outcome class. Never a credential.
func (s *Store) RecordAdHocTest(ctx context.Context, c db.Caller, tenantID, host string, port int, authType, outcome string) error {
	return db.WriteAsUser(ctx, s.pool, c, nil, `select private.record_connection_test($1::uuid, $2::text, $3::integer, $4::text, $5::text)`,
		tenantID, host, port, authType, outcome)
}
