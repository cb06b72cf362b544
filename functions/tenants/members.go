package tenants

import (
	"context"
	"errors"
	"net/mail"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/httpapi"
)

// Profile is the public part of a person: public.profiles.
type Profile struct {
	ID        string  `json:"id"`
	Email     *string `json:"email"`
	FullName  *string `json:"full_name"`
	Username  *string `json:"username"`
	AvatarURL *string `json:"avatar_url"`
}

// Assignment is a TenantUserAssignment: a membership with the member's
// profile (null only for a legacy user who never got one).
type Assignment struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	TenantID  string    `json:"tenant_id"`
	Role      string    `json:"role" jsonschema:"enum=admin,enum=manager,enum=viewer"`
	CreatedAt time.Time `json:"created_at"`
	Profile   *Profile  `json:"profile"`
}

const assignmentQuery = `select a.id::text, a.user_id::text, a.tenant_id::text, a.role::text, a.created_at,
	p.id::text, p.email, p.full_name, p.username, p.avatar_url
	from public.user_tenant_assignments a left join public.profiles p on p.id = a.user_id`

func scanAssignment(row pgx.CollectableRow) (Assignment, error) {
	var a Assignment
	var p Profile
	var pid *string
	if err := row.Scan(&a.ID, &a.UserID, &a.TenantID, &a.Role, &a.CreatedAt,
		&pid, &p.Email, &p.FullName, &p.Username, &p.AvatarURL); err != nil {
		return a, err
	}
	if pid != nil {
		p.ID = *pid
		a.Profile = &p
	}
	return a, nil
}

func fetchAssignment(ctx context.Context, tx pgx.Tx, tenantID, userID string) (Assignment, error) {
	rows, err := tx.Query(ctx, assignmentQuery+` where a.tenant_id = $1 and a.user_id = $2`, tenantID, userID)
	if err != nil {
		return Assignment{}, err
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanAssignment)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, errMemberNotFound
	}
	return a, err
}

var (
	errMemberNotFound = apperr.New(apperr.NotFound, "That person is not a member of this tenant.").WithCode("member_not_found")
	errAlreadyMember  = apperr.New(apperr.Conflict, "That person is already a member of this tenant. Change their role instead.").WithCode("already_member")
	errUserNotFound   = apperr.New(apperr.NotFound, "No user has that id.").WithCode("user_not_found")
	errNoAccount      = apperr.New(apperr.NotFound, "No account uses that email address. Ask the person to sign up first, then add them.").WithCode("user_not_found")
	// errNeedsInvite leaves the transaction so the invitation is sent
	// without holding a database connection.
	errNeedsInvite = errors.New("no account with that email")
)

var tenantRoles = []string{"admin", "manager", "viewer"}

// manage loads the caller's standing and requires the right to manage members.
func manage(ctx context.Context, tx pgx.Tx, r *httpapi.Request, tenantID string) (access.Access, error) {
	a, err := access.Load(ctx, tx, r.Caller.UserID, tenantID)
	if err != nil {
		return a, err
	}
	return a, a.Require(access.ManageMembers)
}

// lastAdmin gives the database's last-admin refusal a sentence fitting what
// the person tried to do; the code stays last_admin.
func lastAdmin(err error, msg string) error {
	var e *apperr.Error
	if errors.As(err, &e) && e.Code == "last_admin" {
		return apperr.Wrap(apperr.Conflict, e.Err, msg).WithCode("last_admin")
	}
	return err
}

func (h *handler) listUsers(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	var users []Assignment
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		if _, err := access.Load(ctx, tx, r.Caller.UserID, tenantID); err != nil {
			return err
		}
		users, err = db.List(ctx, tx, scanAssignment, assignmentQuery+` where a.tenant_id = $1 order by a.created_at, a.id`, tenantID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"users": users}), nil
}

