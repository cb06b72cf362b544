// Package functest is the harness the functions' tests share: a fresh
// migrated database seeded with two tenants and a user of every role, real
// HS256 access tokens, the runtime built exactly as Lambda builds it, and
// every log line captured so tests can prove no secret reaches a log.
package functest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pvetenant/backend/infra/openapi"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/shared/secrets"
	"github.com/pvetenant/backend/shared/setup"
)

// Seeded identities.
const (
	TenantA = "aaaaaaaa-0000-4000-8000-000000000001" // "ACME Corp"
	TenantB = "bbbbbbbb-0000-4000-8000-000000000002" // "Globex"

	SysAdmin = "00000000-0000-4000-8000-00000000000a"
	AdminA   = "00000000-0000-4000-8000-0000000000a1"
	ManagerA = "00000000-0000-4000-8000-0000000000a3"
	ViewerA  = "00000000-0000-4000-8000-0000000000a4"
	AdminB   = "00000000-0000-4000-8000-0000000000b1"
	Nobody   = "00000000-0000-4000-8000-0000000000ff"
)

// Emails of the seeded users.
var Emails = map[string]string{
	SysAdmin: "root@example.com", AdminA: "alice@acme.test", ManagerA: "mona@acme.test",
	ViewerA: "victor@acme.test", AdminB: "bob@globex.test", Nobody: "nobody@example.com",
}

// JWTSecret signs the test tokens.
const JWTSecret = "functest-jwt-secret-that-is-long-enough-0123456789"

// Env is one test's world.
type Env struct {
	T       testing.TB
	DB      *testdb.DB
	Deps    *setup.Deps
	Logs    *SyncBuffer
	Handler http.Handler
	Config  setup.Config
	answers *SyncBuffer // every answer body, for the secrets sweep
}

// Options adjust the runtime before the handler is built.
type Options struct {
	Needs     setup.Needs
	Configure func(*setup.Config)
}

// New builds an Env whose handler comes from build.
func New(t testing.TB, o Options, build func(*setup.Deps) http.Handler) *Env {
	t.Helper()
	db := testdb.Fresh(t)
	Seed(t, db)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := map[string]string{
		"DATABASE_URL":        db.AppURL, // as postgres, no superuser, as on Supabase
		"SUPABASE_JWT_SECRET": JWTSecret,
		"CREDENTIALS_KEY":     base64.StdEncoding.EncodeToString(key),
		"PROXMOX_TIMEOUT":     "2s",
		"PROXMOX_ALLOW_CIDRS": "127.0.0.0/8",
		"LOG_LEVEL":           "debug",
		// Tests make many calls as one user within a minute (the action x
		// role matrices); the limits themselves are tested in infra/probing
		// and sql/migrations with their own settings.
		"RATE_LIMITS": "probe_per_user=10000/1m,probe_per_tenant=10000/1m,saved_test_per_user=10000/1m,power_per_user=10000/1m",
	}
	cfg, err := setup.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	logs := &SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := setup.Load(context.Background(), cfg, o.Needs, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	e := &Env{T: t, DB: db, Deps: d, Logs: logs, Handler: build(d), Config: cfg, answers: &SyncBuffer{}}
	// Everything this test's functions answered and logged goes to the
	// secrets sweep (infra/sweep) along with the secrets they were given.
	sweep.Register(cfg.JWTSecret, cfg.CredentialsKey, cfg.ServiceRoleKey)
	t.Cleanup(func() {
		sweep.Record(t.Name()+"-answers", []byte(e.answers.String()))
		sweep.Record(t.Name()+"-logs", []byte(logs.String()))
	})
	return e
}

// Seed creates the users, two tenants and their memberships.
func Seed(t testing.TB, db *testdb.DB) {
	t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		if _, err := db.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("seed %q: %v", sql, err)
		}
	}
	for id, email := range Emails {
		name := strings.Title(strings.SplitN(email, "@", 2)[0]) //nolint:staticcheck // ASCII names
		exec(`insert into auth.users (id, email, raw_user_meta_data) values ($1, $2, jsonb_build_object('full_name', $3::text))`, id, email, name)
	}
	exec(`insert into public.user_roles (user_id, role) values ($1, 'admin')`, SysAdmin)
	exec(`insert into public.tenants (id, name) values ($1, 'ACME Corp'), ($2, 'Globex')`, TenantA, TenantB)
	exec(`insert into public.user_tenant_assignments (user_id, tenant_id, role) values
		($1, $5, 'admin'), ($2, $5, 'manager'), ($3, $5, 'viewer'), ($4, $6, 'admin')`,
		AdminA, ManagerA, ViewerA, AdminB, TenantA, TenantB)
}

// Token returns a valid access token for user.
func Token(t testing.TB, user string) string {
	t.Helper()
	return sign(t, jwt.MapClaims{
		"sub": user, "role": "authenticated", "aud": "authenticated", "email": Emails[user],
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "session_id": "s-" + user[len(user)-4:],
	})
}

