package proxmoxservers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	proxmoxservers "github.com/pvetenant/backend/functions/proxmox-servers"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/infra/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

type obj = functest.Obj

const fn = proxmoxservers.Name

// Secrets used in this file; none may ever appear in an answer or a log.
const (
	tokenSecret = "9d2c5e1a-6f0b-4c3d-8e7f-a1b2c3d4e5f6"
	password    = "correct horse battery staple"
)

func newEnv(t *testing.T) *functest.Env {
	sweep.Register(tokenSecret, password)
	return functest.New(t, functest.Options{Needs: proxmoxservers.Needs}, proxmoxservers.New)
}

func createServer(t *testing.T, e *functest.Env, user string, extra obj) functest.Response {
	t.Helper()
	p := obj{"tenantId": functest.TenantA, "name": "pve-lab", "host": "pve1.acme.test",
		"tokenId": "root@pam!monitor", "tokenSecret": tokenSecret, "verifyTls": true}
	for k, v := range extra {
		p[k] = v
	}
	return e.Call(user, http.MethodPost, fn, p)
}

func server(t *testing.T, res functest.Response) map[string]any {
	t.Helper()
	s, ok := res.Body["server"].(map[string]any)
	if !ok {
		t.Fatalf("no server in %s", res.Raw)
	}
	return s
}

// noSecrets fails if any answer or log line so far holds a secret.
func noSecrets(t *testing.T, e *functest.Env, answers ...functest.Response) {
	t.Helper()
	for _, s := range []string{tokenSecret, password, pvesim.PresetTokenSecret, pvesim.PresetPassword} {
		for _, a := range answers {
			if strings.Contains(a.Raw, s) {
				t.Fatalf("an answer holds a secret: %s", a.Raw)
			}
		}
		if strings.Contains(e.Logs.String(), s) {
			t.Fatalf("the log holds a secret")
		}
	}
}

func TestCreateAndReadBack(t *testing.T) {
	e := newEnv(t)
	created := functest.Expect(t, createServer(t, e, functest.ManagerA, nil), http.StatusCreated)
	s := server(t, created)
	if s["has_credentials"] != true || s["auth_type"] != "token" || s["port"] != float64(8006) ||
		s["tenant_id"] != functest.TenantA || s["user_id"] != functest.ManagerA || s["verify_ssl"] != true {
		t.Fatalf("created row: %v", s)
	}
	for _, k := range []string{"tokenSecret", "token_secret", "password", "api_token_secret", "sealed", "tokenId"} {
		if _, ok := s[k]; ok {
			t.Fatalf("row exposes %s", k)
		}
	}
	// Every member reads it; the list is newest first.
	second := server(t, functest.Expect(t, createServer(t, e, functest.AdminA, obj{"name": "pve-2", "host": "10.0.0.2",
		"tokenId": nil, "tokenSecret": nil, "username": "root@pam", "password": password}), http.StatusCreated))
	if second["auth_type"] != "password" || second["host"] != "10.0.0.2" {
		t.Fatalf("second row: %v", second)
	}
	for _, u := range []string{functest.ViewerA, functest.ManagerA, functest.AdminA, functest.SysAdmin} {
		list := functest.Expect(t, e.Call(u, http.MethodGet, fn+"?tenantId="+functest.TenantA, nil), http.StatusOK)
		servers := list.Body["servers"].([]any)
		if len(servers) != 2 || servers[0].(map[string]any)["id"] != second["id"] {
			t.Fatalf("%s lists %s", u, list.Raw)
		}
		got := functest.Expect(t, e.Call(u, http.MethodPost, fn, obj{"action": "get", "serverId": s["id"]}), http.StatusOK)
		if server(t, got)["name"] != "pve-lab" {
			t.Fatalf("get: %s", got.Raw)
		}
	}
	// The secret is sealed in the private table: not the plaintext, bound to its row.
	var sealed []byte
	var keyID string
	if err := e.DB.Pool.QueryRow(context.Background(),
		`select sealed, key_id from private.proxmox_server_credentials where server_id = $1`, s["id"]).Scan(&sealed, &keyID); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), tokenSecret) || keyID != e.Deps.Keyring.CurrentID() {
		t.Fatalf("credentials not sealed under the current key (key %q)", keyID)
	}
	c, err := e.Deps.Keyring.OpenCredentials(s["id"].(string), keyID, sealed)
	if err != nil || c.TokenSecret != tokenSecret || c.TokenID != "root@pam!monitor" {
		t.Fatalf("sealed credentials do not open to what was given: %v", err)
	}
	noSecrets(t, e, created)
}

