package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// CheckAddrPort is Check plus the port list: what the dialer enforces on
// every connection.
func (g *Guard) CheckAddrPort(ap netip.AddrPort) error {
	if err := g.checkPort(ap.Port()); err != nil {
		return err
	}
	return g.Check(ap.Addr())
}

func (g *Guard) checkPort(port uint16) error {
	if g.ports != nil && !g.ports[port] {
		return &AddressError{Reason: fmt.Sprintf("port %d is not allowed", port)}
	}
	return nil
}

// lookupTimeout bounds CheckHost's DNS lookup; an answer slower than that is
// no answer (the dial-time check still stands).
const lookupTimeout = 3 * time.Second

// CheckHost judges a host (IP literal or DNS name) and port before anything
// is stored or dialled, so that a forbidden target is refused when it is
// entered rather than only when it is used. A literal is checked as is; a
// name is refused only when every address it resolves to is refused. A name
// that does not resolve (yet) passes: it may resolve only from inside the
// operator's network, and the check on the address actually dialled still
// stands, which is also what defeats DNS rebinding. The error wraps
// ErrForbiddenAddress.
func (g *Guard) CheckHost(ctx context.Context, host string, port int) error {
	if port < 1 || port > 65535 {
		return &AddressError{Reason: fmt.Sprintf("port %d is out of range", port)}
	}
	if err := g.checkPort(uint16(port)); err != nil {
		return err
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return g.Check(a)
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	var r interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	} = net.DefaultResolver
	if g.resolver != nil {
		r = g.resolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil
	}
	var first error
	for _, a := range addrs {
		err := g.Check(a)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// ParsePorts parses a comma-separated list of ports and ranges
// ("8006, 443, 8000-8010"). Empty means any port (nil).
func ParsePorts(s string) ([]uint16, error) {
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := parsePort(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parsePort(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("invalid port range %q", f)
			}
		}
		for p := int(a); p <= int(b); p++ {
			out = append(out, uint16(p))
		}
	}
	return out, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return uint16(n), nil
}
