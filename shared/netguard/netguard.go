// Package netguard refuses outbound connections to addresses that a
// user-supplied host name must never reach from our functions: loopback,
// link-local (including the 169.254.169.254 cloud metadata service),
// unspecified, multicast and broadcast addresses, in plain or IPv4-mapped
// IPv6 form.
//
// The check runs in net.Dialer.ControlContext, i.e. on the address the socket
// is actually about to connect to after DNS resolution. Checking the host name
// (or a separate lookup) before dialing would be defeated by DNS rebinding:
// the name can resolve to a public address for the check and to 127.0.0.1
// for the dial.
//
// Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) are deliberately NOT
// refused: Proxmox servers commonly live there (VPN, same VPC). An operator
// who runs the functions inside a network of their own denies its service
// subnets with a deny list (PROXMOX_DENY_CIDRS), which wins over everything,
// and may restrict the ports (PROXMOX_ALLOWED_PORTS).
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress is wrapped by every refusal, from Check and from dials.
var ErrForbiddenAddress = errors.New("netguard: forbidden address")

// AddressError is the concrete refusal error. It unwraps to
// ErrForbiddenAddress so callers can use errors.Is; errors.As gives the
// address and reason for a precise message.
type AddressError struct {
	Addr   netip.Addr // the refused address (invalid for non-IP refusals)
	Reason string     // "loopback", "link-local", ...
}

func (e *AddressError) Error() string {
	if e.Addr.IsValid() {
		return fmt.Sprintf("%s: %s is %s", ErrForbiddenAddress, e.Addr, e.Reason)
	}
	return fmt.Sprintf("%s: %s", ErrForbiddenAddress, e.Reason)
}

func (e *AddressError) Unwrap() error { return ErrForbiddenAddress }

// Guard decides whether an address may be dialled. The zero value is not
// usable; use New. A Guard is safe for concurrent use.
type Guard struct {
	allow  []netip.Prefix
	deny   []netip.Prefix
	ports  map[uint16]bool // nil: any port
	dialer net.Dialer
	// resolver answers CheckHost's lookups; nil means net.DefaultResolver.
	resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// New returns a Guard that refuses the built-in ranges unless the address is
// inside one of allowCIDRs.
func New(allowCIDRs []netip.Prefix) *Guard {
	return NewWith(Options{Allow: allowCIDRs})
}

// Options configure a Guard beyond the built-in ranges.
type Options struct {
	Allow []netip.Prefix // exempt from the built-in ranges
	Deny  []netip.Prefix // always refused: wins over Allow and over the default allowance of private ranges
	Ports []uint16       // the only ports that may be dialled; empty means any
}

// NewWith returns a Guard configured by o.
func NewWith(o Options) *Guard {
	g := &Guard{allow: normalizePrefixes(o.Allow), deny: normalizePrefixes(o.Deny)}
	if len(o.Ports) > 0 {
		g.ports = make(map[uint16]bool, len(o.Ports))
		for _, p := range o.Ports {
			g.ports[p] = true
		}
	}
	g.dialer = net.Dialer{
		KeepAlive:      30 * time.Second,
		ControlContext: g.control,
	}
	return g
}

func normalizePrefixes(in []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		if !p.IsValid() {
			continue
		}
		// Store ::ffff:a.b.c.d/n entries in IPv4 form so Check only has to
		// compare unmapped addresses.
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// ParseCIDRs parses a comma separated list of CIDRs. Blank entries are
// ignored; a bare IP is taken as a single-address prefix (/32 or /128).
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("invalid CIDR %q: %w", f, err)
			}
			a = a.Unmap().WithZone("")
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("invalid CIDR %q: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// AllowList returns a copy of the configured allow list.
func (g *Guard) AllowList() []netip.Prefix {
	return append([]netip.Prefix(nil), g.allow...)
}

var (
	thisNetwork4 = netip.MustParsePrefix("0.0.0.0/8")      // "this host on this network"; 0.x dials can reach local services
	broadcast4   = netip.MustParseAddr("255.255.255.255")  // limited broadcast
	linkLocal4   = netip.MustParsePrefix("169.254.0.0/16") // includes 169.254.169.254 metadata
	linkLocal6   = netip.MustParsePrefix("fe80::/10")      // IsLinkLocalUnicast covers it; kept explicit for readability
	metadataV6   = netip.MustParseAddr("fd00:ec2::254")    // AWS IMDS over IPv6 (in fc00::/7, so not caught otherwise)
)

// Check reports whether ip may be dialled. It returns nil if allowed and an
// error wrapping ErrForbiddenAddress otherwise.
func (g *Guard) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return &AddressError{Reason: "invalid address"}
	}
	// Zones don't change which host is reached; IPv4-mapped IPv6
	// (::ffff:127.0.0.1) reaches the IPv4 host, so judge the IPv4 form.
	ip = ip.WithZone("")
	un := ip.Unmap()
	for _, p := range g.deny {
		if p.Contains(un) {
			return &AddressError{Addr: ip, Reason: "not allowed"}
		}
	}
	for _, p := range g.allow {
		if p.Contains(un) {
			return nil
		}
	}
	if reason := forbiddenReason(un); reason != "" {
		return &AddressError{Addr: ip, Reason: reason}
	}
	return nil
}

func forbiddenReason(ip netip.Addr) string {
	switch {
	case ip.IsUnspecified(), ip.Is4() && thisNetwork4.Contains(ip):
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsLinkLocalUnicast(), linkLocal4.Contains(ip), linkLocal6.Contains(ip):
		if ip == netip.AddrFrom4([4]byte{169, 254, 169, 254}) {
			return "link-local (cloud metadata)"
		}
		return "link-local"
	case ip == metadataV6:
		return "cloud metadata"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	case ip == broadcast4:
		return "broadcast"
	}
	return ""
}

// control runs after resolution, right before connect(2), with the literal
// "ip:port" being dialled.
func (g *Guard) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return &AddressError{Reason: fmt.Sprintf("network %q not allowed", network)}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &AddressError{Reason: fmt.Sprintf("unparsable address %q", address)}
	}
	return g.CheckAddrPort(ap)
}

// DialContext dials like net.Dialer.DialContext but refuses forbidden
// addresses. Suitable for http.Transport.DialContext. A refusal is returned
// as a *net.OpError whose chain contains ErrForbiddenAddress.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return g.dialer.DialContext(ctx, network, addr)
}
