package tenants_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pvetenant/backend/infra/functest"
)

// People as Supabase Auth really manages them (issue 15). Auth writes
// auth.users as supabase_auth_admin, so every change to a user here is made
// as that role; the functions connect as postgres (no superuser).

// asAuth runs sql as supabase_auth_admin, the role Supabase Auth (GoTrue)
// logs in as, and returns the database's error.
func asAuth(t *testing.T, e *functest.Env, sql string, args ...any) error {
	t.Helper()
	ctx := context.Background()
	return pgx.BeginFunc(ctx, e.DB.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `set local role supabase_auth_admin`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
}

// softDelete does what Auth's DELETE /admin/users/{id} with
// should_soft_delete does (supabase/auth internal/models/user.go
// SoftDeleteUser): one UPDATE scrambles the email (sha256 of id + email,
// base64url) and sets deleted_at, then the metadata is emptied; all in one
// transaction, which a failing trigger rolls back whole.
func softDelete(t *testing.T, e *functest.Env, id string) error {
	t.Helper()
	ctx := context.Background()
	return pgx.BeginFunc(ctx, e.DB.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `set local role supabase_auth_admin`); err != nil {
			return err
		}
		var email string
		if err := tx.QueryRow(ctx, `select coalesce(email, '') from auth.users where id = $1`, id).Scan(&email); err != nil {
			return err
		}
		h := sha256.Sum256([]byte(id + email))
		if _, err := tx.Exec(ctx, `update auth.users set email = $2, encrypted_password = null, deleted_at = now() where id = $1`,
			id, base64.RawURLEncoding.EncodeToString(h[:])); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `update auth.users set raw_user_meta_data = '{}', raw_app_meta_data = '{}' where id = $1`, id)
		return err
	})
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// writes is what a failed invitation must leave untouched.
func writes(t *testing.T, e *functest.Env) [4]int {
	t.Helper()
	return [4]int{
		count(t, e, `select count(*) from public.user_tenant_assignments`),
		count(t, e, `select count(*) from public.audit_log`),
		count(t, e, `select count(*) from public.profiles`),
		count(t, e, `select count(*) from auth.users`),
	}
}

func TestInviteAuthAnswers(t *testing.T) {
	key := serviceKey(t)
	assign := func(e *functest.Env, email string) functest.Response {
		return call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": email, "role": "viewer"})
	}
	const rateLimited = `{"code":429,"error_code":"over_email_send_rate_limit","msg":"email rate limit exceeded"}`
	for _, c := range []struct {
		name       string
		status     int
		body       string
		retryAfter string
		status2    int    // what the app gets
		code       string // its code
		says       string // in its sentence
	}{
		{"429 with Retry-After", 429, rateLimited, "120", 429, "invite_rate_limited", "SMTP"},
		{"429 without Retry-After", 429, rateLimited, "", 429, "invite_rate_limited", "Wait"},
		{"422 email_exists, no account in this project", 422, "", "", 400, "invite_refused", "already been registered"},
		{"400 invalid address", 400, `{"code":400,"error_code":"email_address_invalid","msg":"Email address \"new@example.org\" is invalid"}`, "", 400, "invite_refused", `is invalid`},
		{"403 key refused", 403, `{"code":403,"error_code":"no_authorization","msg":"This endpoint requires a valid Bearer token"}`, "", 502, "invite_not_authorized", "SUPABASE_SERVICE_ROLE_KEY"},
		{"500", 500, `{"code":500,"msg":"Database error saving new user"}`, "", 502, "invite_failed", "unavailable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, auth := inviteEnv(t, key, nil)
			auth.refuse(c.status, c.body, c.retryAfter, false)
			before := writes(t, e)
			res := functest.Expect(t, assign(e, "new@example.org"), c.status2)
			if res.Code() != c.code || !strings.Contains(res.Body["error"].(string), c.says) || strings.Contains(res.Raw, key) {
				t.Fatalf("answer: %s", res.Raw)
			}
			if got := res.Header.Get("Retry-After"); got != c.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, c.retryAfter)
			}
			if c.code != "invite_refused" && strings.Contains(res.Raw, "Database error") {
				t.Fatalf("Auth's internal words reached the caller: %s", res.Raw)
			}
			if after := writes(t, e); after != before {
				t.Fatalf("a failed invitation wrote: %v -> %v", before, after)
			}
			if n := len(auth.requests()); n != 1 {
				t.Fatalf("%d requests to Auth", n)
			}
		})
	}

	t.Run("Auth down", func(t *testing.T) {
		e, auth := inviteEnv(t, key, nil)
		auth.Close()
		before := writes(t, e)
		res := functest.Expect(t, assign(e, "new@example.org"), 502)
		if res.Code() != "invite_failed" {
			t.Fatal(res.Raw)
		}
		if after := writes(t, e); after != before {
			t.Fatalf("a failed invitation wrote: %v -> %v", before, after)
		}
	})

	// Real Auth answers email_exists only for an address it has a confirmed
	// account for (internal/api/invite.go): here someone signs up between our
	// lookup and the invitation. The person is assigned, not invited.
	t.Run("422 email_exists: resolved and assigned", func(t *testing.T) {
		e, auth := inviteEnv(t, key, nil)
		auth.refuse(422, "", "", true)
		res := functest.Expect(t, assign(e, "Late.Comer@example.org"), 201)
		var id string
		if err := e.DB.Pool.QueryRow(context.Background(), `select id::text from auth.users where email = 'late.comer@example.org'`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		a := field(t, res, "assignment")
		p, _ := a["profile"].(map[string]any)
		if res.Body["invited"] != false || a["user_id"] != id || p == nil || p["email"] != "late.comer@example.org" {
			t.Fatalf("answer: %s", res.Raw)
		}
		if len(auth.requests()) != 1 {
			t.Fatalf("%d requests to Auth", len(auth.requests()))
		}
	})
}

