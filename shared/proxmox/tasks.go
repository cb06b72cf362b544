package proxmox

import (
	"errors"
	"strings"
)

// ValidUPID reports whether upid is a task id as PVE writes them (see
// upidRe) and returns the node it runs on.
func ValidUPID(upid string) (node string, ok bool) {
	m := upidRe.FindStringSubmatch(upid)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Redact removes this client's secrets (token secret, password, ticket,
// CSRF token) from text that came from the server, e.g. a task's exit
// status, before it is shown to anyone.
func (c *Client) Redact(s string) string { return c.redact(s) }

// RefusalReason is PVE's own reason for refusing a call (the status line
// pveproxy builds from the error message, e.g. "CT 101 already running"),
// or "" when err is not such a refusal (a 401, an unreachable node, a
// timeout, ...).
func RefusalReason(err error) string {
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus < 400 || e.HTTPStatus == 401 || e.HTTPStatus == 595 || e.HTTPStatus == 596 {
		return ""
	}
	return strings.TrimSpace(e.Reason)
}
