// Package db runs every query as the calling user, the way PostgREST does: one
// transaction per request with `role authenticated` and `request.jwt.claims`
// set transaction-locally, so the RLS policies in sql/migrations decide what
// the caller may read and write.
package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/shared/apperr"
)

// Open returns a small pool suited to Lambda, usable through a transaction
// pooler (Supabase's on 6543, pgbouncer in transaction mode): statements are
// sent unnamed (QueryExecModeExec), so no prepared statement outlives its
// transaction on a server connection another client may get next.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	cfg.ConnConfig.StatementCacheCapacity = 0
	cfg.ConnConfig.DescriptionCacheCapacity = 0
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "pvetenant-functions"
	}
	// One Lambda instance serves one request at a time; a few connections
	// cover the concurrent reads of one request, and idle ones are let go
	// before the pooler or the database reaps them.
	if cfg.MaxConns > 8 || cfg.MaxConns == 0 {
		cfg.MaxConns = 4
	}
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = time.Minute
	cfg.MaxConnLifetime = 30 * time.Minute
	cfg.HealthCheckPeriod = 30 * time.Second
	return pgxpool.NewWithConfig(ctx, cfg)
}

// Caller is who the transaction acts as.
type Caller struct {
	UserID string
	Claims json.RawMessage // the verified JWT payload, exactly as received
}

// AsUser runs fn in one transaction as the caller: `role authenticated` and
// the claims are set with set_config(..., true), so they end with the
// transaction and never leak to the next user of a pooled connection. fn's
// error rolls everything back; database failures come back as apperr errors.
func AsUser(ctx context.Context, pool *pgxpool.Pool, c Caller, fn func(pgx.Tx) error) error {
	claims := c.claims()
	attempt := func() (began bool, err error) {
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, setCallerSQL, claims, c.UserID); err != nil {
				return err
			}
			began = true
			return fn(tx)
		})
		return began, err
	}
	began, err := attempt()
	// Nothing of fn was sent yet (begin or set_config met a dead connection,
	// as the first request after a crash or failover does): once more on a
	// fresh connection. After fn started, its effects outside the database
	// (a Proxmox call) may have happened, so it is never repeated.
	if err != nil && !began && retryable(ctx, err) {
		pool.Reset()
		_, err = attempt()
	}
	return Translate(err)
}

const setCallerSQL = `select set_config('role', 'authenticated', true),
	        set_config('request.jwt.claims', $1, true),
	        set_config('request.jwt.claim.sub', $2, true)`

func (c Caller) claims() string {
	if len(c.Claims) > 0 {
		return string(c.Claims)
	}
	b, _ := json.Marshal(map[string]string{"sub": c.UserID, "role": "authenticated"})
	return string(b)
}

// Translate turns database failures into apperr errors with a sentence a
// person can act on. Errors that already are apperr errors pass through.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.Wrap(apperr.NotFound, err, "Not found.")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case isLastAdmin(pe):
			e := apperr.Wrap(apperr.Conflict, err, pe.Message)
			e.Code = "last_admin"
			return e
		case pe.Code == "PT404": // private.require_tenant_view and friends
			e := apperr.Wrap(apperr.NotFound, err, pe.Message)
			if pe.Hint != "" {
				e.Code = pe.Hint
			}
			return e
		case pe.Code == "PT409":
			return apperr.Wrap(apperr.Conflict, err, pe.Message)
		case pe.Code == "42501": // insufficient_privilege, RLS WITH CHECK violations included
			return apperr.Wrap(apperr.Forbidden, err, "You do not have permission to do that.")
		case pe.Code == UniqueViolation:
			return apperr.Wrap(apperr.Conflict, err, "That already exists.")
		case pe.Code == ForeignKeyViolation:
			return apperr.Wrap(apperr.Conflict, err, "That is still referenced by other records.")
		case pe.Code == "23514", pe.Code == "23502", pe.Code == "22P02", pe.Code == "22001", pe.Code == "22023":
			return apperr.Wrap(apperr.Invalid, err, "The request contains an invalid value.")
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300",
			len(pe.Code) == 5 && pe.Code[:2] == "08":
			return apperr.Wrap(apperr.Unavailable, err, "The database is unavailable. Try again shortly.")
		}
		return apperr.Wrap(apperr.Internal, err, "database error")
	}
	if isConnectionError(err) {
		return apperr.Wrap(apperr.Unavailable, err, "The database is unavailable. Try again shortly.")
	}
	return err
}

// ClaimsJSON is the caller's claims as set_config receives them.
func (c Caller) ClaimsJSON() string { return c.claims() }

func isConnectionError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &oe) || errors.As(err, &ne) {
		return true
	}
	// A connection the server closed under us (crash, failover, a pooler
	// dropping it) reads as EOF or a closed conn rather than a net.Error.
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var le interface{ SafeToRetry() bool }
	if errors.As(err, &le) {
		return true // pgconn's lock errors: "conn closed"
	}
	return pgconn.SafeToRetry(err) || errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// List runs a query in tx and scans every row with scan. It never returns a
// nil slice on success, so an empty list answers [] in JSON, not null.
func List[T any](ctx context.Context, tx pgx.Tx, scan pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, scan)
	if err == nil && out == nil {
		out = []T{}
	}
	return out, err
}