func (h *handler) assignUser(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	p := r.Params
	tenantID, err := p.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	userID, byID, err := p.OptionalUUID("userId")
	if err != nil {
		return nil, err
	}
	email, byEmail, err := p.OptionalString("email", 254)
	if err != nil {
		return nil, err
	}
	switch {
	case byID && byEmail:
		return nil, bad("Give userId or email, not both.")
	case !byID && !byEmail:
		return nil, bad("userId or email is required.")
	case byEmail && !validEmail(email):
		return nil, bad("email must be an email address such as name@example.com.")
	}
	role, err := p.OneOf("role", "", tenantRoles...)
	if err != nil {
		return nil, err
	}

	var a Assignment
	add := func(tx pgx.Tx) error {
		if _, err := manage(ctx, tx, r, tenantID); err != nil {
			return err
		}
		if userID == "" {
			var found *string
			if err := tx.QueryRow(ctx, `select private.find_user_id_by_email($1::uuid, $2::text)::text`, tenantID, email).Scan(&found); err != nil {
				return err
			}
			if found == nil {
				return errNeedsInvite
			}
			userID = *found
		}
		var err error
		a, err = addMember(ctx, tx, tenantID, userID, role)
		return err
	}
	err = db.AsUser(ctx, h.d.Pool, r.DB(), add)
	invited := false
	if errors.Is(err, errNeedsInvite) {
		if h.inviter == nil {
			return nil, errNoAccount
		}
		if userID, err = h.inviter.Invite(ctx, email); err != nil {
			r.Log.Warn("invitation failed", "error", err.Error())
			return nil, inviteError(err)
		}
		invited = true
		r.Log.Info("user invited", "invited_user", userID)
		err = db.AsUser(ctx, h.d.Pool, r.DB(), add)
	}
	if err != nil {
		return nil, err
	}
	r.Log.Info("member added", "member", a.UserID, "role", a.Role)
	return httpapi.Created(map[string]any{"assignment": a, "invited": invited}), nil
}

func validEmail(s string) bool {
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Address == s
}

// addMember inserts the membership as the caller (RLS: tenant admins and
// system admins only) and reads it back with the profile.
func addMember(ctx context.Context, tx pgx.Tx, tenantID, userID, role string) (Assignment, error) {
	var exists bool
	if err := tx.QueryRow(ctx, `select exists (select 1 from public.user_tenant_assignments where tenant_id = $1 and user_id = $2)`,
		tenantID, userID).Scan(&exists); err != nil {
		return Assignment{}, err
	}
	if exists {
		return Assignment{}, errAlreadyMember
	}
	_, err := tx.Exec(ctx, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, $3)`, userID, tenantID, role)
	switch pgCode(err) {
	case "":
	case "23503":
		return Assignment{}, errUserNotFound
	case "23505": // added by someone else meanwhile
		return Assignment{}, errAlreadyMember
	default:
		return Assignment{}, err
	}
	return fetchAssignment(ctx, tx, tenantID, userID)
}

func (h *handler) updateUserRole(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	p := r.Params
	tenantID, err := p.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	userID, err := p.RequiredUUID("userId")
	if err != nil {
		return nil, err
	}
	role, err := p.OneOf("role", "", tenantRoles...)
	if err != nil {
		return nil, err
	}
	var a Assignment
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		if _, err := manage(ctx, tx, r, tenantID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `update public.user_tenant_assignments set role = $3 where tenant_id = $1 and user_id = $2`, tenantID, userID, role)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errMemberNotFound
		}
		a, err = fetchAssignment(ctx, tx, tenantID, userID)
		return err
	})
	if err != nil {
		return nil, lastAdmin(err, "This is the tenant's last admin. Make someone else an admin before changing this role.")
	}
	return httpapi.OK(map[string]any{"assignment": a}), nil
}

func (h *handler) removeUser(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	userID, err := r.Params.RequiredUUID("userId")
	if err != nil {
		return nil, err
	}
	leaving := userID == r.Caller.UserID
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		a, err := access.Load(ctx, tx, r.Caller.UserID, tenantID)
		if err != nil {
			return err
		}
		// Any member may leave; removing someone else takes an admin.
		if !leaving {
			if err := a.Require(access.ManageMembers); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `delete from public.user_tenant_assignments where tenant_id = $1 and user_id = $2`, tenantID, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errMemberNotFound
		}
		return nil
	})
	if err != nil {
		if leaving {
			return nil, lastAdmin(err, "You are this tenant's last admin. Make someone else an admin before you leave.")
		}
		return nil, lastAdmin(err, "This is the tenant's last admin. Make someone else an admin before removing them.")
	}
	r.Log.Info("member removed", "member", userID)
	return httpapi.OK(map[string]any{"removed": true}), nil
}

func (h *handler) lookupUsers(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	query, err := r.Params.RequiredString("query", 254)
	if err != nil {
		return nil, err
	}
	if len([]rune(query)) < 3 {
		return nil, bad("query must be at least 3 characters long.")
	}
	var users []Profile
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		if _, err := manage(ctx, tx, r, tenantID); err != nil {
			return err
		}
		users, err = db.List(ctx, tx, pgx.RowToStructByPos[Profile], `select id::text, email, full_name, username, avatar_url
			from private.lookup_users($1::uuid, $2::text)`, tenantID, query)
		return err
	})
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"users": users}), nil
}
