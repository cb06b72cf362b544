package sam_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pvetenant/backend/functions/catalog"

	"github.com/pvetenant/backend/infra/sam"
	"github.com/pvetenant/backend/shared/awssecrets/smtest"
	"github.com/pvetenant/backend/shared/metrics"
	"github.com/pvetenant/backend/shared/metrics/emftest"
	"github.com/pvetenant/backend/shared/setup"
)

// Each function takes only the keys it needs: the service role key only
// where invites happen (tenants), the credentials key only where Proxmox
// credentials are opened.
func TestEachFunctionTakesOnlyItsSecretKeys(t *testing.T) {
	for _, f := range catalog.Functions {
		keys := map[string]bool{}
		for _, k := range setup.SecretKeys(f.Needs) {
			keys[k.Name] = true
		}
		if keys["SUPABASE_SERVICE_ROLE_KEY"] != (f.Name == "tenants") {
			t.Errorf("%s takes the service role key: %v", f.Name, keys["SUPABASE_SERVICE_ROLE_KEY"])
		}
		if keys["CREDENTIALS_KEY"] != f.Needs.Credentials || keys["CREDENTIALS_PREVIOUS_KEYS"] != f.Needs.Credentials {
			t.Errorf("%s: credentials keys %v, needs credentials %v", f.Name, keys, f.Needs.Credentials)
		}
		if !keys["DATABASE_URL"] || !keys["SUPABASE_JWT_SECRET"] {
			t.Errorf("%s: keys %v", f.Name, keys)
		}
	}
}

// The secret the stack creates holds exactly the keys the code reads from
// it, and every function is pointed at it (or at the ARN given instead).
func TestSecretHoldsTheKeysTheCodeReads(t *testing.T) {
	tpl := load(t)
	sec, ok := tpl.Raw["Secret"]
	if !ok || sec.Type != "AWS::SecretsManager::Secret" || sec.Condition != "CreateSecret" {
		t.Fatalf("secret resource %+v", sec)
	}
	params := map[string]string{}
	for p := range tpl.Parameters {
		params[p] = "v-" + p
	}
	params["SecretArn"] = ""
	s, err := tpl.Resolve(sec.Properties["SecretString"], params)
	if err != nil {
		t.Fatal(err)
	}
	var held map[string]string
	if err := json.Unmarshal([]byte(s), &held); err != nil {
		t.Fatalf("SecretString is not a JSON object: %v\n%s", err, s)
	}
	want := map[string]bool{}
	for _, f := range catalog.Functions {
		for _, k := range setup.SecretKeys(f.Needs) {
			want[k.Name] = true
		}
	}
	if !reflect.DeepEqual(keysOf(held), sortedKeys(want)) {
		t.Fatalf("secret holds %v, the code reads %v", keysOf(held), sortedKeys(want))
	}
	// Every secret parameter lands in the secret, under its variable's name.
	for k, p := range map[string]string{"DATABASE_URL": "DatabaseUrl", "SUPABASE_JWT_SECRET": "SupabaseJwtSecret", "CREDENTIALS_KEY": "CredentialsKey",
		"CREDENTIALS_PREVIOUS_KEYS": "CredentialsPreviousKeys", "SUPABASE_SERVICE_ROLE_KEY": "SupabaseServiceRoleKey"} {
		if held[k] != "v-"+p || !tpl.Parameters[p].NoEcho {
			t.Errorf("%s = %q, want parameter %s (NoEcho)", k, held[k], p)
		}
	}
	for _, name := range contractFunctions {
		id, _ := tpl.FunctionFor(name)
		for given, wantARN := range map[string]string{"": sam.ResourceARN("Secret"), "arn:aws:secretsmanager:eu-west-1:1:secret:mine": "arn:aws:secretsmanager:eu-west-1:1:secret:mine"} {
			env, err := tpl.Env(id, map[string]string{"SecretArn": given})
			if err != nil {
				t.Fatal(err)
			}
			if env["SECRETS_ARN"] != wantARN {
				t.Errorf("%s with SecretArn %q: SECRETS_ARN %q, want %q", name, given, env["SECRETS_ARN"], wantARN)
			}
		}
	}
}

