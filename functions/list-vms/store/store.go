// Package store is list-vms' database side: the servers a caller may list
// or control, with their credentials opened, the power-action limiter and
// the audit record of a power action. Every statement runs as the caller,
// so RLS decides what exists for them.
package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/ratelimit"
	"github.com/pvetenant/backend/shared/secrets"
	"github.com/pvetenant/backend/shared/targets"
)

// Store reads and writes as the caller.
type Store struct {
	pool    *pgxpool.Pool
	keyring *secrets.Keyring // opens the servers' sealed credentials
	limits  ratelimit.Limits
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool, keyring *secrets.Keyring, limits ratelimit.Limits) *Store {
	return &Store{pool: pool, keyring: keyring, limits: limits}
}

// Visible returns the servers of f for anyone who may view the tenant, in
// one round trip of two statements (no transaction: infra/fleet counts
// them). A tenant the caller has no role in is 404 tenant_not_found.
func (s *Store) Visible(ctx context.Context, c db.Caller, f targets.Filter) ([]targets.Server, error) {
	return targets.LoadAsCaller(ctx, s.pool, c, s.keyring, f)
}

// Controllable returns the servers of f once the caller may start and stop
// guests in the tenant (403 otherwise): a transaction, since opening
// credentials may reseal them.
func (s *Store) Controllable(ctx context.Context, c db.Caller, f targets.Filter) ([]targets.Server, error) {
	var servers []targets.Server
	err := access.In(ctx, s.pool, c, f.TenantID, access.ControlGuests, func(tx pgx.Tx, _ access.Access) error {
		var err error
		servers, err = targets.Load(ctx, tx, s.keyring, f)
		return err
	})
	return servers, err
}

// CountPowerAction counts a power action against the caller's fleet-wide
// limit (429 once reached): one statement of its own, so it can stand
// before anything else of the request.
func (s *Store) CountPowerAction(ctx context.Context, c db.Caller) error {
	return s.limits.Power(ctx, s.pool, c)
}

// Outcome is a power action's result as the audit trail records it (0010).
type Outcome string

const (
	Succeeded Outcome = "succeeded" // the task finished OK while it was followed
	Running   Outcome = "running"   // still running when it stopped being followed
	Accepted  Outcome = "accepted"  // Proxmox accepted it; its task could not be read
	Failed    Outcome = "failed"    // refused at once, or the task failed
)

// GuestAction is one power action on one guest and what came of it.
type GuestAction struct {
	TenantID, ServerID, Node string
	VMID                     int
	Type                     string // qemu or lxc
	Action                   string // start, stop, shutdown or reboot
	UPID                     string // "" when Proxmox refused before any task
	Outcome                  Outcome
	ExitStatus               string // PVE's reason for a failure, redacted
}

// recordGuestAction checks that the caller may control guests on that
// server and writes the audit row (guest.<action> or guest.<action>_failed).
const recordGuestAction = `select private.record_guest_action($1::uuid, $2::uuid, $3::text, $4::integer, $5::text, $6::text, $7::text, $8::text, $9::text)`

// Record writes a into the audit trail in one statement, one round trip
// (db.WriteAsUser). An empty UPID or exit status is stored as absent.
func (s *Store) Record(ctx context.Context, c db.Caller, a GuestAction) error {
	return db.WriteAsUser(ctx, s.pool, c, nil, recordGuestAction,
		a.TenantID, a.ServerID, a.Node, a.VMID, a.Type, a.Action, orNull(a.UPID), string(a.Outcome), orNull(a.ExitStatus))
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
