package store

import (
	"errors"
	"strconv"

	"github.com/pvetenant/backend/shared/apperr"
)

// The store's refusals, each coined once: the database's own constraint
// failures are mapped to these where they happen (db.SQLState,
// db.IsLastAdmin), never re-worded afterwards.
var (
	errSlugTaken         = apperr.New(apperr.Conflict, "Another tenant already uses that slug. Choose another one.").WithCode("slug_taken")
	errCannotRename      = apperr.New(apperr.Forbidden, "Only an admin of this tenant can rename it or change its details.")
	errCreateNeedsSysAdm = apperr.New(apperr.Forbidden, "Only a system admin can create a tenant.")
	errDeleteNeedsSysAdm = apperr.New(apperr.Forbidden, "Only a system admin can delete a tenant.")
	errNoSuchAdmin       = apperr.New(apperr.NotFound, "No user has the id given as adminUserId.").WithCode("user_not_found")

	errMemberNotFound = apperr.New(apperr.NotFound, "That person is not a member of this tenant.").WithCode("member_not_found")
	errAlreadyMember  = apperr.New(apperr.Conflict, "That person is already a member of this tenant. Change their role instead.").WithCode("already_member")
	errUserNotFound   = apperr.New(apperr.NotFound, "No user has that id.").WithCode("user_not_found")

	// The last-admin refusal (private.keep_last_admin) in words fitting what
	// the person tried to do; the code stays last_admin.
	errLastAdminRole   = lastAdmin("This is the tenant's last admin. Make someone else an admin before changing this role.")
	errLastAdminRemove = lastAdmin("This is the tenant's last admin. Make someone else an admin before removing them.")
	errLastAdminLeave  = lastAdmin("You are this tenant's last admin. Make someone else an admin before you leave.")
)

// ErrNoAccount is AddMember finding no account for an email address. It is
// no answer of its own: the caller may invite the address and add it again.
var ErrNoAccount = errors.New("no account with that email")

func lastAdmin(msg string) *apperr.Error {
	return apperr.New(apperr.Conflict, msg).WithCode("last_admin")
}

// errHasServers refuses to delete a tenant that still has n servers (0: an
// unknown number, when the foreign key caught one added meanwhile).
func errHasServers(n int) error {
	what := "servers"
	if n == 1 {
		what = "server"
	}
	msg := "This tenant still has servers. Delete them or move them to another tenant first."
	if n > 0 {
		msg = "This tenant still has " + strconv.Itoa(n) + " " + what + ". Delete them or move them to another tenant first."
	}
	return apperr.New(apperr.Conflict, msg).WithCode("tenant_has_servers")
}

// because is e with the database's error as its cause, for the log.
func because(e *apperr.Error, cause error) error {
	c := *e
	c.Err = cause
	return &c
}
