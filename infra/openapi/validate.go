package openapi

import (
	"bytes"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// committed is the document in the repository, the one the app's types are
// generated from; TestDocumentIsCurrent keeps it equal to Document().
//
//go:embed openapi.json
var committed []byte

// Committed returns the committed document.
func Committed() []byte { return committed }

var (
	compileOnce sync.Once
	compiler    *jsonschema.Compiler
	compileErr  error
	compiledMu  sync.Mutex
	compiled    = map[string]*jsonschema.Schema{}
)

func schemaAt(pointer string) (*jsonschema.Schema, error) {
	compileOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(committed))
		if err != nil {
			compileErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		compileErr = c.AddResource("openapi.json", doc)
		compiler = c
	})
	if compileErr != nil {
		return nil, compileErr
	}
	compiledMu.Lock()
	defer compiledMu.Unlock()
	if s, ok := compiled[pointer]; ok {
		return s, nil
	}
	s, err := compiler.Compile("openapi.json#" + pointer)
	if err != nil {
		return nil, err
	}
	compiled[pointer] = s
	return s, nil
}

// Find returns the operation of function and action.
func Find(function, action string) (Operation, bool) {
	for _, op := range Operations() {
		if op.Function == function && op.Action == action {
			return op, true
		}
	}
	return Operation{}, false
}

// ValidateAnswer checks an answer of function's action against the
// committed document: the success status with its answer's schema, or an
// error status with the error schema. Any other status is not in the
// document and is an error too.
func ValidateAnswer(function, action string, status int, body []byte) error {
	op, ok := Find(function, action)
	if !ok && status >= 400 {
		// Refused before any action was chosen (unknown action, bad body,
		// no token): the error shape still holds.
		return validate("/components/schemas/Error", function, action, status, body)
	}
	if !ok {
		return fmt.Errorf("%s has no action %q in the OpenAPI document (infra/openapi/operations.go)", function, action)
	}
	path := "/paths/" + escape("/functions/v1/"+function+"/"+action) + "/post/responses/"
	switch {
	case status == op.Status:
		path += strconv.Itoa(status)
	case status >= 400:
		path += "default"
	default:
		return fmt.Errorf("%s %s answered %d, the document says %d", function, action, status, op.Status)
	}
	return validate(path+"/content/application~1json/schema", function, action, status, body)
}

func validate(pointer, function, action string, status int, body []byte) error {
	s, err := schemaAt(pointer)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("answer is not JSON: %w", err)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("%s %s %d does not match the OpenAPI document: %v", function, action, status, err)
	}
	return nil
}

// escape makes s one JSON pointer token.
func escape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
