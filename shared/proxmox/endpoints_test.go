package proxmox

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestConnectTimeoutSplit(t *testing.T) {
	for _, c := range []struct {
		budget time.Duration
		n      int
		want   time.Duration
	}{
		{4 * time.Second, 1, 0}, // one endpoint keeps the whole budget
		{4 * time.Second, 3, time.Second},
		{2 * time.Second, 3, 500 * time.Millisecond},
		{10 * time.Second, 2, MaxConnectTimeout},
	} {
		if got := ConnectTimeout(c.budget, c.n); got != c.want {
			t.Errorf("ConnectTimeout(%v, %d) = %v, want %v", c.budget, c.n, got, c.want)
		}
	}
}

// Only failures that mean "this node" move to the next endpoint, and a
// write is never repeated after the connection broke mid-request.
func TestFailoverOnlyWhereNothingRan(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused", &Error{Op: "GET /version", Kind: ErrUnreachable, cause: dial}, true},
		{"connect timeout", &Error{Op: "POST /nodes/pve1/qemu/100/status/start", Kind: ErrTimeout,
			cause: &net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}}, true},
		{"595", &Error{Op: "GET /nodes/pve2/status", Kind: ErrUnreachable, HTTPStatus: 595}, true},
		{"596", &Error{Op: "POST /nodes/pve2/qemu/100/status/start", Kind: ErrUnreachable, HTTPStatus: 596}, true},
		{"tls", &Error{Op: "GET /version", Kind: ErrTLS, cause: &CAMismatchError{Seen: "AA"}}, true},
		{"reset on a read", &Error{Op: "GET /cluster/resources", Kind: ErrUnreachable, cause: reset}, true},
		{"reset on a write", &Error{Op: "POST /nodes/pve1/qemu/100/status/start", Kind: ErrUnreachable, cause: reset}, false},
		{"401", &Error{Op: "GET /version", Kind: ErrAuth, HTTPStatus: 401}, false},
		{"500", &Error{Op: "GET /version", Kind: ErrHTTPStatus, HTTPStatus: 500}, false},
		{"not ours", errors.New("x"), false},
	} {
		if got := failover(c.err); got != c.want {
			t.Errorf("%s: failover = %v, want %v", c.name, got, c.want)
		}
	}
}
