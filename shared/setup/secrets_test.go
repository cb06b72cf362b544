package setup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	proxmoxservers "github.com/pvetenant/backend/functions/proxmox-servers"
	"github.com/pvetenant/backend/functions/tenants"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/shared/awssecrets/smtest"
	"github.com/pvetenant/backend/shared/setup"
)

func TestMain(m *testing.M) {
	// TestMustLoadNamesWhatIsMissing's child process exits from MustLoad,
	// before any teardown: it needs no database, so it starts none (one
	// started there was left running by every test run).
	if os.Getenv("MUSTLOAD_CHILD") == "1" {
		os.Exit(m.Run())
	}
	os.Exit(testdb.Run(m))
}

const serviceRoleKey = "sb-service-role-key-for-the-secrets-test-0123456789"

type world struct {
	sm     *smtest.Server
	env    map[string]string // what Lambda would set: the ARN, region, role credentials, no secret
	secret map[string]string // the secret's JSON
	dbURL  string
}

func newWorld(t *testing.T) *world {
	db := testdb.Fresh(t)
	functest.Seed(t, db)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	w := &world{dbURL: db.URL, secret: map[string]string{
		"DATABASE_URL": db.URL, "SUPABASE_JWT_SECRET": functest.JWTSecret,
		"CREDENTIALS_KEY": base64.StdEncoding.EncodeToString(key), "SUPABASE_SERVICE_ROLE_KEY": serviceRoleKey,
	}}
	b, _ := json.Marshal(w.secret)
	arn := smtest.ARN("pvetenant")
	w.sm = smtest.New(map[string]string{
		arn:                         string(b),
		smtest.ARN("not-json"):      `{"DATABASE_URL": "` + db.URL + `", ` + w.secret["CREDENTIALS_KEY"], // cut short
		smtest.ARN("missing-key"):   `{"SUPABASE_JWT_SECRET": "` + functest.JWTSecret + `", "DATABASE_URL": "` + db.URL + `"}`,
		smtest.ARN("not-a-string"):  `{"SUPABASE_JWT_SECRET": "` + functest.JWTSecret + `", "DATABASE_URL": {"url": "` + db.URL + `"}}`,
		smtest.ARN("a-json-string"): `"` + w.secret["CREDENTIALS_KEY"] + `"`,
	})
	t.Cleanup(w.sm.Close)
	w.env = map[string]string{
		"SECRETS_ARN": arn, "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_SECRETS_MANAGER": w.sm.URL,
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "AWS_SESSION_TOKEN": "session",
		"PROXMOX_ALLOW_CIDRS": "127.0.0.0/8",
	}
	sweep.Register(w.secret["CREDENTIALS_KEY"], functest.JWTSecret, serviceRoleKey, w.env["AWS_SECRET_ACCESS_KEY"], dbPassword(db.URL))
	return w
}

func dbPassword(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return ""
	}
	pw, _ := p.User.Password()
	return pw
}

