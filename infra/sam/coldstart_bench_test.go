package sam_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/sam"
	"github.com/pvetenant/backend/infra/testdb"
)

// BenchmarkColdStart measures, per function, the time from starting the
// emulator process to the first answered invocation (the emulator starts the
// bootstrap on that invocation, as Lambda does on a cold start). The request
// is a member's authenticated read, so it includes verifying the token and
// opening the first database connection. Reported: the median over b.N runs
// (use -benchtime=7x) and the size of the arm64 bootstrap that would ship.
// Each function runs twice: "secret" as the template deploys it (settings
// read from a local Secrets Manager at cold start, through the SDK pointed
// at it with BaseEndpoint) and "plain" with the same settings as plain
// variables (the local stack's way, and the template's before issue 17).
//
//	go test -run X -bench ColdStart -benchtime 7x ./infra/sam/
func BenchmarkColdStart(b *testing.B) {
	tpl, err := sam.Load()
	if err != nil {
		b.Fatal(err)
	}
	db := testdb.Fresh(b)
	functest.Seed(b, db)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	params := map[string]string{"DatabaseUrl": db.URL, "SupabaseJwtSecret": functest.JWTSecret,
		"CredentialsKey": base64.StdEncoding.EncodeToString(key)}
	reads := map[string]sam.Request{
		"proxmox-servers": {Method: "GET", Path: "/functions/v1/proxmox-servers", Query: url.Values{"tenantId": {functest.TenantA}}},
		"list-vms":        {Method: "POST", Path: "/functions/v1/list-vms", Body: `{"tenantId":"` + functest.TenantA + `"}`},
		"tenants":         {Method: "POST", Path: "/functions/v1/tenants", Body: `{"action":"list"}`},
		"tenant-stats":    {Method: "POST", Path: "/functions/v1/tenant-stats", Body: `{"action":"get-live-stats","tenantId":"` + functest.TenantA + `"}`},
	}
	aws, _ := awsEnv(b, tpl, params)
	dir := b.TempDir()
	for _, name := range contractFunctions {
		id, _ := tpl.FunctionFor(name)
		var arm, bin string
		for _, mode := range []string{"plain", "secret"} {
			b.Run(name+"/"+mode, func(b *testing.B) {
				var err error
				if bin == "" {
					if arm, err = sam.Build(id, "arm64", filepath.Join(dir, "arm-"+id)); err != nil {
						b.Fatal(err)
					}
					if bin, err = sam.Build(id, goruntime.GOARCH, filepath.Join(dir, id)); err != nil {
						b.Fatal(err)
					}
				}
				st, _ := os.Stat(arm)
				env, _ := tpl.Env(id, params)
				if mode == "secret" {
					env = merge(env, aws)
				} else {
					delete(env, "SECRETS_ARN")
					env["DATABASE_URL"], env["SUPABASE_JWT_SECRET"] = params["DatabaseUrl"], params["SupabaseJwtSecret"]
					env["CREDENTIALS_KEY"] = params["CredentialsKey"]
				}
				req := reads[name]
				req.Headers = map[string]string{"authorization": "Bearer " + functest.Token(b, functest.ViewerA), "content-type": "application/json"}
				times := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					start := time.Now()
					emu, err := sam.StartEmulator(ctx, bin, env)
					if err != nil {
						b.Fatal(err)
					}
					a, err := emu.Invoke(ctx, req.V2("cold"))
					elapsed := time.Since(start)
					emu.Stop()
					cancel()
					if err != nil || a.Status != 200 {
						b.Fatalf("invoke: %v %d %s", err, a.Status, a.Body)
					}
					times = append(times, elapsed)
				}
				b.StopTimer()
				sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
				b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median-cold")
				b.ReportMetric(float64(st.Size())/(1<<20), "MiB-arm64")
			})
		}
	}
}
