package db

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATEs a store may answer in its own words (a slug taken, a user id
// that does not exist) instead of Translate's general sentence. Named once
// here so the codes are not spelled again in every function.
const (
	UniqueViolation     = "23505" // a unique index already holds the value
	ForeignKeyViolation = "23503" // a referenced row is missing, or a row is still referenced
)

// SQLState is the SQLSTATE of a database error, "" for anything else
// (nil included).
func SQLState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// IsLastAdmin reports whether err is private.keep_last_admin (0002)
// refusing to leave a tenant without an admin: SQLSTATE PT409 with the hint
// last_admin, which Translate answers 409 last_admin.
func IsLastAdmin(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && isLastAdmin(pe)
}

func isLastAdmin(pe *pgconn.PgError) bool { return pe.Code == "PT409" && pe.Hint == "last_admin" }
