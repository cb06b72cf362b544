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
	Resources map[string]Resource `yaml:"Resources"`
	Outputs   map[string]any      `yaml:"Outputs"`
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
// variables, each {Ref: Param} resolved to the parameter's value in params,
// else its default.
func (t *Template) Env(logicalID string, params map[string]string) (map[string]string, error) {
	out := map[string]string{}
	add := func(vars map[string]any) error {
		for k, v := range vars {
			switch x := v.(type) {
			case string:
				out[k] = x
			case map[string]any:
				ref, ok := x["Ref"].(string)
				if !ok {
					return fmt.Errorf("%s: only {Ref: Param} is supported in environment variables", k)
				}
				if val, ok := params[ref]; ok {
					out[k] = val
				} else if p, ok := t.Parameters[ref]; ok && p.Default != nil {
					out[k] = *p.Default
				} else if ok {
					out[k] = ""
				} else {
					return fmt.Errorf("%s refers to unknown parameter %s", k, ref)
				}
			default:
				return fmt.Errorf("%s: unsupported value %T", k, v)
			}
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
