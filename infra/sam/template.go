// Package sam reads template.yaml and reproduces what `sam build` and
// `sam local invoke` do, with real parts and no Docker: the Makefile targets
// build each function as `bootstrap`, and the AWS Lambda Runtime Interface
// Emulator runs it with the template's environment.
package sam

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is the part of template.yaml the tests and tools read.
type Template struct {
	Parameters map[string]Parameter `yaml:"Parameters"`
	Globals    struct {
		Function FunctionProps `yaml:"Function"`
	} `yaml:"Globals"`
	Resources  map[string]Resource `yaml:"Resources"`
	Outputs    map[string]any      `yaml:"Outputs"`
	Conditions map[string]any      `yaml:"Conditions"`
	// Raw is every resource's properties as parsed, for the checks that read
	// more than a function's (secret, API, alarms, policies).
	Raw map[string]RawResource `yaml:"-"`
}

// RawResource is a resource with untyped properties.
type RawResource struct {
	Type       string         `yaml:"Type"`
	Condition  string         `yaml:"Condition"`
	Properties map[string]any `yaml:"Properties"`
}

// Parameter is one template parameter.
type Parameter struct {
	Type          string   `yaml:"Type"`
	NoEcho        bool     `yaml:"NoEcho"`
	Default       *string  `yaml:"Default"`
	AllowedValues []string `yaml:"AllowedValues"`
}

// FunctionProps are the properties of a function (or the Globals).
type FunctionProps struct {
	Runtime       string   `yaml:"Runtime"`
	Architectures []string `yaml:"Architectures"`
	Handler       string   `yaml:"Handler"`
	CodeUri       string   `yaml:"CodeUri"`
	MemorySize    int      `yaml:"MemorySize"`
	Timeout       int      `yaml:"Timeout"`
	Environment   struct {
		Variables map[string]any `yaml:"Variables"`
	} `yaml:"Environment"`
	Events map[string]struct {
		Type       string `yaml:"Type"`
		Properties struct {
			Path   string `yaml:"Path"`
			Method string `yaml:"Method"`
		} `yaml:"Properties"`
	} `yaml:"Events"`
}

// Resource is one template resource.
type Resource struct {
	Type       string         `yaml:"Type"`
	Metadata   map[string]any `yaml:"Metadata"`
	Properties FunctionProps  `yaml:"Properties"`
}

// Root is the repository root (where template.yaml is).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Load parses template.yaml.
func Load() (*Template, error) {
	b, err := os.ReadFile(filepath.Join(Root(), "template.yaml"))
	if err != nil {
		return nil, err
	}
	var t Template
	if err := yaml.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("template.yaml: %w", err)
	}
	var raw struct {
		Resources map[string]RawResource `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("template.yaml: %w", err)
	}
	t.Raw = raw.Resources
	return &t, nil
}

// FunctionFor returns the logical id of the function routed at
// /functions/v1/<name>.
func (t *Template) FunctionFor(name string) (string, bool) {
	for id, r := range t.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		for _, e := range r.Properties.Events {
			if e.Properties.Path == "/functions/v1/"+name {
				return id, true
			}
		}
	}
	return "", false
}

// Env returns the environment a function gets: Globals merged with its own
// variables, each value resolved by Resolve.
func (t *Template) Env(logicalID string, params map[string]string) (map[string]string, error) {
	out := map[string]string{}
	add := func(vars map[string]any) error {
		for k, v := range vars {
			val, err := t.Resolve(v, params)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			out[k] = val
		}
		return nil
	}
	if err := add(t.Globals.Function.Environment.Variables); err != nil {
		return nil, err
	}
	r, ok := t.Resources[logicalID]
	if !ok {
		return nil, fmt.Errorf("no resource %s", logicalID)
	}
	if err := add(r.Properties.Environment.Variables); err != nil {
		return nil, err
	}
	return out, nil
}

// EnvNames lists a function's variable names, sorted.
func (t *Template) EnvNames(logicalID string) []string {
	env, _ := t.Env(logicalID, nil)
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// EnvList renders env as KEY=VALUE pairs for exec.
func EnvList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// HasMakeTarget reports whether the Makefile has build-<logicalID>.
func HasMakeTarget(logicalID string) bool {
	b, err := os.ReadFile(filepath.Join(Root(), "Makefile"))
	return err == nil && strings.Contains(string(b), "\nbuild-"+logicalID+":")
}

// Build runs the function's Makefile target as `sam build` would, for goarch,
// and returns the path of the bootstrap it produced in dir.
func Build(logicalID, goarch, dir string) (string, error) {
	cmd := exec.Command("make", "-s", "-C", Root(), "build-"+logicalID, "ARTIFACTS_DIR="+dir, "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build-%s: %v\n%s", logicalID, err, out)
	}
	return filepath.Join(dir, "bootstrap"), nil
}

// ResourceARN is what {Ref: X} of a resource resolves to here: a Secrets
// Manager-style ARN naming the logical id (the only resource a variable
// refers to is the secret).
func ResourceARN(logicalID string) string {
	return "arn:aws:secretsmanager:us-east-1:123456789012:secret:" + logicalID + "-AbCdEf"
}

// Resolve evaluates the intrinsic functions the template uses in values: a
// string; {Ref: Param} (params, else its default); {Ref: Resource}
// (ResourceARN); {Fn::If: [Condition, a, b]} with conditions made of
// Fn::Equals, Fn::Not and Condition; {Fn::Sub: "...${Param}..."}.
func (t *Template) Resolve(v any, params map[string]string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int:
		return fmt.Sprint(x), nil
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			if val, ok := params[ref]; ok {
				return val, nil
			}
			if p, ok := t.Parameters[ref]; ok {
				if p.Default != nil {
					return *p.Default, nil
				}
				return "", nil
			}
			if _, ok := t.Raw[ref]; ok {
				return ResourceARN(ref), nil
			}
			return "", fmt.Errorf("refers to unknown parameter %s", ref)
		}
		if args, ok := x["Fn::If"].([]any); ok && len(args) == 3 {
			name, _ := args[0].(string)
			c, err := t.Condition(name, params)
			if err != nil {
				return "", err
			}
			if c {
				return t.Resolve(args[1], params)
			}
			return t.Resolve(args[2], params)
		}
		if str, ok := x["Fn::Sub"].(string); ok {
			var err error
			out := subPattern.ReplaceAllStringFunc(str, func(m string) string {
				v, e := t.Resolve(map[string]any{"Ref": m[2 : len(m)-1]}, params)
				if e != nil {
					err = e
				}
				return v
			})
			return out, err
		}
	}
	return "", fmt.Errorf("unsupported value %v", v)
}

var subPattern = regexp.MustCompile(`\$\{[A-Za-z0-9:]+\}`)

// Condition evaluates a named condition.
func (t *Template) Condition(name string, params map[string]string) (bool, error) {
	c, ok := t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %s", name)
	}
	return t.eval(c, params)
}

func (t *Template) eval(c any, params map[string]string) (bool, error) {
	m, _ := c.(map[string]any)
	if args, ok := m["Fn::Equals"].([]any); ok && len(args) == 2 {
		a, err := t.Resolve(args[0], params)
		if err != nil {
			return false, err
		}
		b, err := t.Resolve(args[1], params)
		return a == b, err
	}
	if args, ok := m["Fn::Not"].([]any); ok && len(args) == 1 {
		v, err := t.eval(args[0], params)
		return !v, err
	}
	if name, ok := m["Condition"].(string); ok {
		return t.Condition(name, params)
	}
	return false, fmt.Errorf("unsupported condition %v", c)
}