func TestWhoMayDoWhat(t *testing.T) {
	e := newEnv(t)
	id := server(t, functest.Expect(t, createServer(t, e, functest.AdminA, nil), http.StatusCreated))["id"]
	cases := []struct {
		name   string
		user   string
		method string
		params obj
		want   int
	}{
		{"no token lists", "", http.MethodGet, obj{"tenantId": functest.TenantA}, 401},
		{"stranger lists", functest.Nobody, http.MethodGet, obj{"tenantId": functest.TenantA}, 404},
		{"admin of B lists A", functest.AdminB, http.MethodGet, obj{"tenantId": functest.TenantA}, 404},
		{"admin of B gets A's server", functest.AdminB, http.MethodPost, obj{"action": "get", "serverId": id}, 404},
		{"admin of B edits A's server", functest.AdminB, http.MethodPatch, obj{"serverId": id, "name": "x"}, 404},
		{"admin of B deletes A's server", functest.AdminB, http.MethodDelete, obj{"serverId": id}, 404},
		{"admin of B tests A's server", functest.AdminB, http.MethodPost, obj{"action": "test", "serverId": id}, 404},
		{"viewer creates", functest.ViewerA, http.MethodPost, obj{"tenantId": functest.TenantA, "name": "v", "host": "h.test", "tokenId": "ops@pam!ci", "tokenSecret": "s"}, 403},
		{"viewer edits", functest.ViewerA, http.MethodPatch, obj{"serverId": id, "name": "x"}, 403},
		{"viewer tests", functest.ViewerA, http.MethodPost, obj{"action": "test", "serverId": id}, 403},
		{"viewer deletes", functest.ViewerA, http.MethodDelete, obj{"serverId": id}, 403},
		{"manager deletes", functest.ManagerA, http.MethodDelete, obj{"serverId": id}, 403},
		{"manager edits", functest.ManagerA, http.MethodPatch, obj{"serverId": id, "name": "renamed"}, 200},
		{"manager moves to B", functest.ManagerA, http.MethodPatch, obj{"serverId": id, "tenantId": functest.TenantB}, 404},
		{"system admin edits", functest.SysAdmin, http.MethodPut, obj{"serverId": id, "isActive": false}, 200},
		{"admin deletes", functest.AdminA, http.MethodDelete, obj{"serverId": id}, 200},
		{"gone after delete", functest.AdminA, http.MethodPost, obj{"action": "get", "serverId": id}, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			functest.Expect(t, e.Call(c.user, c.method, fn, c.params), c.want)
		})
	}
}