func TestEmailChangeIsFollowed(t *testing.T) {
	e, auth := inviteEnv(t, serviceKey(t), nil)
	// Nobody (nobody@example.com, no tenant) changes address and name in Auth.
	if err := asAuth(t, e, `update auth.users set email = 'nora.new@example.org',
		raw_user_meta_data = '{"full_name":"Nora New"}' where id = $1`, functest.Nobody); err != nil {
		t.Fatal(err)
	}
	if n := count(t, e, `select count(*) from public.profiles where id = $1 and email = 'nora.new@example.org' and full_name = 'Nora New'`, functest.Nobody); n != 1 {
		t.Fatal("profile did not follow the email and name change")
	}
	// Found by the new address, whatever its case; no longer by the old one.
	users := list(t, functest.Expect(t, call(e, functest.AdminA, "lookup-users", obj{"tenantId": functest.TenantA, "query": "NORA.New@example.org"}), 200), "users")
	if len(users) != 1 || users[0]["id"] != functest.Nobody || users[0]["email"] != "nora.new@example.org" {
		t.Fatalf("lookup by the new address: %v", users)
	}
	if users := list(t, functest.Expect(t, call(e, functest.AdminA, "lookup-users", obj{"tenantId": functest.TenantA, "query": "nobody@example.com"}), 200), "users"); len(users) != 0 {
		t.Fatalf("found by the old address: %v", users)
	}
	res := functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": "Nora.New@Example.org", "role": "viewer"}), 201)
	if res.Body["invited"] != false || field(t, res, "assignment")["user_id"] != functest.Nobody || len(auth.requests()) != 0 {
		t.Fatalf("assign by the new address: %s (%d Auth requests)", res.Raw, len(auth.requests()))
	}

	// A metadata field follows only when Auth's value for it changes: the
	// name the person set in the app survives a new avatar.
	exec(t, e, `update public.profiles set full_name = 'Nora (app)' where id = $1`, functest.Nobody)
	if err := asAuth(t, e, `update auth.users set raw_user_meta_data = '{"full_name":"Nora New","avatar_url":"https://img.example/n.png"}' where id = $1`, functest.Nobody); err != nil {
		t.Fatal(err)
	}
	if n := count(t, e, `select count(*) from public.profiles where id = $1 and full_name = 'Nora (app)' and avatar_url = 'https://img.example/n.png'`, functest.Nobody); n != 1 {
		t.Fatal("metadata change overwrote an unrelated field or was not followed")
	}
}

func TestPreExistingUserAssignedByEmail(t *testing.T) {
	e, auth := inviteEnv(t, serviceKey(t), nil)
	const legacy = "10000000-0000-4000-8000-00000000abcd"
	// A user created when no trigger made profiles (replica mode skips
	// triggers, as the database before 0001 did).
	ctx := context.Background()
	if err := pgx.BeginFunc(ctx, e.DB.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `set local session_replication_role = replica`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `insert into auth.users (id, email, email_confirmed_at, raw_user_meta_data)
			values ($1, 'early.bird@example.org', now(), '{"full_name":"Early Bird"}')`, legacy)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, e, `select count(*) from public.profiles where id = $1`, legacy); n != 0 {
		t.Fatal("fixture: the user already has a profile")
	}
	res := functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": "EARLY.bird@example.org", "role": "manager"}), 201)
	a := field(t, res, "assignment")
	p, _ := a["profile"].(map[string]any)
	if res.Body["invited"] != false || a["user_id"] != legacy || p == nil || p["email"] != "early.bird@example.org" || p["full_name"] != "Early Bird" {
		t.Fatalf("answer: %s", res.Raw)
	}
	if len(auth.requests()) != 0 {
		t.Fatal("Supabase Auth was asked to invite an existing user")
	}
}

