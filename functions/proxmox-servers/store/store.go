// Package store is the proxmox-servers registry's SQL: public.proxmox_servers
// read and written as the caller, so RLS decides what they reach, with the
// credentials sealed before they reach the database.
package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/ratelimit"
	"github.com/pvetenant/backend/shared/secrets"
)

// Store reaches the registry as the caller.
type Store struct {
	pool    *pgxpool.Pool
	keyring *secrets.Keyring // seals credentials on the way in, opens them for a test
	limits  ratelimit.Limits // probes and tests are counted in the transaction that does them
}

// New returns the registry's store.
func New(pool *pgxpool.Pool, keyring *secrets.Keyring, limits ratelimit.Limits) *Store {
	return &Store{pool: pool, keyring: keyring, limits: limits}
}

// Tx is one transaction as the caller: what an action does between its
// access check and its commit.
type Tx struct {
	tx     pgx.Tx
	caller db.Caller
	store  *Store
}

// AfterCommit, returned by a transaction's fn, commits what fn did and then
// fails with err: a refused address stays counted against the probing
// limits, as probing for the deny list is probing too.
func AfterCommit(err error) error { return committed{err} }

type committed struct{ err error }

func (c committed) Error() string { return c.err.Error() }

// body adapts fn to a transaction, setting *after for an AfterCommit
// refusal (the transaction then commits).
func (s *Store) body(c db.Caller, after *error, fn func(*Tx) error) func(pgx.Tx) error {
	return func(tx pgx.Tx) error {
		var ce committed
		if err := fn(&Tx{tx: tx, caller: c, store: s}); !errors.As(err, &ce) {
			return err
		}
		*after = ce.err
		return nil
	}
}

// Run runs fn in one transaction as c, with no access check of its own (fn
// follows one that did).
func (s *Store) Run(ctx context.Context, c db.Caller, fn func(*Tx) error) error {
	var after error
	if err := db.AsUser(ctx, s.pool, c, s.body(c, &after, fn)); err != nil {
		return err
	}
	return after
}

// InTenant runs fn in one transaction as c once c holds need in tenantID
// (access.In: 404 for a tenant c cannot see, 403 without need).
func (s *Store) InTenant(ctx context.Context, c db.Caller, tenantID string, need access.Requirement, fn func(*Tx) error) error {
	var after error
	body := s.body(c, &after, fn)
	if err := access.In(ctx, s.pool, c, tenantID, need, func(tx pgx.Tx, _ access.Access) error { return body(tx) }); err != nil {
		return err
	}
	return after
}

// InServer is InTenant for a server: fn (if any) runs once c can see the
// server and holds need in its tenant; a server RLS hides is 404
// server_not_found. The row comes back even when need is refused, so the
// caller can name its tenant in the log.
func (s *Store) InServer(ctx context.Context, c db.Caller, id string, need access.Permission, fn func(*Tx, Server) error) (Server, error) {
	var cur Server
	err := s.Run(ctx, c, func(t *Tx) (err error) {
		if cur, err = t.get(ctx, id); err != nil {
			return err
		}
		if err := t.Require(ctx, cur.TenantID, need); err != nil {
			return err
		}
		if fn == nil {
			return nil
		}
		return fn(t, cur)
	})
	return cur, err
}

// Require refuses unless the caller holds need in tenantID too (moving a
// server needs the right in both tenants).
func (t *Tx) Require(ctx context.Context, tenantID string, need access.Permission) error {
	_, err := access.LoadFor(ctx, t.tx, t.caller.UserID, tenantID, need)
	return err
}
