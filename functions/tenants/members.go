package tenants

import (
	"context"
	"errors"

	"github.com/pvetenant/backend/functions/tenants/store"
	"github.com/pvetenant/backend/shared/httpapi"
)

func (h *handler) listUsers(ctx context.Context, r *httpapi.Request, q httpapi.TenantRef) (UsersAnswer, error) {
	users, err := h.store.Members(ctx, r.DB(), q.TenantID)
	return UsersAnswer{Users: users}, err
}

// assignUser adds a member by id or by email. An address no account has is
// invited through Supabase Auth when that is configured (else 404), then
// added as the account the invitation made.
func (h *handler) assignUser(ctx context.Context, r *httpapi.Request, q AssignUserRequest) (AssignedAnswer, error) {
	m := store.NewMember{UserID: q.UserID, Email: q.Email, Role: q.Role}
	a, err := h.store.AddMember(ctx, r.DB(), q.TenantID, m)
	invited := false
	if errors.Is(err, store.ErrNoAccount) {
		if h.inviter == nil {
			return AssignedAnswer{}, errNoAccount
		}
		// Nothing was written: the transaction that found no account rolled
		// back, so the invitation is sent without holding a connection.
		id, ierr := h.inviter.Invite(ctx, q.Email)
		switch {
		case ierr == nil:
			invited, m.Invited = true, id
			r.Log.Info("user invited", "invited_user", id)
		case emailExists(ierr):
			// Auth knows the address (an account made since we looked, or one
			// our lookup cannot see): resolve it again and assign, no invitation.
			r.Log.Info("invitation not needed: Supabase Auth already has this address")
		default:
			r.Log.Warn("invitation failed", "error", ierr.Error())
			return AssignedAnswer{}, inviteError(ierr)
		}
		a, err = h.store.AddMember(ctx, r.DB(), q.TenantID, m)
		if errors.Is(err, store.ErrNoAccount) {
			// Auth says it exists, yet no active account in this project has it.
			return AssignedAnswer{}, inviteError(ierr)
		}
	}
	if err != nil {
		return AssignedAnswer{}, err
	}
	r.Log.Info("member added", "member", a.UserID, "role", a.Role)
	return AssignedAnswer{Assignment: a, Invited: invited}, nil
}

func (h *handler) updateUserRole(ctx context.Context, r *httpapi.Request, q UpdateUserRoleRequest) (AssignmentAnswer, error) {
	a, err := h.store.SetRole(ctx, r.DB(), q.TenantID, q.UserID, q.Role)
	return AssignmentAnswer{Assignment: a}, err
}

func (h *handler) removeUser(ctx context.Context, r *httpapi.Request, q UserRef) (RemovedAnswer, error) {
	if err := h.store.RemoveMember(ctx, r.DB(), q.TenantID, q.UserID); err != nil {
		return RemovedAnswer{}, err
	}
	r.Log.Info("member removed", "member", q.UserID)
	return RemovedAnswer{Removed: true}, nil
}

func (h *handler) lookupUsers(ctx context.Context, r *httpapi.Request, q LookupUsersRequest) (ProfilesAnswer, error) {
	users, err := h.store.LookupUsers(ctx, r.DB(), q.TenantID, q.Query)
	return ProfilesAnswer{Users: users}, err
}
