// Package openapi is the functions' contract as data: every action with its
// request and answer types, an OpenAPI 3.1 document generated from those Go
// types (never written by hand), and a validator the function tests run every
// answer through, so an answer that drifts from the document fails a test.
package openapi

import (
	"github.com/pvetenant/backend/functions/catalog"
	"github.com/pvetenant/backend/shared/httpapi"
)

// Operation is one action of one function.
type Operation struct {
	Function string
	httpapi.Operation
}

// ByMethod is the action a request that names none means, per function and
// HTTP method (the contract's table); infra/localserver's test checks the
// handlers agree.
var ByMethod = func() map[string]map[string]string {
	m := map[string]map[string]string{}
	for _, f := range catalog.Functions {
		m[f.Name] = f.Describe().ByMethod
	}
	return m
}()

// Error is every error answer.
type Error struct {
	Error string `json:"error" jsonschema:"description=a sentence for a person"`
	Code  string `json:"code" jsonschema:"description=snake_case, stable; see the README's list"`
}

// Operations is every action of every function, as each function describes
// its own (functions/catalog).
func Operations() []Operation {
	var out []Operation
	for _, f := range catalog.Functions {
		for _, op := range f.Describe().Operations {
			out = append(out, Operation{Function: f.Name, Operation: op})
		}
	}
	return out
}
