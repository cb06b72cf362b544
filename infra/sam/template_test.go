package sam_test

import (
	"debug/elf"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pvetenant/backend/functions/catalog"

	"github.com/pvetenant/backend/infra/sam"
	"github.com/pvetenant/backend/shared/setup"
)

// The four names the app calls.
var contractFunctions = []string{"proxmox-servers", "list-vms", "tenants", "tenant-stats"}

func load(t *testing.T) *sam.Template {
	t.Helper()
	tpl, err := sam.Load()
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// envRead returns every variable setup.FromEnv reads: the one place the
// functions read their environment (TestOnlySetupReadsTheEnvironment).
func envRead() []string {
	seen := map[string]bool{}
	_, _ = setup.FromEnv(func(k string) string { seen[k] = true; return "" })
	names := make([]string, 0, len(seen))
	for k := range seen {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// secretKey reports whether name is a setting some function takes from the
// Secrets Manager secret (setup.SecretKeys): such a setting must never be
// a plain variable in the template.
func secretKey(name string) bool {
	for _, f := range catalog.Functions {
		for _, k := range setup.SecretKeys(f.Needs) {
			if k.Name == name {
				return true
			}
		}
	}
	return false
}

func TestRoutesCoverTheFourFunctions(t *testing.T) {
	tpl := load(t)
	for _, name := range contractFunctions {
		id, ok := tpl.FunctionFor(name)
		if !ok {
			t.Fatalf("no function routed at /functions/v1/%s", name)
		}
		paths := map[string]string{}
		for _, e := range tpl.Resources[id].Properties.Events {
			if e.Type != "HttpApi" {
				t.Errorf("%s: event type %s, want HttpApi", id, e.Type)
			}
			paths[e.Properties.Path] = e.Properties.Method
		}
		// The contract ignores anything after the name: both routes, every method.
		for _, p := range []string{"/functions/v1/" + name, "/functions/v1/" + name + "/{proxy+}"} {
			if paths[p] != "ANY" {
				t.Errorf("%s: route %s has method %q, want ANY", id, p, paths[p])
			}
		}
	}
	registered := map[string]bool{}
	for _, f := range catalog.Functions {
		registered[f.Name] = true
	}
	for _, name := range contractFunctions {
		if !registered[name] {
			t.Errorf("%s is not served by the local server", name)
		}
	}
}

func TestEveryVariableTheCodeReadsIsSet(t *testing.T) {
	tpl := load(t)
	read := envRead()
	if len(read) < 10 {
		t.Fatalf("setup.FromEnv read only %v", read)
	}
	for _, f := range catalog.Functions {
		id, ok := tpl.FunctionFor(f.Name)
		if !ok {
			t.Fatalf("%s not in the template", f.Name)
		}
		got := map[string]bool{}
		for _, n := range tpl.EnvNames(id) {
			got[n] = true
		}
		for _, n := range read {
			if secretKey(n) {
				if got[n] {
					t.Errorf("%s gets the secret %s as a plain variable; it belongs in the secret", f.Name, n)
				}
				continue
			}
			if !got[n] {
				t.Errorf("%s reads %s but the template does not set it", f.Name, n)
			}
		}
		for n := range got {
			if !contains(read, n) {
				t.Errorf("%s: the template sets %s, which no code reads", f.Name, n)
			}
		}
	}
}

func TestSecretsAreNoEcho(t *testing.T) {
	tpl := load(t)
	for _, p := range []string{"DatabaseUrl", "SupabaseJwtSecret", "SupabaseServiceRoleKey", "CredentialsKey", "CredentialsPreviousKeys"} {
		if !tpl.Parameters[p].NoEcho {
			t.Errorf("parameter %s holds a secret and must be NoEcho", p)
		}
	}
	// The template's defaults mean what the code does when the variable is
	// unset: read through the code's own FromEnv, not compared to copies.
	env := map[string]string{}
	for p, name := range map[string]string{"ProxmoxTimeout": "PROXMOX_TIMEOUT", "TaskFollow": "TASK_FOLLOW", "StatsCacheTtl": "STATS_CACHE_TTL",
		"RequestTimeout": "REQUEST_TIMEOUT", "AllowedOrigins": "ALLOWED_ORIGINS", "LogLevel": "LOG_LEVEL"} {
		d := tpl.Parameters[p].Default
		if d == nil {
			t.Fatalf("parameter %s has no default", p)
		}
		env[name] = *d
	}
	fromTemplate, err := setup.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	unset, _ := setup.FromEnv(func(string) string { return "" })
	if !reflect.DeepEqual(fromTemplate, unset) {
		t.Errorf("the template's defaults give %+v, the code's %+v", fromTemplate, unset)
	}
}

func TestFunctionsRunOnProvidedAL2023Arm64(t *testing.T) {
	tpl := load(t)
	g := tpl.Globals.Function
	if g.Runtime != "provided.al2023" || strings.Join(g.Architectures, ",") != "arm64" || g.Handler != "bootstrap" {
		t.Fatalf("globals: %+v", g)
	}
	// The Lambda timeout covers the request deadline; API Gateway gives up at 30 s.
	if g.Timeout < 26 || g.Timeout > 30 {
		t.Fatalf("timeout %d s", g.Timeout)
	}
}

// Every function's CodeUri builds with its Makefile target, as `sam build`
// would run it: a static linux/arm64 executable named bootstrap.
func TestEveryCodeUriBuilds(t *testing.T) {
	tpl := load(t)
	for _, name := range contractFunctions {
		id, _ := tpl.FunctionFor(name)
		t.Run(name, func(t *testing.T) {
			r := tpl.Resources[id]
			if r.Metadata["BuildMethod"] != "makefile" {
				t.Fatalf("%s: BuildMethod %v", id, r.Metadata["BuildMethod"])
			}
			codeURI := r.Properties.CodeUri
			if codeURI == "" {
				codeURI = tpl.Globals.Function.CodeUri
			}
			if _, err := os.Stat(filepath.Join(sam.Root(), codeURI, "Makefile")); err != nil || !sam.HasMakeTarget(id) {
				t.Fatalf("%s: no Makefile target build-%s under CodeUri %q", id, id, codeURI)
			}
			bin, err := sam.Build(id, "arm64", t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 {
				t.Fatalf("bootstrap is for %v", f.Machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Fatal("bootstrap is dynamically linked; provided.al2023 needs CGO_ENABLED=0")
				}
			}
		})
	}
}

// Functions read configuration only through setup.FromEnv, so the template
// test above sees every variable.
func TestOnlySetupReadsTheEnvironment(t *testing.T) {
	root := sam.Root()
	for _, dir := range []string{"shared", "functions"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			if strings.HasSuffix(path, filepath.Join("shared", "setup", "setup.go")) {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv" || sel.Sel.Name == "Environ") {
						t.Errorf("%s reads the environment directly (os.%s): go through setup.FromEnv", path, sel.Sel.Name)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
