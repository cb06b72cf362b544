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
		{10 * time.Second, 2, maxConnectTimeout},
	} {
		if got := connectTimeout(c.budget, c.n); got != c.want {
			t.Errorf("connectTimeout(%v, %d) = %v, want %v", c.budget, c.n, got, c.want)
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

// A call to a server has one budget (Options.Timeout), applied by Multi.Do:
// every request fn makes shares it. A request detached from the call (a
// fetch shared with other requests runs under context.WithoutCancel) gets a
// budget of its own instead of none.
func TestOneBudgetPerCallToAServer(t *testing.T) {
	srv := newHangingServer(t)
	const budget = 300 * time.Millisecond
	m := NewMulti(t.Name(), tokenTarget(t, srv), nil, Options{Timeout: budget, Guard: allowLoopback(t)})
	defer m.CloseIdleConnections()

	start := time.Now()
	var first, second error
	_, err := m.Do(context.Background(), func(ctx context.Context, c *Client) error {
		_, first = c.ClusterResources(ctx, "")
		_, second = c.ClusterStatus(ctx) // what is left of the same budget: nothing
		return first
	})
	elapsed := time.Since(start)
	e := assertStatus(t, err, StatusTimeout)
	assertStatus(t, second, StatusTimeout)
	if elapsed >= 2*budget {
		t.Errorf("two requests took %v: each got a budget of its own", elapsed)
	}
	if e.Timeout != budget || Describe(err) != "timed out after 300ms" {
		t.Errorf("Describe = %q, Timeout = %v", Describe(err), e.Timeout)
	}

	done := make(chan error, 1)
	go m.Do(context.Background(), func(ctx context.Context, c *Client) error {
		_, err := c.ClusterResources(context.WithoutCancel(ctx), "")
		done <- err
		return nil
	})
	select {
	case err := <-done:
		assertStatus(t, err, StatusTimeout)
	case <-time.After(budget + 5*time.Second):
		t.Fatal("a request detached from its call ran without a budget")
	}
}
