package tenants_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/pvetenant/backend/infra/functest"
)

const (
	zed   = "00000000-0000-4000-8000-0000000000c1" // zed@elsewhere.test: shares no tenant with anyone
	admin = "00000000-0000-4000-8000-0000000000a2" // alan@acme.test, added as a second admin where needed
)

func addUser(t *testing.T, e *functest.Env, id, email string) {
	t.Helper()
	exec(t, e, `insert into auth.users (id, email, raw_user_meta_data) values ($1, $2::text, jsonb_build_object('full_name', $2::text))`, id, email)
}

func emails(t *testing.T, res functest.Response) []string {
	t.Helper()
	var out []string
	for _, u := range list(t, res, "users") {
		out = append(out, u["email"].(string))
	}
	return out
}

func TestListUsers(t *testing.T) {
	e := newEnv(t)
	for _, user := range []string{functest.SysAdmin, functest.AdminA, functest.ManagerA, functest.ViewerA} {
		users := list(t, functest.Expect(t, call(e, user, "list-users", obj{"tenantId": functest.TenantA}), 200), "users")
		if len(users) != 3 {
			t.Fatalf("%s sees %d members", functest.Emails[user], len(users))
		}
		got := map[string]string{}
		for _, u := range users {
			p := u["profile"].(map[string]any)
			if u["tenant_id"] != functest.TenantA || u["id"] == nil || u["created_at"] == nil || p["id"] != u["user_id"] {
				t.Fatalf("assignment: %v", u)
			}
			for _, k := range []string{"email", "full_name", "username", "avatar_url"} {
				if _, ok := p[k]; !ok {
					t.Fatalf("profile lacks %s: %v", k, p)
				}
			}
			got[p["email"].(string)] = u["role"].(string)
		}
		want := map[string]string{"alice@acme.test": "admin", "mona@acme.test": "manager", "victor@acme.test": "viewer"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("members %v", got)
		}
	}
}

func TestAssignUser(t *testing.T) {
	e := newEnv(t)
	addUser(t, e, zed, "Zed@Elsewhere.test")
	// By email, case-insensitively, even someone who shares no tenant with the admin.
	res := functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": "zed@elsewhere.TEST", "role": "manager"}), 201)
	a := field(t, res, "assignment")
	p := a["profile"].(map[string]any)
	if a["user_id"] != zed || a["tenant_id"] != functest.TenantA || a["role"] != "manager" || p["email"] != "Zed@Elsewhere.test" || res.Body["invited"] != false {
		t.Fatalf("assignment: %s", res.Raw)
	}
	// By id.
	a = field(t, functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "userId": functest.Nobody, "role": "viewer"}), 201), "assignment")
	if a["user_id"] != functest.Nobody || a["role"] != "viewer" || a["profile"].(map[string]any)["email"] != "nobody@example.com" {
		t.Fatalf("assignment: %v", a)
	}
	// The new member now sees the tenant.
	functest.Expect(t, call(e, functest.Nobody, "get", obj{"tenantId": functest.TenantA}), 200)

	cases := []struct {
		name   string
		params obj
		status int
		code   string
	}{
		{"already a member, by id", obj{"userId": functest.ViewerA, "role": "admin"}, 409, "already_member"},
		{"already a member, by email", obj{"email": "MONA@acme.test", "role": "viewer"}, 409, "already_member"},
		{"the admin themself", obj{"userId": functest.AdminA, "role": "viewer"}, 409, "already_member"},
		{"unknown email", obj{"email": "ghost@example.com", "role": "viewer"}, 404, "user_not_found"},
		{"unknown id", obj{"userId": "00000000-0000-4000-8000-00000000dead", "role": "viewer"}, 404, "user_not_found"},
		{"both id and email", obj{"userId": functest.AdminB, "email": "bob@globex.test", "role": "viewer"}, 400, "invalid_request"},
		{"neither", obj{"role": "viewer"}, 400, "invalid_request"},
		{"not an email", obj{"email": "bob", "role": "viewer"}, 400, "invalid_request"},
		{"email with a name", obj{"email": "Bob <bob@globex.test>", "role": "viewer"}, 400, "invalid_request"},
		{"no role", obj{"userId": functest.AdminB}, 400, "invalid_request"},
		{"unknown role", obj{"userId": functest.AdminB, "role": "owner"}, 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.params["tenantId"] = functest.TenantA
			res := functest.Expect(t, call(e, functest.AdminA, "assign-user", c.params), c.status)
			if res.Code() != c.code {
				t.Fatalf("code %q, want %q: %s", res.Code(), c.code, res.Raw)
			}
		})
	}
	if n := count(t, e, `select count(*) from public.user_tenant_assignments where tenant_id = $1`, functest.TenantA); n != 5 {
		t.Fatalf("%d members, want 5", n)
	}
	if res := call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "email": "ghost@example.com", "role": "viewer"}); !strings.Contains(res.Body["error"].(string), "sign up first") {
		t.Fatalf("unknown email without invitations: %s", res.Raw)
	}
}

