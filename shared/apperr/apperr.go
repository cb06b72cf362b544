// Package apperr is the one vocabulary of failures the functions share. An
// Error carries a Kind, and Status maps each Kind to exactly one HTTP status:
// handlers never pick status codes themselves.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind is what went wrong, as far as the caller is concerned.
type Kind int

const (
	Internal         Kind = iota // a bug or an unexpected failure: never described to the caller
	Invalid                      // bad input
	Unauthorized                 // no or bad token
	Forbidden                    // signed in, but no right to do this
	NotFound                     // not there, or not visible to this caller
	Conflict                     // the request contradicts the current state (last admin, already a member)
	TooLarge                     // request body over the limit
	MethodNotAllowed             // no such action for this method
	BadGateway                   // a Proxmox server failed
	GatewayTimeout               // a Proxmox server did not answer in time
	Unavailable                  // the database is down
	TooManyRequests              // a fleet-wide limit was reached; RetryAfter says when to come back
)

var statuses = map[Kind]int{
	Internal:         http.StatusInternalServerError,
	Invalid:          http.StatusBadRequest,
	Unauthorized:     http.StatusUnauthorized,
	Forbidden:        http.StatusForbidden,
	NotFound:         http.StatusNotFound,
	Conflict:         http.StatusConflict,
	TooLarge:         http.StatusRequestEntityTooLarge,
	MethodNotAllowed: http.StatusMethodNotAllowed,
	BadGateway:       http.StatusBadGateway,
	GatewayTimeout:   http.StatusGatewayTimeout,
	Unavailable:      http.StatusServiceUnavailable,
	TooManyRequests:  http.StatusTooManyRequests,
}

var defaultCodes = map[Kind]string{
	Internal:         "internal_error",
	Invalid:          "invalid_request",
	Unauthorized:     "unauthorized",
	Forbidden:        "forbidden",
	NotFound:         "not_found",
	Conflict:         "conflict",
	TooLarge:         "body_too_large",
	MethodNotAllowed: "method_not_allowed",
	BadGateway:       "proxmox_error",
	GatewayTimeout:   "proxmox_timeout",
	Unavailable:      "database_unavailable",
	TooManyRequests:  "rate_limited",
}

// Error is a failure with a sentence for a person and a snake_case code for
// programs. Err, when set, is the cause: logged, never sent.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Err     error
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up) so clients know when a 429 or 503 is worth retrying.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an Error of kind with the kind's default code.
func New(kind Kind, message string) *Error {
	return &Error{Kind: kind, Code: defaultCodes[kind], Message: message}
}

// Newf is New with formatting.
func Newf(kind Kind, format string, args ...any) *Error {
	return New(kind, fmt.Sprintf(format, args...))
}

// WithCode returns a copy of e with a more specific code (e.g. "last_admin").
func (e *Error) WithCode(code string) *Error {
	c := *e
	c.Code = code
	return &c
}

// WithRetryAfter returns a copy of e that tells the caller to wait d.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

// RetryAfterOf is the wait err asks of the caller, 0 when none.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return e.RetryAfter
	}
	return 0
}

// Wrap returns an Error of kind that keeps err as its cause.
func Wrap(kind Kind, err error, message string) *Error {
	e := New(kind, message)
	e.Err = err
	return e
}

// Status is the one place a failure becomes an HTTP status.
func Status(kind Kind) int {
	if s, ok := statuses[kind]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Public is what a caller may see of err: status, code and sentence. Anything
// that is not an *Error is an internal failure and is not described.
func Public(err error) (status int, code, message string) {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return Status(e.Kind), e.Code, e.Message
	}
	return http.StatusInternalServerError, defaultCodes[Internal], "Something went wrong on our side. Try again in a moment."
}

// KindOf returns err's kind, Internal for anything else.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}