func TestSystemAdminMovesServer(t *testing.T) {
	e := newEnv(t)
	id := server(t, functest.Expect(t, createServer(t, e, functest.AdminA, nil), http.StatusCreated))["id"]
	moved := server(t, functest.Expect(t, e.Call(functest.SysAdmin, http.MethodPatch, fn, obj{"serverId": id, "tenantId": functest.TenantB}), 200))
	if moved["tenant_id"] != functest.TenantB {
		t.Fatalf("not moved: %v", moved)
	}
	functest.Expect(t, e.Call(functest.AdminA, http.MethodPost, fn, obj{"action": "get", "serverId": id}), 404)
	functest.Expect(t, e.Call(functest.AdminB, http.MethodPost, fn, obj{"action": "get", "serverId": id}), 200)
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	id := server(t, functest.Expect(t, createServer(t, e, functest.AdminA, nil), http.StatusCreated))["id"]
	cases := []struct {
		name   string
		params obj
		want   string // part of the sentence
	}{
		{"missing tenant", obj{"tenantId": nil}, "tenantId is required"},
		{"tenant not a uuid", obj{"tenantId": "acme"}, "tenantId must be a UUID"},
		{"empty name", obj{"name": ""}, "name"},
		{"host with scheme", obj{"host": "https://pve1.acme.test"}, "without scheme"},
		{"host with path", obj{"host": "pve1.acme.test/api2"}, "without scheme"},
		{"host with port", obj{"host": "pve1.acme.test:8006"}, "port"},
		{"host garbage", obj{"host": "pve_1!"}, "valid host"},
		{"port zero", obj{"port": 0}, "port must be between 1 and 65535"},
		{"port text", obj{"port": "https"}, "port must be a whole number"},
		{"token id form", obj{"tokenId": "root"}, "user@realm!tokenname"},
		{"token without secret", obj{"tokenSecret": nil}, "both tokenId and tokenSecret"},
		{"token and password", obj{"username": "root@pam", "password": "x"}, "not both"},
		{"no credentials", obj{"tokenId": nil, "tokenSecret": nil}, "Credentials are required"},
		{"user without realm", obj{"tokenId": nil, "tokenSecret": nil, "username": "root", "password": "x"}, "user@realm"},
		{"fingerprint form", obj{"tlsFingerprint": "abc"}, "SHA-256"},
		{"verifyTls text", obj{"verifyTls": "maybe"}, "verifyTls must be true or false"},
		{"name too long", obj{"name": strings.Repeat("n", 101)}, "at most 100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := functest.Expect(t, createServer(t, e, functest.AdminA, c.params), 400)
			if !strings.Contains(res.Body["error"].(string), c.want) {
				t.Fatalf("message %q does not say %q", res.Body["error"], c.want)
			}
		})
	}
	t.Run("host change without credentials", func(t *testing.T) {
		res := functest.Expect(t, e.Call(functest.AdminA, http.MethodPatch, fn, obj{"serverId": id, "host": "evil.example.com"}), 400)
		if !strings.Contains(res.Body["error"].(string), "credentials again") {
			t.Fatal(res.Raw)
		}
	})
	t.Run("nothing to update", func(t *testing.T) {
		functest.Expect(t, e.Call(functest.AdminA, http.MethodPatch, fn, obj{"serverId": id}), 400)
	})
	t.Run("unknown action", func(t *testing.T) {
		res := functest.Expect(t, e.Call(functest.AdminA, http.MethodPost, fn, obj{"action": "explode"}), 400)
		if !strings.Contains(res.Body["error"].(string), "create, delete, get, list, test, update") {
			t.Fatal(res.Raw)
		}
	})
	// Nothing was written by any refused request.
	var n int
	_ = e.DB.Pool.QueryRow(context.Background(), `select count(*) from public.proxmox_servers`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d servers after refused requests, want 1", n)
	}
}

func TestUpdateReplacesSecretOnlyWhenGiven(t *testing.T) {
	e := newEnv(t)
	s := server(t, functest.Expect(t, createServer(t, e, functest.AdminA, nil), http.StatusCreated))
	renamed := server(t, functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": s["id"], "name": "renamed"}), 200))
	if renamed["credentials_version"] != s["credentials_version"] || renamed["has_credentials"] != true {
		t.Fatalf("a rename touched the credentials: %v", renamed)
	}
	moved := server(t, functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": s["id"],
		"host": "pve9.acme.test", "username": "ops@pve", "password": password}), 200))
	if moved["auth_type"] != "password" || moved["credentials_version"].(float64) <= s["credentials_version"].(float64) {
		t.Fatalf("credentials not replaced: %v", moved)
	}
	noSecrets(t, e)
}

// An edit changes what it names and nothing else: an absent field stays as
// it is, false is a value, and "" clears the pin.
func TestUpdateChangesOnlyWhatIsGiven(t *testing.T) {
	e := newEnv(t)
	pin := strings.Repeat("AB:", 31) + "AB"
	s := server(t, functest.Expect(t, createServer(t, e, functest.AdminA, obj{"tlsFingerprint": strings.ToLower(pin)}), http.StatusCreated))
	if s["tls_fingerprint"] != pin || s["verify_ssl"] != true || s["is_active"] != true {
		t.Fatalf("created row: %v", s)
	}
	edit := func(p obj) map[string]any {
		t.Helper()
		p["serverId"] = s["id"]
		return server(t, functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, p), http.StatusOK))
	}
	if got := edit(obj{"verifyTls": false}); got["verify_ssl"] != false || got["tls_fingerprint"] != pin || got["is_active"] != true ||
		got["name"] != "pve-lab" || got["host"] != "pve1.acme.test" || got["port"] != float64(8006) {
		t.Fatalf("verifyTls false: %v", got)
	}
	if got := edit(obj{"isActive": false}); got["is_active"] != false || got["verify_ssl"] != false || got["tls_fingerprint"] != pin {
		t.Fatalf("isActive false: %v", got)
	}
	if got := edit(obj{"tlsFingerprint": ""}); got["tls_fingerprint"] != nil || got["verify_ssl"] != false || got["is_active"] != false ||
		got["has_credentials"] != true || got["credentials_version"] != s["credentials_version"] {
		t.Fatalf("pin cleared: %v", got)
	}
}

