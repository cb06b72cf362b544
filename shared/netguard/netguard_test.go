package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	none := New(nil)
	loopAllowed := New(mustCIDRs(t, "127.0.0.0/8, ::1/128"))

	tests := []struct {
		addr      string
		forbidden bool // with no allow list
		allowed   bool // with 127.0.0.0/8 + ::1 allowed
	}{
		// loopback
		{"127.0.0.1", true, true},
		{"127.255.255.254", true, true},
		{"::1", true, true},
		{"::ffff:127.0.0.1", true, true}, // mapped v4 loopback
		// link-local incl. cloud metadata
		{"169.254.169.254", true, false},
		{"169.254.1.1", true, false},
		{"::ffff:169.254.169.254", true, false},
		{"fe80::1", true, false},
		{"fe80::1%eth0", true, false},
		{"febf::1", true, false},
		{"fd00:ec2::254", true, false},
		// unspecified / "this network"
		{"0.0.0.0", true, false},
		{"0.1.2.3", true, false},
		{"::", true, false},
		{"::ffff:0.0.0.0", true, false},
		// multicast / broadcast
		{"224.0.0.1", true, false},
		{"239.255.255.250", true, false},
		{"ff02::1", true, false},
		{"ff05::2", true, false},
		{"ff01::1", true, false},
		{"::ffff:224.0.0.251", true, false},
		{"255.255.255.255", true, false},
		// ordinary addresses: allowed (private ranges are where PVE lives)
		{"192.168.1.10", false, true},
		{"10.0.0.5", false, true},
		{"172.16.0.1", false, true},
		{"100.64.0.1", false, true},
		{"203.0.113.7", false, true},
		{"::ffff:192.168.1.10", false, true},
		{"2001:db8::1", false, true},
		{"fd12:3456::1", false, true},
		{"fec0::1", false, true}, // deprecated site-local, outside fe80::/10
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.addr)
			err := none.Check(ip)
			if got := err != nil; got != tc.forbidden {
				t.Fatalf("no allow list: Check(%s) err=%v, want forbidden=%v", tc.addr, err, tc.forbidden)
			}
			if err != nil && !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("error %v does not wrap ErrForbiddenAddress", err)
			}
			err = loopAllowed.Check(ip)
			if got := err == nil; got != tc.allowed {
				t.Fatalf("with allow list: Check(%s) err=%v, want allowed=%v", tc.addr, err, tc.allowed)
			}
		})
	}
}

func TestAddressError(t *testing.T) {
	err := New(nil).Check(netip.MustParseAddr("169.254.169.254"))
	var ae *AddressError
	if !errors.As(err, &ae) || ae.Addr.String() != "169.254.169.254" || ae.Reason != "link-local (cloud metadata)" {
		t.Fatalf("got %#v", err)
	}
}

func TestCheckInvalid(t *testing.T) {
	if err := New(nil).Check(netip.Addr{}); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("zero Addr: got %v", err)
	}
}

func TestAllowListSpecificHost(t *testing.T) {
	g := New(mustCIDRs(t, "169.254.10.5"))
	if err := g.Check(netip.MustParseAddr("169.254.10.5")); err != nil {
		t.Fatalf("allowed host refused: %v", err)
	}
	if err := g.Check(netip.MustParseAddr("169.254.169.254")); err == nil {
		t.Fatal("metadata address allowed by a single-host allow entry")
	}
	// A v6 allow entry covering the mapped form also works.
	g = New(mustCIDRs(t, "::ffff:127.0.0.0/104"))
	if err := g.Check(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatalf("mapped allow entry: %v", err)
	}
}

func TestParseCIDRs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"  ", nil, false},
		{"127.0.0.0/8", []string{"127.0.0.0/8"}, false},
		{"127.0.0.1/8, ::1/128 ,", []string{"127.0.0.0/8", "::1/128"}, false},
		{"10.1.2.3", []string{"10.1.2.3/32"}, false},
		{"::1", []string{"::1/128"}, false},
		{"127.0.0.0/33", nil, true},
		{"localhost", nil, true},
		{"127.0.0.0/8,garbage", nil, true},
	}
	for _, tc := range tests {
		got, err := ParseCIDRs(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("ParseCIDRs(%q) err=%v wantErr=%v", tc.in, err, tc.wantErr)
		}
		if err != nil {
			continue
		}
		if len(got) != len(tc.want) {
			t.Fatalf("ParseCIDRs(%q)=%v want %v", tc.in, got, tc.want)
		}
		for i := range got {
			if got[i].String() != tc.want[i] {
				t.Fatalf("ParseCIDRs(%q)[%d]=%s want %s", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

// listen starts a loopback TCP listener that accepts and closes connections.
func listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestDialContext(t *testing.T) {
	addr := listen(t)
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	targets := []string{
		addr,                                // literal 127.0.0.1
		net.JoinHostPort("localhost", port), // DNS name resolving to loopback
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			c, err := New(nil).DialContext(ctx, "tcp", target)
			if err == nil {
				c.Close()
				t.Fatalf("dial %s without allow list succeeded", target)
			}
			if !errors.Is(err, ErrForbiddenAddress) {
				t.Fatalf("dial %s: error %v does not wrap ErrForbiddenAddress", target, err)
			}

			// localhost may resolve to ::1 first; allow both loopbacks so the
			// dialer can fall through to 127.0.0.1 where we listen.
			g := New(mustCIDRs(t, "127.0.0.0/8,::1/128"))
			c, err = g.DialContext(ctx, "tcp4", target)
			if err != nil {
				t.Fatalf("dial %s with allow list: %v", target, err)
			}
			c.Close()
		})
	}
}

func TestDialRefusesNonIPNetworks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := New(nil).DialContext(ctx, "unix", "/tmp/does-not-matter.sock")
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("unix dial: got %v, want ErrForbiddenAddress", err)
	}
}

func mustCIDRs(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ParseCIDRs(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
