package sam_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/sam"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/infra/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

type rieCase struct {
	name string
	req  sam.Request
	want int
}

// cases are, per function: a preflight, a success, a 401 and a refusal.
func cases(t *testing.T, name string) []rieCase {
	auth := func(user string) map[string]string {
		return map[string]string{"authorization": "Bearer " + functest.Token(t, user), "content-type": "application/json", "origin": "https://app.example.com"}
	}
	path := "/functions/v1/" + name
	tenant := url.Values{"tenantId": {functest.TenantA}}
	preflight := rieCase{"preflight", sam.Request{Method: http.MethodOptions, Path: path, Headers: map[string]string{
		"origin": "https://app.example.com", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type"}}, 204}
	noToken := rieCase{"no token", sam.Request{Method: http.MethodGet, Path: path, Query: tenant, Headers: map[string]string{"origin": "https://app.example.com"}}, 401}
	switch name {
	case "proxmox-servers":
		return []rieCase{preflight, noToken,
			{"viewer lists", sam.Request{Method: http.MethodGet, Path: path + "/anything", Query: tenant, Headers: auth(functest.ViewerA)}, 200},
			{"viewer creates (base64 body)", sam.Request{Method: http.MethodPost, Path: path, Headers: auth(functest.ViewerA), Base64: true,
				Body: `{"tenantId":"` + functest.TenantA + `","name":"x","host":"pve.test","tokenId":"root@pam!ci","tokenSecret":"s"}`}, 403},
		}
	case "list-vms":
		return []rieCase{preflight, noToken,
			{"viewer lists", sam.Request{Method: http.MethodPost, Path: path, Headers: auth(functest.ViewerA), Body: `{"tenantId":"` + functest.TenantA + `"}`}, 200},
			{"viewer starts a guest", sam.Request{Method: http.MethodPost, Path: path, Headers: auth(functest.ViewerA),
				Body: `{"action":"start","tenantId":"` + functest.TenantA + `","serverId":"` + functest.TenantB + `","node":"pve1","vmid":100,"type":"qemu"}`}, 403},
		}
	case "tenants":
		return []rieCase{preflight, noToken,
			{"member lists", sam.Request{Method: http.MethodPost, Path: path, Headers: auth(functest.ViewerA), Body: `{"action":"list"}`}, 200},
			{"viewer assigns", sam.Request{Method: http.MethodPost, Path: path, Headers: auth(functest.ViewerA),
				Body: `{"action":"assign-user","tenantId":"` + functest.TenantA + `","userId":"` + functest.Nobody + `","role":"viewer"}`}, 403},
		}
	case "tenant-stats":
		// Every member may read stats, so the refusal is the stranger's 404.
		return []rieCase{preflight, noToken,
			{"viewer reads stats", sam.Request{Method: http.MethodPost, Path: path, Headers: auth(functest.ViewerA), Body: `{"action":"get-live-stats","tenantId":"` + functest.TenantA + `"}`}, 200},
			{"stranger reads stats", sam.Request{Method: http.MethodPost, Path: path, Headers: auth(functest.Nobody), Body: `{"action":"get-live-stats","tenantId":"` + functest.TenantA + `"}`}, 404},
		}
	}
	t.Fatalf("no cases for %s", name)
	return nil
}

// Each function, built by its Makefile target for this machine, runs under
// the Runtime Interface Emulator with the template's environment, and
// answers API Gateway 2.0 and 1.0 events as the contract says.
func TestFunctionsUnderTheEmulator(t *testing.T) {
	tpl := load(t)
	db := testdb.Fresh(t)
	functest.Seed(t, db)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	params := map[string]string{
		"DatabaseUrl": db.URL, "SupabaseJwtSecret": functest.JWTSecret,
		"CredentialsKey": base64.StdEncoding.EncodeToString(key), "AllowedOrigins": "https://app.example.com",
	}
	sweep.Register(params["CredentialsKey"], functest.JWTSecret, awsSecretKey)
	// The settings come from the secret the template creates, read at cold
	// start from a local Secrets Manager.
	aws, sm := awsEnv(t, tpl, params)
	for _, name := range contractFunctions {
		t.Run(name, func(t *testing.T) {
			id, ok := tpl.FunctionFor(name)
			if !ok {
				t.Fatalf("%s not in the template", name)
			}
			bin, err := sam.Build(id, goruntime.GOARCH, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			env, err := tpl.Env(id, params)
			if err != nil {
				t.Fatal(err)
			}
			if env["DATABASE_URL"] != "" || env["SECRETS_ARN"] == "" {
				t.Fatalf("the template hands %s its settings as variables: %v", name, sam.EnvList(env))
			}
			env = merge(env, aws)
			calls := sm.Calls.Load()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			emu, err := sam.StartEmulator(ctx, bin, env)
			if err != nil {
				t.Fatal(err)
			}
			defer emu.Stop()
			defer func() { sweep.Record("emulator-"+name, emu.Output.Bytes()) }()
			for i, c := range cases(t, name) {
				for _, format := range []string{"v2", "v1"} {
					reqID := fmt.Sprintf("rie-%s-%d-%s", name, i, format)
					event := c.req.V2(reqID)
					if format == "v1" {
						event = c.req.V1(reqID)
					}
					a, err := emu.Invoke(ctx, event)
					if err != nil {
						t.Fatalf("%s %s: %v\n%s", c.name, format, err, emu.Output)
					}
					if a.Status != c.want {
						t.Fatalf("%s %s: status %d, want %d: %s\n%s", c.name, format, a.Status, c.want, a.Body, emu.Output)
					}
					if a.Headers["access-control-allow-origin"] != "https://app.example.com" {
						t.Fatalf("%s %s: CORS origin %q", c.name, format, a.Headers["access-control-allow-origin"])
					}
					if c.want == 204 {
						continue
					}
					if a.Headers["x-request-id"] != reqID {
						t.Fatalf("%s %s: request id %q, want API Gateway's %q", c.name, format, a.Headers["x-request-id"], reqID)
					}
					var body map[string]any
					if err := json.Unmarshal([]byte(a.Body), &body); err != nil {
						t.Fatalf("%s %s: body %q", c.name, format, a.Body)
					}
					if c.want >= 400 && (body["error"] == nil || body["code"] == nil) {
						t.Fatalf("%s %s: error body %q", c.name, format, a.Body)
					}
				}
			}
			// Logs go to stdout/stderr as JSON lines, with the request ids.
			if !strings.Contains(emu.Output.String(), `"request_id":"rie-`+name) {
				t.Fatalf("no JSON log line with the request id:\n%s", emu.Output)
			}
			// One secret read per cold start; metrics as EMF lines on stdout.
			if n := sm.Calls.Load() - calls; n != 1 {
				t.Fatalf("%d reads of the secret, want 1", n)
			}
			if !strings.Contains(emu.Output.String(), `{"Duration":`) || !strings.Contains(emu.Output.String(), `"_aws":{"CloudWatchMetrics":[{"Dimensions":[["Function"],["Service"]]`) {
				t.Fatalf("no EMF line on stdout:\n%s", emu.Output)
			}
		})
	}
}

// A function whose secret cannot be read still starts under the emulator
// and answers 503 with a sentence, after one JSON log line saying why.
func TestUnreadableSecretUnderTheEmulator(t *testing.T) {
	tpl := load(t)
	id, _ := tpl.FunctionFor("tenants")
	bin, err := sam.Build(id, goruntime.GOARCH, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	aws, _ := awsEnv(t, tpl, map[string]string{"DatabaseUrl": "postgres://x@127.0.0.1:1/x", "CredentialsKey": "k", "SupabaseJwtSecret": functest.JWTSecret})
	env, _ := tpl.Env(id, map[string]string{"SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:wrong-AbCdEf"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	emu, err := sam.StartEmulator(ctx, bin, merge(env, aws))
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Stop()
	req := sam.Request{Method: http.MethodPost, Path: "/functions/v1/tenants", Body: `{"action":"list"}`,
		Headers: map[string]string{"authorization": "Bearer " + functest.Token(t, functest.ViewerA), "content-type": "application/json"}}
	a, err := emu.Invoke(ctx, req.V2("rie-secret"))
	sweep.Record("emulator-unreadable-secret", emu.Output.Bytes())
	if err != nil || a.Status != 503 || !strings.Contains(a.Body, `"code":"configuration_unavailable"`) {
		t.Fatalf("%v %d %s\n%s", err, a.Status, a.Body, emu.Output)
	}
	if n := strings.Count(emu.Output.String(), `"msg":"secrets"`); n != 1 || !strings.Contains(emu.Output.String(), "ResourceNotFoundException") {
		t.Fatalf("%d secrets log lines:\n%s", n, emu.Output)
	}
}
