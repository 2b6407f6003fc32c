package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"syscall"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

// LookupFunc resolves a host name to its addresses; network is "ip", "ip4"
// or "ip6". (*net.Resolver).LookupNetIP has this shape.
type LookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// guardedDialer is the SSRF guard. It resolves the host itself, refuses the
// connection when any resolved address is internal, and then dials the
// checked IP, never the name: a second resolution (DNS rebinding) cannot
// swap in another address between the check and the connect.
type guardedDialer struct {
	lookup         LookupFunc
	allowPrivate   bool
	allowed        []netip.AddrPort // reachable even when internal
	connectTimeout time.Duration
	dialer         net.Dialer
}

func newGuardedDialer(lookup LookupFunc, allowPrivate bool, connectTimeout time.Duration, allowed ...netip.AddrPort) *guardedDialer {
	g := &guardedDialer{lookup: lookup, allowPrivate: allowPrivate, allowed: allowed, connectTimeout: connectTimeout}
	g.dialer = net.Dialer{KeepAlive: 30 * time.Second, Control: g.control}
	return g
}

// DialContext has the shape of (*net.Dialer).DialContext. The connect
// timeout covers resolution and every connect attempt together.
func (g *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q", portText)
	}
	ctx, cancel := context.WithTimeout(ctx, g.connectTimeout)
	defer cancel()

	addrs, err := g.resolve(ctx, network, host)
	if err != nil {
		return nil, err
	}
	if !g.allowPrivate {
		for _, a := range addrs {
			if isInternal(a) && !slices.Contains(g.allowed, netip.AddrPortFrom(a, uint16(port))) {
				return nil, blocked(host, a)
			}
		}
	}
	var errs []error
	for _, a := range addrs {
		conn, err := g.dialer.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (g *guardedDialer) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ipNetwork := "ip"
	switch network {
	case "tcp4":
		ipNetwork = "ip4"
	case "tcp6":
		ipNetwork = "ip6"
	}
	addrs, err := g.lookup(ctx, ipNetwork, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}

// control runs on the socket just before it connects: a second check of the
// very address the kernel is asked to reach, so that the guard holds even
// if a later change made DialContext dial something unchecked.
func (g *guardedDialer) control(_, address string, _ syscall.RawConn) error {
	if g.allowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check address %q", ports.ErrBlockedDestination, address)
	}
	if isInternal(ap.Addr()) && !slices.Contains(g.allowed, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())) {
		return blocked(ap.Addr().String(), ap.Addr())
	}
	return nil
}

// allowedURL reports whether u is at one of the allowed addresses: its host
// an IP address, with its port (or its scheme's).
func allowedURL(u *url.URL, allowed []netip.AddrPort) bool {
	if len(allowed) == 0 {
		return false
	}
	ap, ok := domain.AllowedPartnerAddr(u.Scheme + "://" + u.Host)
	return ok && slices.Contains(allowed, ap)
}

func blocked(host string, a netip.Addr) error {
	if host == a.String() {
		return fmt.Errorf("%w: %s is %s, an address no partner is reached at", ports.ErrBlockedDestination, a, domain.DescribeAddr(a))
	}
	return fmt.Errorf("%w: %s resolves to %s (%s), an address no partner is reached at",
		ports.ErrBlockedDestination, host, a, domain.DescribeAddr(a))
}

// isInternal is the one address check, the one the partner URL passed when
// it was configured (domain.IsInternalAddr): the IANA special-purpose
// blocks, with the IPv4 address that IPv4-mapped, NAT64 and 6to4 addresses
// carry judged in their place (64:ff9b::7f00:1 reaches 127.0.0.1 through a
// NAT64 gateway, 2002:7f00:1:: through a 6to4 relay).
func isInternal(a netip.Addr) bool { return domain.IsInternalAddr(a) }