// Each function's role may read that one secret and nothing else.
func TestPolicyNamesOnlyTheSecret(t *testing.T) {
	tpl := load(t)
	for _, name := range contractFunctions {
		id, _ := tpl.FunctionFor(name)
		policies, _ := tpl.Raw[id].Properties["Policies"].([]any)
		if len(policies) != 1 {
			t.Fatalf("%s: policies %v, want one statement list", name, policies)
		}
		doc, _ := policies[0].(map[string]any)
		stmts, _ := doc["Statement"].([]any)
		if len(doc) != 1 || len(stmts) != 1 {
			t.Fatalf("%s: policy %v, want one statement", name, doc)
		}
		st, _ := stmts[0].(map[string]any)
		if st["Effect"] != "Allow" || st["Action"] != "secretsmanager:GetSecretValue" || len(st) != 3 {
			t.Fatalf("%s: statement %v, want Allow secretsmanager:GetSecretValue on the secret only", name, st)
		}
		for _, given := range []string{"", "arn:aws:secretsmanager:eu-west-1:1:secret:mine"} {
			p := map[string]string{"SecretArn": given}
			res, err := tpl.Resolve(st["Resource"], p)
			env, _ := tpl.Env(id, p)
			if err != nil || res != env["SECRETS_ARN"] || strings.Contains(res, "*") {
				t.Errorf("%s with SecretArn %q: policy resource %q (%v), function reads %q", name, given, res, err, env["SECRETS_ARN"])
			}
		}
	}
}

// emitted is what the code really writes: every metric name and dimension
// in EMF lines from a request and a tenant-stats poll.
func emitted(t *testing.T) (names map[string]bool, dims map[string]bool) {
	var buf bytes.Buffer
	restore := metrics.SetOutput(&buf)
	metrics.Request("tenant-stats", 500, time.Millisecond)
	metrics.TenantStats("tenant-stats", metrics.Stats{Queried: 1, Offline: 1, Fetched: []time.Duration{time.Millisecond}, Errors: 1})
	restore()
	names, dims = map[string]bool{}, map[string]bool{}
	for _, l := range emftest.Parse(t, buf.String()) {
		for _, d := range l.AWS.CloudWatchMetrics[0].Dimensions {
			dims[strings.Join(d, ",")] = true
		}
		for _, m := range l.AWS.CloudWatchMetrics[0].Metrics {
			names[m.Name] = true
		}
	}
	return names, dims
}

// Alarms read only metrics the code emits, in its namespace, with
// dimensions it writes; there is one on the 5xx rate and one on Proxmox
// errors.
func TestAlarmsReferToMetricsTheCodeEmits(t *testing.T) {
	tpl := load(t)
	names, dims := emitted(t)
	onlyStats := map[string]bool{metrics.ServersQueried: true, metrics.ServersOffline: true, metrics.CacheHits: true,
		metrics.CacheMisses: true, metrics.ProxmoxErrors: true, metrics.ProxmoxLatency: true}
	watched := map[string]bool{}
	for id, r := range tpl.Raw {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		var ms []map[string]any
		if r.Properties["MetricName"] != nil {
			ms = append(ms, r.Properties)
		}
		ids := map[string]bool{}
		var exprs []string
		list, _ := r.Properties["Metrics"].([]any)
		for _, x := range list {
			q, _ := x.(map[string]any)
			ids[fmt.Sprint(q["Id"])] = true
			if e, ok := q["Expression"].(string); ok {
				exprs = append(exprs, e)
			}
			if st, ok := q["MetricStat"].(map[string]any); ok {
				m, _ := st["Metric"].(map[string]any)
				ms = append(ms, m)
			}
		}
		for _, e := range exprs {
			for _, w := range strings.FieldsFunc(e, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') }) {
				if !ids[w] {
					t.Errorf("%s: expression %q names %s, which is no metric of the alarm", id, e, w)
				}
			}
		}
		if len(ms) == 0 {
			t.Errorf("%s reads no metric", id)
		}
		for _, m := range ms {
			name := fmt.Sprint(m["MetricName"])
			if m["Namespace"] != metrics.Namespace || !names[name] {
				t.Errorf("%s: metric %v %v is not one the code emits", id, m["Namespace"], name)
			}
			dl, _ := m["Dimensions"].([]any)
			var keys []string
			for _, d := range dl {
				dm, _ := d.(map[string]any)
				keys = append(keys, fmt.Sprint(dm["Name"]))
				switch dm["Name"] {
				case metrics.ServiceDimension:
					if dm["Value"] != metrics.Namespace {
						t.Errorf("%s: Service %v", id, dm["Value"])
					}
				case metrics.Dimension:
					if onlyStats[name] && dm["Value"] != "tenant-stats" || !contains(contractFunctions, fmt.Sprint(dm["Value"])) {
						t.Errorf("%s: %s for function %v, which does not emit it", id, name, dm["Value"])
					}
				}
			}
			sort.Strings(keys)
			if !dims[strings.Join(keys, ",")] {
				t.Errorf("%s: dimensions %v are not a set the code writes (%v)", id, keys, dims)
			}
			watched[name] = true
		}
	}
	for _, n := range []string{metrics.Errors5x, metrics.Requests, metrics.ProxmoxErrors} {
		if !watched[n] {
			t.Errorf("no alarm reads %s", n)
		}
	}
}

