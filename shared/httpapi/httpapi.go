// Package httpapi is the request plumbing every function shares, as plain
// net/http handlers: CORS and preflight, the 64 KiB body limit, body + query
// parameter merge, caller verification, action routing, JSON answers and
// errors, request ids and one structured log line per request. The local
// server, Lambda and the tests all run these same handlers.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/auth"
	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/metrics"
)

// DefaultTimeout bounds a whole request: API Gateway gives up at 29 s, and
// an answer after that reaches nobody. setup.FromEnv defaults REQUEST_TIMEOUT
// to it.
const DefaultTimeout = 25 * time.Second

// MaxBody is the request body limit of the contract.
const MaxBody = 64 << 10

// Verifier checks a bearer token; *auth.Verifier is one.
type Verifier interface {
	Verify(ctx context.Context, token string) (*auth.Claims, error)
}

// Server holds what every function's HTTP layer needs.
type Server struct {
	Verifier       Verifier
	Logger         *slog.Logger
	AllowedOrigins []string      // "*" (default) or exact origins
	Timeout        time.Duration // deadline for a whole request; DefaultTimeout when 0
	// Unavailable, when set, answers every request (after CORS and the
	// request id): a function whose configuration could not be read.
	Unavailable error
}

// Request is one verified call of an action.
type Request struct {
	ID     string
	Method string
	Action string
	Params Params
	Caller *auth.Claims
	Header http.Header
	Log    *slog.Logger

	tenant string
}

// SetTenant records the tenant a request acts on, for the log line.
func (r *Request) SetTenant(id string) { r.tenant = id }

// DB returns who database work runs as.
func (r *Request) DB() db.Caller {
	return db.Caller{UserID: r.Caller.UserID, Claims: r.Caller.Raw}
}

// Response is an action's answer.
type Response struct {
	Status int
	Body   any
}

// OK answers 200.
func OK(body any) *Response { return &Response{Status: http.StatusOK, Body: body} }

// Action handles one action of a function.
type Action func(ctx context.Context, r *Request) (*Response, error)

// Function is one deployed function: its operations and, for requests that
// name none, the action each HTTP method means.
type Function struct {
	Name       string
	Operations []Operation
	Actions    map[string]Action // untyped actions, beside Operations (tests, the unknown-function answer)
	ByMethod   map[string]string // e.g. GET: "list", POST: "create"
}

// actions is every action of f by name, typed or not.
func (f Function) actions() map[string]Action {
	m := make(map[string]Action, len(f.Actions)+len(f.Operations))
	for n, a := range f.Actions {
		m[n] = a
	}
	for _, op := range f.Operations {
		m[op.Action] = op.Handle
	}
	return m
}

const (
	allowHeaders = "authorization, x-client-info, apikey, content-type, x-region, x-retry-count"
	allowMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
)

// Handler serves f.
func (s *Server) Handler(f Function) http.Handler {
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	f.Actions = f.actions()
	names := make([]string, 0, len(f.Actions))
	for n := range f.Actions {
		names = append(names, n)
	}
	sort.Strings(names)

	return http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		start := time.Now()
		s.cors(w, hr)
		if hr.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		id := hr.Header.Get("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = newID()
		}
		w.Header().Set("X-Request-Id", id)
		req := &Request{ID: id, Method: hr.Method, Header: hr.Header}
		req.Log = logger.With("request_id", id, "function", f.Name)

		ctx, cancel := context.WithTimeout(hr.Context(), timeout)
		defer cancel()

		resp, err := s.serve(ctx, f, names, hr, req)
		status := writeAnswer(w, resp, err)

		attrs := []any{"method", hr.Method, "action", req.Action, "status", status,
			"duration_ms", time.Since(start).Milliseconds()}
		if req.Caller != nil {
			attrs = append(attrs, "user", req.Caller.UserID)
		}
		if req.tenant != "" {
			attrs = append(attrs, "tenant", req.tenant)
		}
		if err != nil {
			_, code, _ := apperr.Public(err)
			attrs = append(attrs, "code", code, "error", err.Error())
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		logger.Log(ctx, level, "request", append([]any{"request_id", id, "function", f.Name}, attrs...)...)
		metrics.Request(f.Name, status, time.Since(start))
	})
}

