package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
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
	return one(ctx, tx, scanAssignment, errMemberNotFound, assignmentQuery+` where a.tenant_id = $1 and a.user_id = $2`, tenantID, userID)
}

// changeMember runs a statement on one membership: none is not found, and
// the database's last-admin refusal (private.keep_last_admin) answers in
// lastAdmin's words.
func changeMember(ctx context.Context, tx pgx.Tx, lastAdmin *apperr.Error, sql string, args ...any) error {
	tag, err := tx.Exec(ctx, sql, args...)
	if db.IsLastAdmin(err) {
		return because(lastAdmin, err)
	}
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return errMemberNotFound
	}
	return nil
}

// Members lists a tenant's members in the order they joined.
func (s *Store) Members(ctx context.Context, c db.Caller, tenantID string) (users []Assignment, err error) {
	err = access.In(ctx, s.pool, c, tenantID, access.View, func(tx pgx.Tx, _ access.Access) error {
		users, err = db.List(ctx, tx, scanAssignment, assignmentQuery+` where a.tenant_id = $1 order by a.created_at, a.id`, tenantID)
		return err
	})
	return users, err
}

// NewMember is who AddMember adds: an account by UserID, or else the one
// with the address Email. Invited is the account an invitation just made,
// taken when the address still resolves to no account.
type NewMember struct {
	UserID, Email, Invited, Role string
}

// AddMember adds a member as the caller (RLS: tenant admins and system
// admins only) and reads the membership back with the profile. An address
// no account has is ErrNoAccount, with nothing written.
func (s *Store) AddMember(ctx context.Context, c db.Caller, tenantID string, m NewMember) (a Assignment, err error) {
	err = access.In(ctx, s.pool, c, tenantID, access.ManageMembers, func(tx pgx.Tx, _ access.Access) error {
		userID := m.UserID
		if userID == "" {
			// 0006: profiles first, then auth.users (a user whose profile is
			// missing gets it here), case-insensitively, never a deleted or
			// anonymous user.
			var found *string
			if err := tx.QueryRow(ctx, `select private.resolve_user_by_email($1::uuid, $2::text)::text`, tenantID, m.Email).Scan(&found); err != nil {
				return err
			}
			switch {
			case found != nil:
				userID = *found
			case m.Invited != "":
				userID = m.Invited
			default:
				return ErrNoAccount
			}
		}
		var exists bool
		if err := tx.QueryRow(ctx, `select exists (select 1 from public.user_tenant_assignments where tenant_id = $1 and user_id = $2)`,
			tenantID, userID).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return errAlreadyMember
		}
		_, err := tx.Exec(ctx, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, $3)`, userID, tenantID, m.Role)
		switch db.SQLState(err) {
		case "":
		case db.ForeignKeyViolation:
			return errUserNotFound
		case db.UniqueViolation: // added by someone else meanwhile
			return errAlreadyMember
		default:
			return err
		}
		a, err = fetchAssignment(ctx, tx, tenantID, userID)
		return err
	})
	return a, err
}

// SetRole changes a member's role (tenant admins and system admins only).
func (s *Store) SetRole(ctx context.Context, c db.Caller, tenantID, userID, role string) (a Assignment, err error) {
	err = access.In(ctx, s.pool, c, tenantID, access.ManageMembers, func(tx pgx.Tx, _ access.Access) error {
		if err := changeMember(ctx, tx, errLastAdminRole, `update public.user_tenant_assignments set role = $3 where tenant_id = $1 and user_id = $2`,
			tenantID, userID, role); err != nil {
			return err
		}
		a, err = fetchAssignment(ctx, tx, tenantID, userID)
		return err
	})
	return a, err
}

// RemoveMember ends a membership. Any member may leave; removing someone
// else takes a tenant admin or a system admin.
func (s *Store) RemoveMember(ctx context.Context, c db.Caller, tenantID, userID string) error {
	leaving := userID == c.UserID
	var need access.Requirement = access.ManageMembers
	lastAdmin := errLastAdminRemove
	if leaving {
		need, lastAdmin = access.View, errLastAdminLeave
	}
	return access.In(ctx, s.pool, c, tenantID, need, func(tx pgx.Tx, _ access.Access) error {
		return changeMember(ctx, tx, lastAdmin, `delete from public.user_tenant_assignments where tenant_id = $1 and user_id = $2`, tenantID, userID)
	})
}

// LookupUsers finds people to add by email (private.lookup_users, which
// looks past the caller's RLS and checks the caller itself).
func (s *Store) LookupUsers(ctx context.Context, c db.Caller, tenantID, query string) (users []Profile, err error) {
	err = access.In(ctx, s.pool, c, tenantID, access.ManageMembers, func(tx pgx.Tx, _ access.Access) error {
		users, err = db.List(ctx, tx, pgx.RowToStructByPos[Profile], `select id::text, email, full_name, username, avatar_url
			from private.lookup_users($1::uuid, $2::text)`, tenantID, query)
		return err
	})
	return users, err
}