// load builds a function's Deps as its Lambda main does, with the world's
// environment changed by edit; logs are captured and swept.
func (w *world) load(t *testing.T, need setup.Needs, edit map[string]string) (*setup.Deps, *bytes.Buffer) {
	t.Helper()
	env := map[string]string{}
	for k, v := range w.env {
		env[k] = v
	}
	for k, v := range edit {
		env[k] = v
	}
	getenv := func(k string) string { return env[k] }
	c, err := setup.FromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	d, err := setup.LoadWithSecrets(context.Background(), c, need, getenv, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(d.Close)
	t.Cleanup(func() { sweep.Record(t.Name()+"-logs", logs.Bytes()) })
	return d, logs
}

func call(t *testing.T, h http.Handler, user string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/functions/v1/proxmox-servers?tenantId="+functest.TenantA, nil)
	req.Header.Set("Authorization", "Bearer "+functest.Token(t, user))
	req.Header.Set("Origin", "https://app.example.com")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	sweep.Record(t.Name()+"-answer", rec.Body.Bytes())
	return rec
}

// With SECRETS_ARN and no secret in the environment, a function reads its
// settings from Secrets Manager at start and serves; it takes only the keys
// it needs (the service role key only for tenants).
func TestSecretsManagerSuccess(t *testing.T) {
	w := newWorld(t)
	d, logs := w.load(t, proxmoxservers.Needs, nil)
	if rec := call(t, proxmoxservers.New(d), functest.ViewerA); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s\n%s", rec.Code, rec.Body, logs)
	}
	if w.sm.Calls.Load() != 1 || w.sm.Unsigned.Load() != 0 {
		t.Fatalf("%d calls to Secrets Manager (%d unsigned), want 1 signed", w.sm.Calls.Load(), w.sm.Unsigned.Load())
	}
	if d.Config.ServiceRoleKey != "" {
		t.Fatal("proxmox-servers took the service role key")
	}
	if d.Config.DatabaseURL != w.dbURL || d.Keyring == nil {
		t.Fatal("settings not taken from the secret")
	}
	td, _ := w.load(t, tenants.Needs, nil)
	if td.Config.ServiceRoleKey != serviceRoleKey || td.Config.CredentialsKey != "" || td.Keyring != nil {
		t.Fatalf("tenants took service role %v, credentials key %v", td.Config.ServiceRoleKey != "", td.Config.CredentialsKey != "")
	}
	// Plain variables keep working without a secret (local stack, tests).
	plain := map[string]string{"SECRETS_ARN": ""}
	for k, v := range w.secret {
		plain[k] = v
	}
	pd, _ := w.load(t, proxmoxservers.Needs, plain)
	if rec := call(t, proxmoxservers.New(pd), functest.ViewerA); rec.Code != http.StatusOK || w.sm.Calls.Load() != 2 {
		t.Fatalf("plain variables: status %d, %d calls to Secrets Manager", rec.Code, w.sm.Calls.Load())
	}
}

// Each way the secret can be wrong: one JSON log line at start naming the
// secret and what is wrong (never a value), and every request answered 503
// with a sentence, CORS and Retry-After intact.
func TestSecretsManagerFailures(t *testing.T) {
	w := newWorld(t)
	for _, c := range []struct {
		name, arn, want string
	}{
		{"wrong ARN", smtest.ARN("nope"), "ResourceNotFoundException"},
		{"missing key", smtest.ARN("missing-key"), "has no value for CREDENTIALS_KEY"},
		{"malformed JSON", smtest.ARN("not-json"), "is not a JSON object"},
		{"JSON but not an object", smtest.ARN("a-json-string"), "is not a JSON object"},
		{"value not a string", smtest.ARN("not-a-string"), "key DATABASE_URL is not a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, logs := w.load(t, proxmoxservers.Needs, map[string]string{"SECRETS_ARN": c.arn})
			rec := call(t, proxmoxservers.New(d), functest.AdminA)
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["code"] != "configuration_unavailable" ||
				!strings.HasSuffix(body["error"], ".") || len(strings.Fields(body["error"])) < 6 {
				t.Fatalf("body %s", rec.Body)
			}
			if rec.Header().Get("Retry-After") == "" || rec.Header().Get("Access-Control-Allow-Origin") == "" {
				t.Fatalf("headers %v", rec.Header())
			}
			var startLines []map[string]any
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("log line is not JSON: %s", line)
				}
				if m["msg"] == "secrets" {
					startLines = append(startLines, m)
				}
			}
			if len(startLines) != 1 {
				t.Fatalf("%d secrets log lines, want 1:\n%s", len(startLines), logs)
			}
			msg, _ := startLines[0]["error"].(string)
			if !strings.Contains(msg, c.want) || !strings.Contains(msg, c.arn) || startLines[0]["level"] != "ERROR" {
				t.Fatalf("log line %v, want it to say %q and name the secret", startLines[0], c.want)
			}
			for _, v := range []string{w.secret["CREDENTIALS_KEY"], functest.JWTSecret, dbPassword(w.dbURL), w.env["AWS_SECRET_ACCESS_KEY"]} {
				if v != "" && (strings.Contains(logs.String(), v) || strings.Contains(rec.Body.String(), v)) {
					t.Fatal("a secret reached the log or the answer")
				}
			}
		})
	}
}
