package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// The deny list wins over the allow list and over the default allowance of
// private ranges; the refusal's reason is the operator's, never a built-in one.
func TestDenyWins(t *testing.T) {
	g := NewWith(Options{
		Allow: mustCIDRs(t, "127.0.0.0/8"),
		Deny:  mustCIDRs(t, "127.0.0.2/32, 10.0.0.0/16, ::ffff:192.168.5.0/120, fd00:1::/32"),
	})
	for addr, refused := range map[string]bool{
		"127.0.0.1":        false, // allowed by the allow list
		"127.0.0.2":        true,  // denied although allowed
		"::ffff:127.0.0.2": true,  // mapped form of a denied address
		"10.0.3.4":         true,  // private, denied
		"10.1.0.1":         false, // private, not denied
		"192.168.5.9":      true,  // denied through a mapped entry
		"fd00:1::5":        true,
		"fd00:2::5":        false,
		"169.254.169.254":  true, // built-in still refused
	} {
		err := g.Check(netip.MustParseAddr(addr))
		if (err != nil) != refused {
			t.Errorf("Check(%s) = %v, want refused=%v", addr, err, refused)
		}
		if err != nil && !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("Check(%s) = %v does not wrap ErrForbiddenAddress", addr, err)
		}
	}
}

func TestPorts(t *testing.T) {
	ports, err := ParsePorts(" 8006, 443 ,8000-8002,")
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 5 {
		t.Fatalf("ParsePorts = %v", ports)
	}
	for _, bad := range []string{"0", "65536", "http", "10-5", "1-x"} {
		if _, err := ParsePorts(bad); err == nil {
			t.Errorf("ParsePorts(%q) accepted", bad)
		}
	}
	if p, err := ParsePorts(""); err != nil || p != nil {
		t.Fatalf("empty: %v %v", p, err)
	}
	g := NewWith(Options{Ports: ports})
	ip := netip.MustParseAddr("10.0.0.1")
	if err := g.CheckAddrPort(netip.AddrPortFrom(ip, 8006)); err != nil {
		t.Fatalf("8006: %v", err)
	}
	if err := g.CheckAddrPort(netip.AddrPortFrom(ip, 5432)); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("5432: %v", err)
	}
	// Without a list, any port.
	if err := New(nil).CheckAddrPort(netip.AddrPortFrom(ip, 5432)); err != nil {
		t.Fatalf("any port: %v", err)
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestCheckHost(t *testing.T) {
	g := NewWith(Options{Allow: mustCIDRs(t, "127.0.0.0/8"), Deny: mustCIDRs(t, "127.0.0.2/32, 10.9.0.0/16"), Ports: []uint16{8006}})
	g.resolver = fakeResolver{
		"denied.test": {netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("10.9.1.1")},
		"mixed.test":  {netip.MustParseAddr("10.9.1.1"), netip.MustParseAddr("10.8.1.1")},
		"meta.test":   {netip.MustParseAddr("169.254.169.254")},
		"fine.test":   {netip.MustParseAddr("10.8.1.1")},
	}
	ctx := context.Background()
	for _, tc := range []struct {
		host    string
		port    int
		refused bool
	}{
		{"127.0.0.2", 8006, true},
		{"[127.0.0.2]", 8006, true},
		{"127.0.0.1", 8006, false},
		{"127.0.0.1", 22, true},
		{"169.254.169.254", 8006, true},
		{"denied.test", 8006, true},   // resolves only to forbidden addresses
		{"meta.test", 8006, true},     // built-in range through a name
		{"mixed.test", 8006, false},   // one usable address: the dial decides
		{"fine.test", 8006, false},    //
		{"unknown.test", 8006, false}, // does not resolve (yet): the dial decides
		{"fine.test", 0, true},
	} {
		err := g.CheckHost(ctx, tc.host, tc.port)
		if (err != nil) != tc.refused {
			t.Errorf("CheckHost(%s, %d) = %v, want refused=%v", tc.host, tc.port, err, tc.refused)
		}
		if err != nil && !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("CheckHost(%s) = %v does not wrap ErrForbiddenAddress", tc.host, err)
		}
	}
}

// The dialer refuses a denied address and a port off the list before
// connect(2): the listener never sees a connection.
func TestDialRefusesDeniedAddressAndPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	denied := NewWith(Options{Allow: mustCIDRs(t, "127.0.0.0/8"), Deny: mustCIDRs(t, "127.0.0.2/32")})
	if _, err := denied.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port))); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("denied address dialled: %v", err)
	}
	otherPort := NewWith(Options{Allow: mustCIDRs(t, "127.0.0.0/8"), Ports: []uint16{8006}})
	if port != 8006 {
		if _, err := otherPort.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port))); !errors.Is(err, ErrForbiddenAddress) {
			t.Fatalf("port off the list dialled: %v", err)
		}
	}
	// The same listener is reachable when nothing denies it, so the
	// refusals above were the guard's.
	c, err := New(mustCIDRs(t, "127.0.0.0/8")).DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-accepted
	if n := len(accepted); n != 0 {
		t.Fatalf("%d more connections accepted than the allowed one", n)
	}
}
