package db

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// retryable reports whether err says the connection, not the statement,
// failed: dead on arrival (nothing sent), closed by the server (EOF, reset),
// or told by the server that it is shutting down or starting (57P01..03,
// class 08) before it ran anything. A request still within its deadline may
// then try once more on a fresh connection.
func retryable(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code[:2] == "08"
	}
	return isConnectionError(err)
}

// Read runs a statement that changes nothing (or only transaction-local
// settings), retrying it once on a fresh connection when the connection
// failed: re-running a read is harmless even if the first try reached the
// server. fn gets a fresh start on each try.
func Read(ctx context.Context, pool *pgxpool.Pool, fn func(ctx context.Context) error) error {
	err := fn(ctx)
	if err != nil && retryable(ctx, err) {
		pool.Reset()
		err = fn(ctx)
	}
	return Translate(err)
}

// ReadAsUser runs one read-only query as the caller in one round trip: the
// caller's role and claims are set by a first statement pipelined with the
// query before a single Sync, so both run in the same implicit transaction
// and the settings end with it (safe behind a transaction pooler, like
// AsUser), and RLS applies to the query as it would in AsUser. That is two
// statements, where AsUser's begin/set/query/commit is four round trips.
// scan reads the rows; it runs again if the read is retried.
func ReadAsUser(ctx context.Context, pool *pgxpool.Pool, c Caller, scan func(pgx.Rows) error, sql string, args ...any) error {
	claims := c.claims()
	return Read(ctx, pool, func(ctx context.Context) error {
		return sendAsUser(ctx, pool, claims, c.UserID, scan, sql, args...)
	})
}

// ListAsUser is ReadAsUser for a list: every row scanned with scan, never
// a nil slice on success (an empty list answers [] in JSON, as List's).
func ListAsUser[T any](ctx context.Context, pool *pgxpool.Pool, c Caller, scan pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	var out []T
	err := ReadAsUser(ctx, pool, c, func(rows pgx.Rows) (err error) {
		out, err = pgx.CollectRows(rows, scan)
		return err
	}, sql, args...)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// WriteAsUser is ReadAsUser for one statement that changes data (an audit
// record, a limiter hit): one round trip instead of AsUser's four, the
// statement and the caller's settings committed together at the Sync. It is
// tried again only when nothing reached the server, as AsUser does: a write
// that may have run is never repeated.
func WriteAsUser(ctx context.Context, pool *pgxpool.Pool, c Caller, scan func(pgx.Rows) error, sql string, args ...any) error {
	claims := c.claims()
	err := sendAsUser(ctx, pool, claims, c.UserID, scan, sql, args...)
	if err != nil && ctx.Err() == nil && pgconn.SafeToRetry(err) {
		pool.Reset()
		err = sendAsUser(ctx, pool, claims, c.UserID, scan, sql, args...)
	}
	return Translate(err)
}

// sendAsUser pipelines the caller's settings and sql before a single Sync,
// so both run in one implicit transaction and the settings end with it
// (safe behind a transaction pooler), and RLS applies to sql as in AsUser.
func sendAsUser(ctx context.Context, pool *pgxpool.Pool, claims, userID string, scan func(pgx.Rows) error, sql string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(setCallerSQL, claims, userID)
	b.Queue(sql, args...)
	br := pool.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return err
	}
	if scan != nil {
		err = scan(rows)
	}
	rows.Close()
	if err == nil {
		err = rows.Err()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// AsCaller runs each QueryRow as the caller with ReadAsUser (two statements,
// one round trip), for code written against a transaction's QueryRow (such
// as access.Load) that needs nothing else from the transaction.
type AsCaller struct {
	Pool   *pgxpool.Pool
	Caller Caller
}

// QueryRow runs sql when the row is scanned.
func (q AsCaller) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return rowFunc(func(dest ...any) error { return ReadAsUser(ctx, q.Pool, q.Caller, scanOne(dest), sql, args...) })
}

// WritesAsCaller is AsCaller for one statement that changes data, with
// WriteAsUser.
type WritesAsCaller struct {
	Pool   *pgxpool.Pool
	Caller Caller
}

// QueryRow runs sql when the row is scanned.
func (q WritesAsCaller) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return rowFunc(func(dest ...any) error { return WriteAsUser(ctx, q.Pool, q.Caller, scanOne(dest), sql, args...) })
}

// scanOne scans the first row into dest; no row is pgx.ErrNoRows.
func scanOne(dest []any) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return pgx.ErrNoRows
		}
		return rows.Scan(dest...)
	}
}

type rowFunc func(dest ...any) error

func (f rowFunc) Scan(dest ...any) error { return f(dest...) }
