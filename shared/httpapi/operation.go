package httpapi

import (
	"context"
	"net/http"
)

// Parser is a request type: Parse fills it from the merged parameters and
// validates it, answering a 400 that names the field. It is the one place a
// request of that action is checked.
type Parser interface {
	Parse(Params) error
}

// NoParams is the request of an action that takes none.
type NoParams struct{}

// Parse accepts anything: extra fields are ignored, as everywhere.
func (*NoParams) Parse(Params) error { return nil }

// Operation is one action with its types: the request it parses, the answer
// it encodes and its success status. The OpenAPI document (infra/openapi) is
// generated from the same values the handler serves.
type Operation struct {
	Action  string
	Summary string
	Status  int
	Request any // a zero value of the request type
	Answer  any // a zero value of the answer type
	Handle  Action
}

// Op makes an Operation of a typed handler: parse → call → encode. The
// handler never sees parameters that did not pass Parse.
func Op[Req any, PReq interface {
	*Req
	Parser
}, Ans any](action string, status int, summary string, fn func(context.Context, *Request, Req) (Ans, error)) Operation {
	var req Req
	var ans Ans
	return Operation{Action: action, Summary: summary, Status: status, Request: req, Answer: ans,
		Handle: func(ctx context.Context, r *Request) (*Response, error) {
			var q Req
			if err := PReq(&q).Parse(r.Params); err != nil {
				return nil, err
			}
			a, err := fn(ctx, r, q)
			if err != nil {
				return nil, err
			}
			return &Response{Status: status, Body: a}, nil
		}}
}

// Get, Create and Accept are Op with the status of a read, a creation and an
// action Proxmox carries out after answering.
func Get[Req any, PReq interface {
	*Req
	Parser
}, Ans any](action, summary string, fn func(context.Context, *Request, Req) (Ans, error)) Operation {
	return Op[Req, PReq](action, http.StatusOK, summary, fn)
}

// Create answers 201.
func Create[Req any, PReq interface {
	*Req
	Parser
}, Ans any](action, summary string, fn func(context.Context, *Request, Req) (Ans, error)) Operation {
	return Op[Req, PReq](action, http.StatusCreated, summary, fn)
}

// Accept answers 202.
func Accept[Req any, PReq interface {
	*Req
	Parser
}, Ans any](action, summary string, fn func(context.Context, *Request, Req) (Ans, error)) Operation {
	return Op[Req, PReq](action, http.StatusAccepted, summary, fn)
}

// TenantRef is the request of an action on one tenant.
type TenantRef struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
}

// Parse requires tenantId.
func (q *TenantRef) Parse(p Params) (err error) {
	q.TenantID, err = p.RequiredUUID("tenantId")
	return err
}

// DeletedAnswer answers a deletion.
type DeletedAnswer struct {
	Deleted bool `json:"deleted"`
}
