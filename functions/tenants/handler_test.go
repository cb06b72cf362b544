package tenants_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pvetenant/backend/functions/tenants"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

type obj = functest.Obj

const (
	fn      = tenants.Name
	missing = "cccccccc-0000-4000-8000-0000000000ee" // a tenant that does not exist
)

func newEnv(t *testing.T) *functest.Env {
	t.Helper()
	return functest.New(t, functest.Options{Needs: tenants.Needs}, tenants.New)
}

// call sends an action as user, with params.
func call(e *functest.Env, user, action string, params obj) functest.Response {
	e.T.Helper()
	p := obj{"action": action}
	for k, v := range params {
		p[k] = v
	}
	return e.Call(user, http.MethodPost, fn, p)
}

func list(t *testing.T, res functest.Response, key string) []map[string]any {
	t.Helper()
	raw, ok := res.Body[key].([]any)
	if !ok {
		t.Fatalf("no %s list in %s", key, res.Raw)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func field(t *testing.T, res functest.Response, key string) map[string]any {
	t.Helper()
	m, ok := res.Body[key].(map[string]any)
	if !ok {
		t.Fatalf("no %s in %s", key, res.Raw)
	}
	return m
}

func count(t *testing.T, e *functest.Env, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func exec(t *testing.T, e *functest.Env, sql string, args ...any) {
	t.Helper()
	if _, err := e.DB.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// who are the seven callers of the role table.
var who = []struct{ name, user string }{
	{"system admin", functest.SysAdmin},
	{"admin", functest.AdminA},
	{"manager", functest.ManagerA},
	{"viewer", functest.ViewerA},
	{"admin of B", functest.AdminB},
	{"stranger", functest.Nobody},
	{"no token", ""},
}

// statuses per caller, in the order of who.
type statuses [7]int

// Every action of the contract, asked of tenant A by each kind of caller.
// Changing actions get a fresh world per caller so one's success does not
// decide another's answer.
func TestWhoMayDoWhat(t *testing.T) {
	cases := []struct {
		action string
		params obj
		want   statuses
		fresh  bool
	}{
		//                                                                              sys  adm  mgr  view admB strg none
		{"list", nil, statuses{200, 200, 200, 200, 200, 200, 401}, false},
		{"get", obj{"tenantId": functest.TenantA}, statuses{200, 200, 200, 200, 404, 404, 401}, false},
		{"list-users", obj{"tenantId": functest.TenantA}, statuses{200, 200, 200, 200, 404, 404, 401}, false},
		{"my-permissions", obj{"tenantId": functest.TenantA}, statuses{200, 200, 200, 200, 200, 200, 401}, false},
		{"lookup-users", obj{"tenantId": functest.TenantA, "query": "nobody@example.com"}, statuses{200, 200, 403, 403, 404, 404, 401}, false},
		{"list-audit", obj{"tenantId": functest.TenantA}, statuses{200, 200, 403, 403, 404, 404, 401}, false},
		{"create", obj{"name": "Initech"}, statuses{201, 403, 403, 403, 403, 403, 401}, true},
		{"update", obj{"tenantId": functest.TenantA, "name": "ACME Inc"}, statuses{200, 200, 403, 403, 404, 404, 401}, true},
		{"delete", obj{"tenantId": functest.TenantA}, statuses{200, 403, 403, 403, 404, 404, 401}, true},
		{"assign-user", obj{"tenantId": functest.TenantA, "userId": functest.Nobody, "role": "viewer"}, statuses{201, 201, 403, 403, 404, 404, 401}, true},
		{"assign-user", obj{"tenantId": functest.TenantA, "email": "nobody@example.com", "role": "viewer"}, statuses{201, 201, 403, 403, 404, 404, 401}, true},
		{"update-user-role", obj{"tenantId": functest.TenantA, "userId": functest.ViewerA, "role": "manager"}, statuses{200, 200, 403, 403, 404, 404, 401}, true},
		// The viewer removing themself is leaving, which any member may.
		{"remove-user", obj{"tenantId": functest.TenantA, "userId": functest.ViewerA}, statuses{200, 200, 403, 200, 404, 404, 401}, true},
		{"remove-user", obj{"tenantId": functest.TenantA, "userId": functest.ManagerA}, statuses{200, 200, 200, 403, 404, 404, 401}, true},
	}
	shared := newEnv(t)
	for _, c := range cases {
		for i, w := range who {
			t.Run(c.action+"/"+w.name, func(t *testing.T) {
				e := shared
				if c.fresh {
					e = newEnv(t)
				}
				res := functest.Expect(t, call(e, w.user, c.action, c.params), c.want[i])
				if res.Header.Get("Access-Control-Allow-Origin") != "*" {
					t.Fatal("answer without CORS headers")
				}
				switch {
				case c.want[i] == 404 && res.Code() != "tenant_not_found":
					t.Fatalf("404 with code %q, want tenant_not_found: %s", res.Code(), res.Raw)
				case c.want[i] == 403 && res.Code() != "forbidden":
					t.Fatalf("403 with code %q: %s", res.Code(), res.Raw)
				case c.want[i] == 401 && res.Code() != "unauthorized":
					t.Fatalf("401 with code %q: %s", res.Code(), res.Raw)
				}
				// Nothing of tenant A leaks into a refusal.
				if c.want[i] >= 400 && (strings.Contains(res.Raw, "ACME") || strings.Contains(res.Raw, "alice")) {
					t.Fatalf("a refusal names tenant A's things: %s", res.Raw)
				}
			})
		}
	}
}

func TestListAndGet(t *testing.T) {
	e := newEnv(t)
	names := func(user string) map[string]any {
		out := map[string]any{}
		for _, tn := range list(t, functest.Expect(t, call(e, user, "list", nil), 200), "tenants") {
			out[tn["name"].(string)] = tn["role"]
		}
		return out
	}
	cases := map[string]map[string]any{
		functest.SysAdmin: {"ACME Corp": nil, "Globex": nil}, // no member of either: role null
		functest.AdminA:   {"ACME Corp": "admin"},
		functest.ManagerA: {"ACME Corp": "manager"},
		functest.ViewerA:  {"ACME Corp": "viewer"},
		functest.AdminB:   {"Globex": "admin"},
		functest.Nobody:   {},
	}
	for user, want := range cases {
		if got := names(user); !reflect.DeepEqual(got, want) {
			t.Errorf("%s lists %v, want %v", functest.Emails[user], got, want)
		}
	}
	// The row has the contract's fields, and only those.
	res := functest.Expect(t, e.Call(functest.ViewerA, http.MethodGet, fn, nil), 200) // GET means list
	tn := list(t, res, "tenants")[0]
	var keys []string
	for k := range tn {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "created_at,description,id,is_active,name,role,slug,updated_at" {
		t.Fatalf("tenant fields: %v", keys)
	}
	if tn["id"] != functest.TenantA || tn["is_active"] != true || tn["slug"] != nil {
		t.Fatalf("tenant: %v", tn)
	}
	got := field(t, functest.Expect(t, call(e, functest.ManagerA, "get", obj{"tenantId": functest.TenantA}), 200), "tenant")
	if got["name"] != "ACME Corp" || got["role"] != "manager" {
		t.Fatalf("get: %v", got)
	}
	got = field(t, functest.Expect(t, e.Call(functest.SysAdmin, http.MethodGet, fn+"?action=get&tenantId="+functest.TenantB, nil), 200), "tenant")
	if got["name"] != "Globex" || got["role"] != nil {
		t.Fatalf("system admin gets B: %v", got)
	}
	// Nobody learns whether a tenant exists: unknown and invisible are the same 404.
	a := functest.Expect(t, call(e, functest.AdminB, "get", obj{"tenantId": functest.TenantA}), 404)
	b := functest.Expect(t, call(e, functest.AdminB, "get", obj{"tenantId": missing}), 404)
	if a.Raw != b.Raw {
		t.Fatalf("invisible %s vs missing %s", a.Raw, b.Raw)
	}
	functest.Expect(t, call(e, functest.SysAdmin, "get", obj{"tenantId": missing}), 404)
	functest.Expect(t, call(e, functest.AdminA, "get", nil), 400)
	functest.Expect(t, call(e, functest.AdminA, "get", obj{"tenantId": "acme"}), 400)
	functest.Expect(t, call(e, functest.AdminA, "explode", nil), 400)
}

func TestCreate(t *testing.T) {
	e := newEnv(t)
	// The caller becomes the admin by default.
	res := functest.Expect(t, call(e, functest.SysAdmin, "create", obj{"name": "  Initech  "}), 201)
	tn := field(t, res, "tenant")
	if tn["name"] != "Initech" || tn["role"] != "admin" || tn["is_active"] != true {
		t.Fatalf("created: %v", tn)
	}
	users := list(t, functest.Expect(t, call(e, functest.SysAdmin, "list-users", obj{"tenantId": tn["id"]}), 200), "users")
	if len(users) != 1 || users[0]["user_id"] != functest.SysAdmin || users[0]["role"] != "admin" {
		t.Fatalf("members of the new tenant: %v", users)
	}
	// Or the named user, who then sees it as its admin; the system admin is no member.
	res = functest.Expect(t, call(e, functest.SysAdmin, "create", obj{"name": "Umbrella", "adminUserId": functest.Nobody,
		"slug": "umbrella", "description": "Research"}), 201)
	tn = field(t, res, "tenant")
	if tn["role"] != nil || tn["slug"] != "umbrella" || tn["description"] != "Research" {
		t.Fatalf("created for another admin: %v", tn)
	}
	mine := list(t, functest.Expect(t, call(e, functest.Nobody, "list", nil), 200), "tenants")
	if len(mine) != 1 || mine[0]["name"] != "Umbrella" || mine[0]["role"] != "admin" {
		t.Fatalf("the named admin lists %v", mine)
	}
	// One transaction: an unknown admin leaves no tenant behind.
	before := count(t, e, `select count(*) from public.tenants`)
	res = functest.Expect(t, call(e, functest.SysAdmin, "create", obj{"name": "Ghost", "adminUserId": "00000000-0000-4000-8000-00000000dead"}), 404)
	if res.Code() != "user_not_found" {
		t.Fatal(res.Raw)
	}
	if after := count(t, e, `select count(*) from public.tenants`); after != before {
		t.Fatalf("tenants %d -> %d after a failed create", before, after)
	}
	functest.Expect(t, call(e, functest.SysAdmin, "create", nil), 400)
	functest.Expect(t, call(e, functest.SysAdmin, "create", obj{"name": ""}), 400)
	functest.Expect(t, call(e, functest.SysAdmin, "create", obj{"name": strings.Repeat("n", 101)}), 400)
	functest.Expect(t, call(e, functest.SysAdmin, "create", obj{"name": "X", "slug": "Not A Slug"}), 400)
	functest.Expect(t, call(e, functest.SysAdmin, "create", obj{"name": "X", "adminUserId": "bob"}), 400)
	if res := functest.Expect(t, call(e, functest.SysAdmin, "create", obj{"name": "Other", "slug": "umbrella"}), 409); res.Code() != "slug_taken" {
		t.Fatal(res.Raw)
	}
	// POST without an action lists; it never creates.
	functest.Expect(t, e.Call(functest.SysAdmin, http.MethodPost, fn, obj{"name": "Accidental"}), 200)
	if n := count(t, e, `select count(*) from public.tenants where name = 'Accidental'`); n != 0 {
		t.Fatal("a POST without action created a tenant")
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	tn := field(t, functest.Expect(t, call(e, functest.AdminA, "update", obj{"tenantId": functest.TenantA, "name": "ACME Inc"}), 200), "tenant")
	if tn["name"] != "ACME Inc" || tn["role"] != "admin" {
		t.Fatalf("renamed: %v", tn)
	}
	tn = field(t, functest.Expect(t, call(e, functest.SysAdmin, "update", obj{"tenantId": functest.TenantA, "slug": "acme", "description": "Rockets"}), 200), "tenant")
	if tn["name"] != "ACME Inc" || tn["slug"] != "acme" || tn["description"] != "Rockets" {
		t.Fatalf("details: %v", tn)
	}
	tn = field(t, functest.Expect(t, call(e, functest.AdminA, "update", obj{"tenantId": functest.TenantA, "description": ""}), 200), "tenant")
	if tn["description"] != nil {
		t.Fatalf("description not cleared: %v", tn)
	}
	functest.Expect(t, call(e, functest.AdminA, "update", obj{"tenantId": functest.TenantA}), 400)
	functest.Expect(t, call(e, functest.AdminA, "update", obj{"tenantId": functest.TenantA, "name": " "}), 400)
	functest.Expect(t, call(e, functest.AdminA, "update", obj{"name": "x"}), 400)
	if res := functest.Expect(t, call(e, functest.AdminB, "update", obj{"tenantId": functest.TenantB, "slug": "acme"}), 409); res.Code() != "slug_taken" {
		t.Fatal(res.Raw)
	}
	if n := count(t, e, `select count(*) from public.tenants where id = $1 and name = 'ACME Inc'`, functest.TenantA); n != 1 {
		t.Fatal("rename not stored")
	}
}

func TestDeleteRefusesWhileServersRemain(t *testing.T) {
	e := newEnv(t)
	exec(t, e, `insert into public.proxmox_servers (tenant_id, name, host) values ($1, 'pve1', 'pve1.acme.test'), ($1, 'pve2', 'pve2.acme.test')`, functest.TenantA)
	res := functest.Expect(t, call(e, functest.SysAdmin, "delete", obj{"tenantId": functest.TenantA}), 409)
	if res.Code() != "tenant_has_servers" || !strings.Contains(res.Body["error"].(string), "still has 2 servers") {
		t.Fatal(res.Raw)
	}
	// Nothing was deleted: the tenant, its servers, its members.
	if count(t, e, `select count(*) from public.tenants where id = $1`, functest.TenantA) != 1 ||
		count(t, e, `select count(*) from public.proxmox_servers where tenant_id = $1`, functest.TenantA) != 2 ||
		count(t, e, `select count(*) from public.user_tenant_assignments where tenant_id = $1`, functest.TenantA) != 3 {
		t.Fatal("a refused delete removed something")
	}
	// Once the servers are gone it goes, members with it; B is untouched.
	exec(t, e, `delete from public.proxmox_servers where tenant_id = $1`, functest.TenantA)
	res = functest.Expect(t, call(e, functest.SysAdmin, "delete", obj{"tenantId": functest.TenantA}), 200)
	if res.Body["deleted"] != true {
		t.Fatal(res.Raw)
	}
	if count(t, e, `select count(*) from public.user_tenant_assignments where tenant_id = $1`, functest.TenantA) != 0 ||
		count(t, e, `select count(*) from public.tenants`) != 1 {
		t.Fatal("tenant or memberships left behind")
	}
	functest.Expect(t, call(e, functest.AdminA, "get", obj{"tenantId": functest.TenantA}), 404)
	functest.Expect(t, call(e, functest.SysAdmin, "delete", obj{"tenantId": functest.TenantA}), 404)
}

func TestMyPermissions(t *testing.T) {
	e := newEnv(t)
	type perms struct {
		role                                       any
		sys, view, servers, del, users, controlVMs bool
	}
	cases := []struct {
		name   string
		user   string
		tenant string
		want   perms
	}{
		{"system admin, no member", functest.SysAdmin, functest.TenantA, perms{nil, true, true, true, true, true, true}},
		{"admin", functest.AdminA, functest.TenantA, perms{"admin", false, true, true, true, true, true}},
		{"manager", functest.ManagerA, functest.TenantA, perms{"manager", false, true, true, false, false, true}},
		{"viewer", functest.ViewerA, functest.TenantA, perms{"viewer", false, true, false, false, false, false}},
		{"admin of B", functest.AdminB, functest.TenantA, perms{nil, false, false, false, false, false, false}},
		{"stranger", functest.Nobody, functest.TenantA, perms{nil, false, false, false, false, false, false}},
		{"stranger, no such tenant", functest.Nobody, missing, perms{nil, false, false, false, false, false, false}},
		{"system admin, no such tenant", functest.SysAdmin, missing, perms{nil, true, false, false, false, false, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := functest.Expect(t, call(e, c.user, "my-permissions", obj{"tenantId": c.tenant}), 200).Body
			got := perms{b["role"], b["isSystemAdmin"] == true, b["canView"] == true, b["canManageServers"] == true,
				b["canDeleteServers"] == true, b["canManageUsers"] == true, b["canControlVms"] == true}
			if got != c.want || b["tenantId"] != c.tenant || len(b) != 8 {
				t.Fatalf("got %v (%v), want %+v", got, b, c.want)
			}
		})
	}
	// A tenant one has no role in and one that does not exist answer alike.
	a := call(e, functest.AdminB, "my-permissions", obj{"tenantId": functest.TenantA}).Raw
	b := call(e, functest.AdminB, "my-permissions", obj{"tenantId": missing}).Raw
	if strings.Replace(a, functest.TenantA, missing, 1) != b {
		t.Fatalf("%s vs %s", a, b)
	}
	functest.Expect(t, call(e, functest.AdminA, "my-permissions", nil), 400)
}

func TestHTTPPlumbing(t *testing.T) {
	e := newEnv(t)
	res := functest.Expect(t, e.Call(functest.AdminA, http.MethodDelete, fn, nil), 405)
	if res.Code() != "method_not_allowed" {
		t.Fatal(res.Raw)
	}
	req := httptest.NewRequest(http.MethodGet, "/functions/v1/"+fn+"/anything?tenantId="+functest.TenantA+"&action=get", nil)
	req.Header.Set("Authorization", "Bearer "+functest.AnonKey(t))
	functest.Expect(t, e.Do(req), 401)
	req = httptest.NewRequest(http.MethodGet, "/functions/v1/"+fn+"/anything?tenantId="+functest.TenantA+"&action=get", nil)
	req.Header.Set("Authorization", "Bearer "+functest.Token(t, functest.ViewerA))
	functest.Expect(t, e.Do(req), 200)
}
