package store

import "github.com/pvetenant/backend/shared/apperr"

// The store's failures, each with its code. A row RLS would not let the
// caller change comes back as 403 after the access check allowed the action.
var (
	ErrServerNotFound = apperr.New(apperr.NotFound, "Server not found.").WithCode("server_not_found")
	errNotChanged     = apperr.New(apperr.Forbidden, "You do not have permission to change this server.")
	errNotDeleted     = apperr.New(apperr.Forbidden, "You do not have permission to delete this server.")
)