func TestConnectionTestAgainstSimulator(t *testing.T) {
	e := newEnv(t)
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	base := obj{"action": "test", "tenantId": functest.TenantA, "host": "127.0.0.1", "port": sim.Port(),
		"tokenId": pvesim.PresetTokenID, "tokenSecret": pvesim.PresetTokenSecret}
	with := func(extra obj) obj {
		p := obj{}
		for k, v := range base {
			p[k] = v
		}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	var answers []functest.Response

	// Self-signed and unpinned: nothing is sent, the certificate is shown for pinning.
	res := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, with(obj{"verifyTls": false})), 200)
	answers = append(answers, res)
	if res.Body["ok"] != false || res.Body["status"] != "tls_error" || res.Body["tlsFingerprint"] != sim.Fingerprint() {
		t.Fatalf("unpinned: %s", res.Raw)
	}
	if n := sim.Requests("/version"); n != 0 {
		t.Fatalf("credentials were sent to an unverified server (%d requests)", n)
	}
	// Verified against system roots: the simulator's certificate is not trusted.
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, with(nil)), 200)
	answers = append(answers, res)
	if res.Body["status"] != "tls_error" || res.Body["tlsFingerprint"] != sim.Fingerprint() {
		t.Fatalf("untrusted: %s", res.Raw)
	}
	// Pinned: a full probe.
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, with(obj{"verifyTls": false, "tlsFingerprint": sim.Fingerprint()})), 200)
	answers = append(answers, res)
	if res.Body["ok"] != true || res.Body["version"] != "8.2.4" || res.Body["nodes"] != float64(3) || res.Body["status"] != "online" {
		t.Fatalf("pinned: %s", res.Raw)
	}
	// Wrong secret: auth_error, and the secret is nowhere.
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, with(obj{"verifyTls": false, "tlsFingerprint": sim.Fingerprint(), "tokenSecret": tokenSecret})), 200)
	answers = append(answers, res)
	if res.Body["ok"] != false || res.Body["status"] != "auth_error" {
		t.Fatalf("bad secret: %s", res.Raw)
	}
	// A saved server, by id, with a password login; the outcome is recorded on the row.
	created := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA, "name": "sim",
		"host": "127.0.0.1", "port": sim.Port(), "verifyTls": false, "tlsFingerprint": sim.Fingerprint(),
		"username": pvesim.PresetUser, "password": pvesim.PresetPassword}), 201)
	id := server(t, created)["id"]
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "serverId": id}), 200)
	answers = append(answers, res, created)
	if res.Body["ok"] != true {
		t.Fatalf("saved server: %s", res.Raw)
	}
	got := server(t, e.Call(functest.ViewerA, http.MethodPost, fn, obj{"action": "get", "serverId": id}))
	if got["connection_status"] != "online" || got["last_connected_at"] == nil {
		t.Fatalf("outcome not recorded: %v", got)
	}
	// The certificate changes: the pin holds, the answer says so.
	if err := sim.RotateCertificate(); err != nil {
		t.Fatal(err)
	}
	res = functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "serverId": id}), 200)
	answers = append(answers, res)
	if res.Body["ok"] != false || res.Body["status"] != "tls_error" || res.Body["tlsFingerprint"] != sim.Fingerprint() {
		t.Fatalf("changed certificate: %s", res.Raw)
	}
	noSecrets(t, e, answers...)
}

func TestAddressGuard(t *testing.T) {
	// Without PROXMOX_ALLOW_CIDRS, loopback, link-local (cloud metadata) and
	// unspecified targets are refused before anything is dialled (issue 18:
	// 400 forbidden_address, as at create and update); the dial-time check
	// stays for saved servers and names that resolve differently later.
	e2 := functest.New(t, functest.Options{Needs: proxmoxservers.Needs, Configure: func(c *functest.Config) { c.ProxmoxAllowCIDRs = nil }}, proxmoxservers.New)
	for _, host := range []string{"127.0.0.1", "localhost", "169.254.169.254", "0.0.0.0"} {
		res := functest.Expect(t, e2.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "tenantId": functest.TenantA,
			"host": host, "port": 8006, "tokenId": "ops@pam!ci", "tokenSecret": "s", "tlsFingerprint": strings.Repeat("AB:", 31) + "AB"}), 400)
		if res.Code() != "forbidden_address" {
			t.Fatalf("%s: %s", host, res.Raw)
		}
	}
}