func TestSoftAndHardDelete(t *testing.T) {
	e := newEnv(t)
	viewerToken := functest.Token(t, functest.ViewerA)
	asViewer := func() functest.Response {
		req, _ := http.NewRequest(http.MethodPost, "/functions/v1/"+fn, strings.NewReader(`{"action":"list-users","tenantId":"`+functest.TenantA+`"}`))
		req.Header.Set("Authorization", "Bearer "+viewerToken)
		req.Header.Set("Content-Type", "application/json")
		return e.Do(req)
	}
	functest.Expect(t, asViewer(), 200)

	// An ordinary member: membership, profile and system roles go; the trail
	// records the removal; the token they still hold is refused.
	if err := softDelete(t, e, functest.ViewerA); err != nil {
		t.Fatalf("soft delete of a viewer: %v", err)
	}
	if n := count(t, e, `select count(*) from public.user_tenant_assignments where user_id = $1`, functest.ViewerA) +
		count(t, e, `select count(*) from public.profiles where id = $1`, functest.ViewerA); n != 0 {
		t.Fatalf("%d memberships/profiles left after a soft delete", n)
	}
	if n := count(t, e, `select count(*) from public.audit_log where action = 'member.removed' and target_id = $1`, functest.ViewerA); n != 1 {
		t.Fatalf("%d audit rows for the removal", n)
	}
	for _, u := range list(t, functest.Expect(t, call(e, functest.AdminA, "list-users", obj{"tenantId": functest.TenantA}), 200), "users") {
		if u["user_id"] == functest.ViewerA {
			t.Fatal("a soft-deleted user is still listed as a member")
		}
	}
	if res := functest.Expect(t, asViewer(), 401); res.Code() != "user_deleted" {
		t.Fatal(res.Raw)
	}
	// Never found again by the address it had.
	if res := functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": "victor@acme.test", "role": "viewer"}), 404); res.Code() != "user_not_found" {
		t.Fatal(res.Raw)
	}

	// A tenant's last admin: the soft delete is refused like the hard one,
	// and nothing changes.
	err := softDelete(t, e, functest.AdminB)
	if sqlState(err) != "PT409" || !strings.Contains(err.Error(), "make someone else admin first") {
		t.Fatalf("soft delete of a last admin: %v", err)
	}
	if n := count(t, e, `select count(*) from auth.users u join public.profiles p on p.id = u.id
		join public.user_tenant_assignments a on a.user_id = u.id
		where u.id = $1 and u.deleted_at is null and p.email = 'bob@globex.test' and a.role = 'admin'`, functest.AdminB); n != 1 {
		t.Fatal("a refused soft delete changed the user")
	}
	functest.Expect(t, call(e, functest.AdminB, "list-users", obj{"tenantId": functest.TenantB}), 200)

	// Hard delete, as Auth does it: the same rule, and the token is refused.
	if err := asAuth(t, e, `delete from auth.users where id = $1`, functest.AdminB); sqlState(err) != "PT409" {
		t.Fatalf("hard delete of a last admin: %v", err)
	}
	if err := asAuth(t, e, `delete from auth.users where id = $1`, functest.ManagerA); err != nil {
		t.Fatal(err)
	}
	if n := count(t, e, `select count(*) from public.profiles where id = $1`, functest.ManagerA); n != 0 {
		t.Fatal("profile outlived its user")
	}
	if res := functest.Expect(t, call(e, functest.ManagerA, "list-users", obj{"tenantId": functest.TenantA}), 401); res.Code() != "user_deleted" {
		t.Fatal(res.Raw)
	}
	// Other functions check the same way (shared/access).
	if res := functest.Expect(t, call(e, functest.ManagerA, "list-audit", obj{"tenantId": functest.TenantA}), 401); res.Code() != "user_deleted" {
		t.Fatal(res.Raw)
	}
}

func TestAnonymousSignInsAreRefused(t *testing.T) {
	e := newEnv(t)
	const anonID = "10000000-0000-4000-8000-00000000a0a0"
	// An anonymous sign-in: a real auth.users row, is_anonymous, no email;
	// even made a member by id, it may do nothing.
	exec(t, e, `insert into auth.users (id, is_anonymous) values ($1, true)`, anonID)
	exec(t, e, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, 'admin')`, anonID, functest.TenantA)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": anonID, "role": "authenticated", "aud": "authenticated", "is_anonymous": true, "email": "",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "session_id": "s-anon",
	}).SignedString([]byte(functest.JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"action":"list"}`,
		`{"action":"my-permissions","tenantId":"` + functest.TenantA + `"}`,
		`{"action":"list-users","tenantId":"` + functest.TenantA + `"}`,
		`{"action":"update","tenantId":"` + functest.TenantA + `","name":"Mine now"}`,
	} {
		req, _ := http.NewRequest(http.MethodPost, "/functions/v1/"+fn, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		if res := functest.Expect(t, e.Do(req), 403); res.Code() != "anonymous_user" {
			t.Fatalf("%s: %s", body, res.Raw)
		}
	}
	if n := count(t, e, `select count(*) from public.tenants where name = 'Mine now'`); n != 0 {
		t.Fatal("an anonymous session changed a tenant")
	}
}