func TestChangeRoleAndRemove(t *testing.T) {
	e := newEnv(t)
	a := field(t, functest.Expect(t, call(e, functest.AdminA, "update-user-role", obj{"tenantId": functest.TenantA, "userId": functest.ViewerA, "role": "manager"}), 200), "assignment")
	if a["role"] != "manager" || a["user_id"] != functest.ViewerA || a["profile"].(map[string]any)["email"] != "victor@acme.test" {
		t.Fatalf("assignment: %v", a)
	}
	// Managers and viewers change nobody, themselves included.
	functest.Expect(t, call(e, functest.ViewerA, "update-user-role", obj{"tenantId": functest.TenantA, "userId": functest.ViewerA, "role": "admin"}), 403)
	functest.Expect(t, call(e, functest.ManagerA, "update-user-role", obj{"tenantId": functest.TenantA, "userId": functest.ManagerA, "role": "admin"}), 403)
	functest.Expect(t, call(e, functest.ManagerA, "assign-user", obj{"tenantId": functest.TenantA, "userId": functest.Nobody, "role": "viewer"}), 403)
	if res := functest.Expect(t, call(e, functest.AdminA, "update-user-role", obj{"tenantId": functest.TenantA, "userId": functest.AdminB, "role": "viewer"}), 404); res.Code() != "member_not_found" {
		t.Fatal(res.Raw)
	}
	functest.Expect(t, call(e, functest.AdminA, "update-user-role", obj{"tenantId": functest.TenantA, "userId": functest.ViewerA, "role": "boss"}), 400)
	functest.Expect(t, call(e, functest.AdminA, "update-user-role", obj{"tenantId": functest.TenantA, "role": "viewer"}), 400)

	res := functest.Expect(t, call(e, functest.AdminA, "remove-user", obj{"tenantId": functest.TenantA, "userId": functest.ViewerA}), 200)
	if res.Body["removed"] != true {
		t.Fatal(res.Raw)
	}
	functest.Expect(t, call(e, functest.ViewerA, "get", obj{"tenantId": functest.TenantA}), 404)
	if res := functest.Expect(t, call(e, functest.AdminA, "remove-user", obj{"tenantId": functest.TenantA, "userId": functest.ViewerA}), 404); res.Code() != "member_not_found" {
		t.Fatal(res.Raw)
	}
	// A manager leaves on their own.
	functest.Expect(t, call(e, functest.ManagerA, "remove-user", obj{"tenantId": functest.TenantA, "userId": functest.ManagerA}), 200)
	functest.Expect(t, call(e, functest.ManagerA, "list-users", obj{"tenantId": functest.TenantA}), 404)
}

func TestLastAdmin(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, user, action string
		params             obj
		says               string
	}{
		{"demotes themself", functest.AdminA, "update-user-role", obj{"userId": functest.AdminA, "role": "viewer"}, "before changing this role"},
		{"system admin demotes", functest.SysAdmin, "update-user-role", obj{"userId": functest.AdminA, "role": "manager"}, "before changing this role"},
		{"system admin removes", functest.SysAdmin, "remove-user", obj{"userId": functest.AdminA}, "before removing them"},
		{"leaves", functest.AdminA, "remove-user", obj{"userId": functest.AdminA}, "You are this tenant's last admin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.params["tenantId"] = functest.TenantA
			res := functest.Expect(t, call(e, c.user, c.action, c.params), 409)
			if res.Code() != "last_admin" || !strings.Contains(res.Body["error"].(string), c.says) {
				t.Fatalf("%s", res.Raw)
			}
		})
	}
	if n := count(t, e, `select count(*) from public.user_tenant_assignments where tenant_id = $1 and role = 'admin'`, functest.TenantA); n != 1 {
		t.Fatalf("%d admins left", n)
	}
	// With a second admin, the first may step down, then leave; the second is then the last.
	addUser(t, e, admin, "alan@acme.test")
	functest.Expect(t, call(e, functest.AdminA, "assign-user", obj{"tenantId": functest.TenantA, "userId": admin, "role": "admin"}), 201)
	functest.Expect(t, call(e, functest.AdminA, "update-user-role", obj{"tenantId": functest.TenantA, "userId": functest.AdminA, "role": "viewer"}), 200)
	functest.Expect(t, call(e, functest.AdminA, "remove-user", obj{"tenantId": functest.TenantA, "userId": functest.AdminA}), 200)
	res := functest.Expect(t, call(e, admin, "remove-user", obj{"tenantId": functest.TenantA, "userId": admin}), 409)
	if res.Code() != "last_admin" {
		t.Fatal(res.Raw)
	}
}