func (s *Server) serve(ctx context.Context, f Function, names []string, hr *http.Request, req *Request) (resp *Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			req.Log.Error("panic", "panic", p, "stack", string(debug.Stack()))
			resp, err = nil, errors.New("panic in handler")
		}
	}()
	if s.Unavailable != nil {
		return nil, s.Unavailable
	}

	body, err := io.ReadAll(http.MaxBytesReader(nil, hr.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apperr.Newf(apperr.TooLarge, "The request body is larger than %d KiB.", MaxBody>>10)
		}
		return nil, apperr.Wrap(apperr.Invalid, err, "The request body could not be read.")
	}
	var query = hr.URL.Query()
	if hr.Method != http.MethodGet && hr.Method != http.MethodDelete {
		query = nil
	}
	if req.Params, err = parseParams(body, query); err != nil {
		return nil, err
	}

	token, ok := auth.BearerToken(hr.Header.Get("Authorization"))
	if !ok {
		return nil, apperr.New(apperr.Unauthorized, "Sign in first: the Authorization header must carry a Bearer access token.")
	}
	if s.Verifier == nil {
		return nil, errors.New("no token verifier configured")
	}
	claims, err := s.Verifier.Verify(ctx, token)
	if err != nil {
		return nil, apperr.Wrap(apperr.Unauthorized, err, "The access token is invalid or expired. Sign in again.")
	}
	req.Caller = claims
	req.Log = req.Log.With("user", claims.UserID)
	if claims.IsAnonymous {
		return nil, errAnonymous
	}
	if tid, ok, _ := req.Params.OptionalUUID("tenantId"); ok {
		req.SetTenant(tid)
	}

	action, given, err := req.Params.OptionalString("action", 64)
	if err != nil {
		return nil, err
	}
	// /functions/v1/<name>/<action> names the action too (one OpenAPI
	// operation per action); the body may repeat it but not contradict it.
	// A segment that is no action is ignored, as the contract has always
	// ignored the rest of the path.
	if seg := pathAction(hr.URL.Path, f.Name); f.Actions[seg] != nil {
		if given && action != seg {
			return nil, apperr.Newf(apperr.Invalid, "The path names action %q but the body names %q: give one, or the same in both.", truncate(seg, 64), action).WithCode("action_mismatch")
		}
		action, given = seg, true
	}
	if !given {
		action = f.ByMethod[hr.Method]
		if action == "" {
			return nil, apperr.Newf(apperr.MethodNotAllowed, "%s does not accept %s without an action.", f.Name, hr.Method)
		}
	}
	req.Action = action
	fn, ok := f.Actions[action]
	if !ok {
		return nil, apperr.Newf(apperr.Invalid, "Unknown action %q: %s supports %s.", truncate(action, 64), f.Name, strings.Join(names, ", "))
	}
	return fn(ctx, req)
}

// pathAction is the path segment after the function's name, if any.
func pathAction(path, name string) string {
	_, rest, ok := strings.Cut(path, "/"+name+"/")
	if !ok {
		return ""
	}
	seg, _, _ := strings.Cut(rest, "/")
	return seg
}

func writeAnswer(w http.ResponseWriter, resp *Response, err error) int {
	status, body := http.StatusOK, any(nil)
	if err != nil {
		var code, msg string
		status, code, msg = apperr.Public(err)
		body = map[string]string{"error": msg, "code": code}
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		if d := apperr.RetryAfterOf(err); d > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
		}
	} else if resp != nil {
		status, body = resp.Status, resp.Body
	}
	b, merr := json.Marshal(body)
	if merr != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"Something went wrong on our side. Try again in a moment.","code":"internal_error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

// cors sets the headers of the contract on every response.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	allowed := s.AllowedOrigins
	switch {
	case len(allowed) == 0 || (len(allowed) == 1 && allowed[0] == "*"):
		h.Set("Access-Control-Allow-Origin", "*")
	default:
		h.Add("Vary", "Origin")
		for _, a := range allowed {
			if a == "*" || (origin != "" && strings.EqualFold(a, origin)) {
				h.Set("Access-Control-Allow-Origin", origin)
				break
			}
		}
	}
	h.Set("Access-Control-Allow-Headers", allowHeaders)
	h.Set("Access-Control-Allow-Methods", allowMethods)
	h.Set("Access-Control-Expose-Headers", "x-request-id, retry-after")
	h.Set("Access-Control-Max-Age", "86400")
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// errAnonymous refuses Supabase anonymous sign-ins (is_anonymous: true, role
// still authenticated): they have no email, belong to no tenant, and every
// function acts on a tenant's servers or people, so there is nothing they may
// do. Once the person links an email (is_anonymous false), their new tokens pass.
var errAnonymous = apperr.New(apperr.Forbidden,
	"Anonymous sessions cannot use this: sign up or sign in with an email address first.").WithCode("anonymous_user")