// AnonKey returns a token shaped like a Supabase anon key.
func AnonKey(t testing.TB) string {
	t.Helper()
	return sign(t, jwt.MapClaims{"iss": "supabase", "ref": "local", "role": "anon",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
}

func sign(t testing.TB, c jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// Code returns the error code of an error answer.
func (r Response) Code() string { s, _ := r.Body["code"].(string); return s }

// Call sends a request as user ("" for no Authorization header) with params
// as the JSON body (nil for none).
func (e *Env) Call(user, method, name string, params map[string]any) Response {
	e.T.Helper()
	var body io.Reader
	if params != nil {
		b, _ := json.Marshal(params)
		body = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, "/functions/v1/"+name, body)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+Token(e.T, user))
	}
	req.Header.Set("Content-Type", "application/json")
	return e.Do(req)
}

// Do sends req to the handler. Every answer is checked against the OpenAPI
// document (infra/openapi): a shape the document does not describe fails
// the test that received it.
func (e *Env) Do(req *http.Request) Response {
	e.T.Helper()
	function, action := operationOf(req)
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	res := Response{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.String()}
	_, _ = e.answers.Write(append(rec.Body.Bytes(), '\n'))
	if ct := rec.Header().Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		e.T.Fatalf("content type %q", ct)
	}
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &res.Body); err != nil {
			e.T.Fatalf("answer is not a JSON object: %v: %s", err, rec.Body.String())
		}
	}
	if function != "" && req.Method != http.MethodOptions {
		if err := openapi.ValidateAnswer(function, action, rec.Code, rec.Body.Bytes()); err != nil {
			e.T.Fatalf("%v\nanswer: %s", err, truncate(rec.Body.String(), 2000))
		}
	}
	return res
}

// operationOf names the function and action a request calls, as
// shared/httpapi resolves them: the path segment after the function, else
// "action" from the body (or, for GET and
// DELETE, the query), else the function's action for the method. The body
// is read and put back.
func operationOf(req *http.Request) (function, action string) {
	rest, ok := strings.CutPrefix(req.URL.Path, "/functions/v1/")
	if !ok {
		return "", ""
	}
	function, rest, _ = strings.Cut(rest, "/")
	byMethod, ok := openapi.ByMethod[function]
	if !ok {
		return "", ""
	}
	if seg, _, _ := strings.Cut(rest, "/"); seg != "" {
		if _, ok := openapi.Find(function, seg); ok {
			return function, seg // the path names the action
		}
	}
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		var params map[string]any
		if json.Unmarshal(b, &params) == nil {
			action, _ = params["action"].(string)
		}
	}
	if req.Method == http.MethodGet || req.Method == http.MethodDelete {
		if a := req.URL.Query().Get("action"); a != "" {
			action = a
		}
	}
	if action == "" {
		action = byMethod[req.Method]
	}
	return function, action
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Expect fails the test unless res has status.
func Expect(t testing.TB, res Response, status int) Response {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Raw)
	}
	if status >= 400 {
		if msg, _ := res.Body["error"].(string); msg == "" || res.Code() == "" {
			t.Fatalf("error answer without error/code: %s", res.Raw)
		}
	}
	return res
}

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Config is the runtime configuration, for Options.Configure.
type Config = setup.Config

// Obj is shorthand for a params map.
type Obj = map[string]any

// ServerOpts describe a server registered by AddServer.
type ServerOpts struct {
	Password bool   // log in with user + password instead of the API token
	Inactive bool   // is_active false
	Secret   string // override the token secret (e.g. a wrong one)
	TokenID  string // another of the simulator's tokens (with Secret)
}

// AddServer registers sim as a server of tenant, pinned to its certificate,
// with sealed credentials, as the table owner, and returns its id.
func (e *Env) AddServer(tenant, name string, sim *pvesim.Sim, o ServerOpts) string {
	e.T.Helper()
	ctx := context.Background()
	var id string
	err := e.DB.Pool.QueryRow(ctx, `insert into public.proxmox_servers (tenant_id, name, host, port, verify_ssl, tls_fingerprint, is_active)
		values ($1, $2, '127.0.0.1', $3, false, $4, $5) returning id::text`,
		tenant, name, sim.Port(), sim.Fingerprint(), !o.Inactive).Scan(&id)
	if err != nil {
		e.T.Fatal(err)
	}
	c := secrets.Credentials{TokenID: pvesim.PresetTokenID, TokenSecret: pvesim.PresetTokenSecret}
	if o.Secret != "" {
		c.TokenSecret = o.Secret
	}
	if o.TokenID != "" {
		c.TokenID = o.TokenID
	}
	if o.Password {
		c = secrets.Credentials{Username: pvesim.PresetUser, Password: pvesim.PresetPassword}
	}
	keyID, sealed, err := e.Deps.Keyring.SealCredentials(id, c)
	if err != nil {
		e.T.Fatal(err)
	}
	if _, err := e.DB.Pool.Exec(ctx, `insert into private.proxmox_server_credentials (server_id, auth_type, key_id, sealed) values ($1, $2, $3, $4)`,
		id, c.AuthType(), keyID, sealed); err != nil {
		e.T.Fatal(err)
	}
	if _, err := e.DB.Pool.Exec(ctx, `update public.proxmox_servers set auth_type = $2, credentials_version = 1 where id = $1`, id, c.AuthType()); err != nil {
		e.T.Fatal(err)
	}
	return id
}