func TestLookupUsers(t *testing.T) {
	e := newEnv(t)
	addUser(t, e, zed, "zed@elsewhere.test")
	// Alice joins Globex as a viewer: she then shares a tenant with bob, but
	// never with nobody or zed.
	exec(t, e, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, 'viewer')`, functest.AdminA, functest.TenantB)
	look := func(user, q string) []string {
		t.Helper()
		return emails(t, functest.Expect(t, call(e, user, "lookup-users", obj{"tenantId": functest.TenantA, "query": q}), 200))
	}
	cases := []struct {
		name, user, query string
		want              []string
	}{
		{"co-member by prefix", functest.AdminA, "mon", []string{"mona@acme.test"}},
		{"co-member of another tenant by prefix", functest.AdminA, "BOB", []string{"bob@globex.test"}},
		{"stranger never by prefix", functest.AdminA, "nob", nil},
		{"stranger never by a longer prefix", functest.AdminA, "nobody@example.co", nil},
		{"stranger by exact email", functest.AdminA, "nobody@example.com", []string{"nobody@example.com"}},
		{"stranger by exact email, any case", functest.AdminA, " ZED@Elsewhere.Test ", []string{"zed@elsewhere.test"}},
		{"LIKE wildcards are text", functest.AdminA, "%%%", nil},
		{"underscores are text", functest.AdminA, "___", nil},
		{"a wildcard in the middle", functest.AdminA, "m_na", nil},
		{"system admin finds anyone by prefix", functest.SysAdmin, "nob", []string{"nobody@example.com"}},
		{"system admin: wildcards are text", functest.SysAdmin, "%@%", nil},
		{"system admin: underscores are text", functest.SysAdmin, "___", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := look(c.user, c.query); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("%q finds %v, want %v", c.query, got, c.want)
			}
		})
	}
	// Profiles have exactly the contract's fields.
	u := list(t, functest.Expect(t, call(e, functest.AdminA, "lookup-users", obj{"tenantId": functest.TenantA, "query": "zed@elsewhere.test"}), 200), "users")[0]
	var keys []string
	for k := range u {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "avatar_url,email,full_name,id,username" || u["id"] != zed {
		t.Fatalf("profile: %v", u)
	}

	t.Run("3 characters at least", func(t *testing.T) {
		for _, q := range []string{"", "ab", "  ab  ", "é"} {
			functest.Expect(t, call(e, functest.AdminA, "lookup-users", obj{"tenantId": functest.TenantA, "query": q}), 400)
		}
		functest.Expect(t, call(e, functest.AdminA, "lookup-users", obj{"tenantId": functest.TenantA}), 400)
		functest.Expect(t, call(e, functest.AdminA, "lookup-users", obj{"query": "mon"}), 400)
	})

	t.Run("at most 10", func(t *testing.T) {
		for i := 0; i < 14; i++ {
			id := fmt.Sprintf("00000000-0000-4000-8000-0000000001%02d", i)
			addUser(t, e, id, fmt.Sprintf("team%02d@acme.test", i))
			exec(t, e, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, 'viewer')`, id, functest.TenantA)
		}
		addUser(t, e, "00000000-0000-4000-8000-0000000001ff", "team99@elsewhere.test") // a stranger
		got := look(functest.AdminA, "team")
		if len(got) != 10 || got[0] != "team00@acme.test" || got[9] != "team09@acme.test" {
			t.Fatalf("%v", got)
		}
		if got := look(functest.SysAdmin, "TEAM"); len(got) != 10 {
			t.Fatalf("system admin: %v", got)
		}
		if got := look(functest.AdminA, "team9"); len(got) != 0 {
			t.Fatalf("a stranger found by prefix: %v", got)
		}
		if got := look(functest.SysAdmin, "team9"); fmt.Sprint(got) != "[team99@elsewhere.test]" {
			t.Fatalf("system admin by prefix: %v", got)
		}
		if got := look(functest.AdminA, "team99@elsewhere.test"); fmt.Sprint(got) != "[team99@elsewhere.test]" {
			t.Fatalf("exact: %v", got)
		}
	})
}
