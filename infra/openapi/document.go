package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/invopop/jsonschema"

	tenantstats "github.com/pvetenant/backend/functions/tenant-stats"
	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/guests"
	"github.com/pvetenant/backend/shared/proxmox"
)

// Title and Version head the document.
const (
	Title   = "pvetenant functions"
	Version = "1"
)

func reflector() *jsonschema.Reflector {
	return &jsonschema.Reflector{
		// Answers carry exactly the documented fields: a field the document
		// does not name (a secret, say) fails the tests' validation.
		AllowAdditionalProperties: false,
		Namer:                     func(t reflect.Type) string { return nameOf(t) },
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			switch t {
			case reflect.TypeFor[json.RawMessage]():
				return &jsonschema.Schema{} // any JSON value
			case reflect.TypeFor[proxmox.Status]():
				s := &jsonschema.Schema{Type: "string"}
				for _, v := range []proxmox.Status{proxmox.StatusOnline, proxmox.StatusOffline, proxmox.StatusAuthError, proxmox.StatusTLSError, proxmox.StatusTimeout, proxmox.StatusError} {
					s.Enum = append(s.Enum, string(v))
				}
				return s
			}
			return nil
		},
	}
}

// schemas reflects v into components (shared by name) and returns the
// reference to it. A Go pointer field is nullable, as encoding/json writes
// nil as null. Two Go types of one name are an error, not a silent merge.
func schemas(r *jsonschema.Reflector, c *components, v any) (string, error) {
	s := r.Reflect(v)
	for name, d := range s.Definitions {
		if _, ok := c.schemas[name]; !ok {
			c.schemas[name] = d
		}
	}
	if err := c.markNullable(reflect.TypeOf(v)); err != nil {
		return "", err
	}
	return strings.TrimPrefix(s.Ref, "#/$defs/"), nil
}

// nameOf names a Go type in the document: its Go name, except where the
// contract has another name for it.
func nameOf(t reflect.Type) string {
	if t == reflect.TypeFor[fanout.Health]() {
		return "ServerHealth"
	}
	return t.Name()
}

type components struct {
	schemas map[string]*jsonschema.Schema
	types   map[string]reflect.Type // which Go type each name came from
}

func (c *components) markNullable(t reflect.Type) error {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.Name() == "" {
		return nil
	}
	name := nameOf(t)
	if seen, ok := c.types[name]; ok {
		if seen != t {
			return fmt.Errorf("two Go types named %s: %s and %s", name, seen.PkgPath(), t.PkgPath())
		}
		return nil
	}
	c.types[name] = t
	def := c.schemas[name]
	var fields func(st reflect.Type) error
	fields = func(st reflect.Type) error {
		for i := range st.NumField() {
			f := st.Field(i)
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				if err := fields(f.Type); err != nil { // inlined, as encoding/json does
					return err
				}
				continue
			}
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if err := c.markNullable(f.Type); err != nil {
				return err
			}
			if def == nil || f.Type.Kind() != reflect.Pointer {
				continue
			}
			if p, ok := def.Properties.Get(name); ok && len(p.OneOf) == 0 {
				def.Properties.Set(name, &jsonschema.Schema{OneOf: []*jsonschema.Schema{p, {Type: "null"}}})
			}
		}
		return nil
	}
	return fields(t)
}

// Document is the OpenAPI 3.1 document of every operation, as indented JSON.
// Each action is its own path (/functions/v1/<function>/<action>); the app's
// supabase-js form, POST /functions/v1/<function> with "action" in the
// body, is the same operation.
func Document() ([]byte, error) {
	r := reflector()
	components := &components{schemas: map[string]*jsonschema.Schema{}, types: map[string]reflect.Type{}}
	for _, extra := range []any{tenantstats.Storage{}, guests.VM{}} {
		if _, err := schemas(r, components, extra); err != nil {
			return nil, err
		}
	}
	errRef, err := schemas(r, components, Error{})
	if err != nil {
		return nil, err
	}
	paths := map[string]any{}
	for _, op := range Operations() {
		reqRef, err := schemas(r, components, op.Request)
		if err != nil {
			return nil, err
		}
		ansRef, err := schemas(r, components, op.Answer)
		if err != nil {
			return nil, err
		}
		body := map[string]any{"allOf": []any{
			map[string]any{"$ref": "#/components/schemas/" + reqRef},
		}}
		// The body may repeat the action, as the app's invoke() calls do.
		withAction := map[string]any{"type": "object", "properties": map[string]any{"action": map[string]any{"const": op.Action}}}
		body["allOf"] = append(body["allOf"].([]any), withAction)
		errAnswer := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"$ref": "#/components/schemas/" + errRef}}}}
		paths["/functions/v1/"+op.Function+"/"+op.Action] = map[string]any{
			"post": map[string]any{
				"operationId": op.Function + "." + op.Action,
				"tags":        []string{op.Function},
				"summary":     op.Summary,
				"security":    []any{map[string]any{"supabase": []string{}}},
				"requestBody": map[string]any{"required": false, "content": map[string]any{"application/json": map[string]any{"schema": body}}},
				"responses": map[string]any{
					strconv.Itoa(op.Status): map[string]any{"description": http.StatusText(op.Status), "content": map[string]any{"application/json": map[string]any{
						"schema": map[string]any{"$ref": "#/components/schemas/" + ansRef}}}},
					"default": errAnswer,
				},
			},
		}
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": Title, "version": Version,
			"description": "Generated from the Go request and answer types by infra/openapi (go run ./infra/cmd/openapi); do not edit."},
		"jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
		"paths":             paths,
		"components": map[string]any{
			"schemas": components.schemas,
			"securitySchemes": map[string]any{"supabase": map[string]any{
				"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
				"description": "A Supabase Auth access token of a signed-in user"}},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	// invopop names local definitions #/$defs/X; in OpenAPI they live under
	// components.
	b = bytes.ReplaceAll(b, []byte(`"#/$defs/`), []byte(`"#/components/schemas/`))
	return append(b, '\n'), nil
}