func TestHTTPPlumbing(t *testing.T) {
	e := newEnv(t)
	t.Run("preflight", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodOptions, "/functions/v1/"+fn, nil)
		req.Header.Set("Origin", "http://app.test")
		req.Header.Set("Access-Control-Request-Method", "POST")
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "*" ||
			rec.Header().Get("Access-Control-Allow-Headers") != "authorization, x-client-info, apikey, content-type, x-region, x-retry-count" ||
			rec.Header().Get("Access-Control-Allow-Methods") != "GET, POST, PUT, PATCH, DELETE, OPTIONS" {
			t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
		}
	})
	t.Run("errors carry CORS too", func(t *testing.T) {
		res := functest.Expect(t, e.Call("", http.MethodGet, fn, nil), 401)
		if res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatal("401 without CORS headers: the browser would hide the error")
		}
	})
	t.Run("body over 64 KiB", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/functions/v1/"+fn, strings.NewReader(`{"name":"`+strings.Repeat("x", 70<<10)+`"}`))
		req.Header.Set("Authorization", "Bearer "+functest.Token(t, functest.AdminA))
		functest.Expect(t, e.Do(req), 413)
	})
	t.Run("body not JSON", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/functions/v1/"+fn, strings.NewReader(`{"name":`))
		req.Header.Set("Authorization", "Bearer "+functest.Token(t, functest.AdminA))
		functest.Expect(t, e.Do(req), 400)
	})
	t.Run("GET with a JSON body, as the plan's hook sends it", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/functions/v1/"+fn+"/ignored/rest", strings.NewReader(`{"tenantId":"`+functest.TenantA+`"}`))
		req.Header.Set("Authorization", "Bearer "+functest.Token(t, functest.ViewerA))
		functest.Expect(t, e.Do(req), 200)
	})
	t.Run("anon key", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/functions/v1/"+fn+"?tenantId="+functest.TenantA, nil)
		req.Header.Set("Authorization", "Bearer "+functest.AnonKey(t))
		functest.Expect(t, e.Do(req), 401)
	})
	t.Run("publishable key", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/functions/v1/"+fn+"?tenantId="+functest.TenantA, nil)
		req.Header.Set("Authorization", "Bearer sb_publishable_abc123")
		functest.Expect(t, e.Call("", http.MethodGet, fn, nil), 401)
		functest.Expect(t, e.Do(req), 401)
	})
	t.Run("log lines are JSON with request id, function, user, tenant", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/functions/v1/"+fn+"?tenantId="+functest.TenantA, nil)
		req.Header.Set("Authorization", "Bearer "+functest.Token(t, functest.ViewerA))
		req.Header.Set("X-Request-Id", "req-plumbing-1")
		functest.Expect(t, e.Do(req), 200)
		var line string
		for _, l := range strings.Split(e.Logs.String(), "\n") {
			if strings.Contains(l, `"req-plumbing-1"`) && strings.Contains(l, `"msg":"request"`) {
				line = l
			}
		}
		for _, want := range []string{`"function":"proxmox-servers"`, `"user":"` + functest.ViewerA + `"`, `"tenant":"` + functest.TenantA + `"`, `"status":200`} {
			if !strings.Contains(line, want) {
				t.Fatalf("log line %q lacks %s", line, want)
			}
		}
	})
}

func TestDatabaseDown(t *testing.T) {
	// Point the function at a port where nothing listens: a clear 503, no detail.
	bad := functest.New(t, functest.Options{Needs: proxmoxservers.Needs, Configure: func(c *functest.Config) {
		c.DatabaseURL = "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"
	}}, proxmoxservers.New)
	res := functest.Expect(t, bad.Call(functest.ViewerA, http.MethodGet, fn, obj{"tenantId": functest.TenantA}), 503)
	if res.Code() != "database_unavailable" || strings.Contains(res.Raw, "127.0.0.1") {
		t.Fatalf("%s", res.Raw)
	}
}