// Default route throttling and optional reserved concurrency come from
// parameters.
func TestThrottlingAndConcurrencyAreParameters(t *testing.T) {
	tpl := load(t)
	api := tpl.Raw["FunctionsApi"].Properties
	rs, _ := api["DefaultRouteSettings"].(map[string]any)
	for prop, param := range map[string]string{"ThrottlingRateLimit": "ApiThrottleRate", "ThrottlingBurstLimit": "ApiThrottleBurst"} {
		ref, _ := rs[prop].(map[string]any)
		if ref["Ref"] != param || tpl.Parameters[param].Type != "Number" || tpl.Parameters[param].Default == nil {
			t.Errorf("DefaultRouteSettings.%s = %v, want {Ref: %s} (a Number with a default)", prop, rs[prop], param)
		}
	}
	for _, name := range contractFunctions {
		id, _ := tpl.FunctionFor(name)
		v, _ := tpl.Raw[id].Properties["ReservedConcurrentExecutions"].(map[string]any)
		args, _ := v["Fn::If"].([]any)
		if len(args) != 3 {
			t.Fatalf("%s: ReservedConcurrentExecutions %v, want Fn::If on a parameter", name, v)
		}
		cond, _ := args[0].(string)
		ref, _ := args[1].(map[string]any)
		param, _ := ref["Ref"].(string)
		none, _ := args[2].(map[string]any)
		p := tpl.Parameters[param]
		if p.Type != "Number" || p.Default == nil || *p.Default != "-1" || none["Ref"] != "AWS::NoValue" {
			t.Fatalf("%s: reserved concurrency parameter %s %+v", name, param, p)
		}
		off, err1 := tpl.Condition(cond, nil)
		on, err2 := tpl.Condition(cond, map[string]string{param: "10"})
		if err1 != nil || err2 != nil || off || !on {
			t.Errorf("%s: condition %s is %v by default and %v with 10 (%v %v)", name, cond, off, on, err1, err2)
		}
	}
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// awsEnv starts a local Secrets Manager holding the secret the template
// would create from params, and returns what Lambda would add to a
// function's environment (role credentials, region) plus the endpoint
// pointing the SDK at the stand-in (BaseEndpoint).
func awsEnv(t testing.TB, tpl *sam.Template, params map[string]string) (map[string]string, *smtest.Server) {
	t.Helper()
	secret, err := tpl.Resolve(tpl.Raw["Secret"].Properties["SecretString"], params)
	if err != nil {
		t.Fatal(err)
	}
	sm := smtest.New(map[string]string{sam.ResourceARN("Secret"): secret})
	t.Cleanup(sm.Close)
	return map[string]string{
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": awsSecretKey, "AWS_SESSION_TOKEN": "session-token",
	}, sm
}

const awsSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
