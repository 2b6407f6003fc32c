package webhook

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"callconnect/domain"
	"callconnect/ports"
)

func TestIsInternal(t *testing.T) {
	for in, want := range map[string]bool{
		"127.0.0.1":                            true,
		"10.1.2.3":                             true,
		"172.16.0.1":                           true,
		"192.168.1.1":                          true,
		"169.254.169.254":                      true,
		"100.64.0.1":                           true,
		"0.0.0.0":                              true,
		"224.0.0.1":                            true,
		"::1":                                  true,
		"::":                                   true,
		"fe80::1":                              true,
		"fd00:ec2::254":                        true,
		"::ffff:127.0.0.1":                     true,
		"64:ff9b::7f00:1":                      true, // NAT64 of 127.0.0.1
		"64:ff9b::a9fe:a9fe":                   true, // NAT64 of 169.254.169.254
		"2002:c0a8:101::1":                     true, // 6to4 of 192.168.1.1
		"8.8.8.8":                              false,
		"203.0.113.5":                          true, // documentation
		"::127.0.0.1":                          true, // IPv4-compatible
		"2001:0:4136:e378:8000:63bf:3fff:fdd2": true, // Teredo
		"100::1":                               true, // discard-only
		"1.1.1.1":                              false,
		"2001:4860:4860::8888":                 false,
		"64:ff9b::808:808":                     false, // NAT64 of 8.8.8.8
		"2002:808:808::1":                      false, // 6to4 of 8.8.8.8
	} {
		if got := isInternal(netip.MustParseAddr(in)); got != want {
			t.Errorf("isInternal(%s) = %v, want %v", in, got, want)
		}
	}
}

// A proxy would make the connection on our behalf, out of the guard's
// sight: the transport uses none, whatever HTTP_PROXY says.
func TestTransportIgnoresProxyEnvironment(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://proxy.example:3128")
	t.Setenv("HTTPS_PROXY", "http://proxy.example:3128")
	c := New(Config{})
	if c.transport == nil || c.transport.Proxy != nil {
		t.Fatal("the transport has a proxy function")
	}
	if c.transport.DialContext == nil {
		t.Fatal("the transport dials without the guard")
	}
	if c.transport.MaxIdleConnsPerHost != DefaultMaxIdleConnsPerHost || !c.transport.ForceAttemptHTTP2 {
		t.Errorf("pooling/h2 not tuned: %d idle per host, h2 %v", c.transport.MaxIdleConnsPerHost, c.transport.ForceAttemptHTTP2)
	}
}

// The socket-level check holds on its own, should DialContext ever dial an
// address it did not check.
func TestGuardControlChecksTheSocketAddress(t *testing.T) {
	strict := newGuardedDialer(nil, false, time.Second)
	lax := newGuardedDialer(nil, true, time.Second)
	for addr, internal := range map[string]bool{
		"127.0.0.1:80":          true,
		"[::1]:443":             true,
		"169.254.169.254:80":    true,
		"[::ffff:10.0.0.1]:80":  true,
		"[64:ff9b::7f00:1]:80":  true,
		"8.8.8.8:443":           false,
		"[2001:4860::8888]:443": false,
	} {
		err := strict.control("tcp4", addr, nil)
		if got := errors.Is(err, ports.ErrBlockedDestination); got != internal {
			t.Errorf("control(%s) = %v, want blocked %v", addr, err, internal)
		}
		if err := lax.control("tcp4", addr, nil); err != nil {
			t.Errorf("with AllowPrivate, control(%s) = %v", addr, err)
		}
	}
}

// TestGuardJudgesEveryBlockAsConfigurationDoes: at the edges of every block
// of the address table (its first and last address and the addresses just
// outside), the dial-time guard refuses exactly what the partner URL check
// refuses, through a resolved name and at the socket; allowing private
// addresses lets all of them through.
func TestGuardJudgesEveryBlockAsConfigurationDoes(t *testing.T) {
	strict := newGuardedDialer(nil, false, time.Second)
	lax := newGuardedDialer(nil, true, time.Second)
	for _, b := range domain.AddressBlocks() {
		first := b.Prefix.Masked().Addr()
		last := lastOf(b.Prefix)
		edges := []netip.Addr{first, last, first.Prev(), last.Next()}
		for _, a := range edges {
			if !a.IsValid() {
				continue // 0.0.0.0 has no address before it, 255.255.255.255 none after
			}
			internal := domain.IsInternalAddr(a)
			if (a == first || a == last) && b.Carries == domain.EmbedsNone && !internal {
				t.Errorf("%s, in %s (%s), is not internal", a, b.Prefix, b.Name)
			}
			ap := netip.AddrPortFrom(a, 443).String()
			err := strict.control("tcp", ap, nil)
			if got := errors.Is(err, ports.ErrBlockedDestination); got != internal {
				t.Errorf("control(%s) = %v, want blocked %v (%s)", ap, err, internal, domain.DescribeAddr(a))
			}
			if err := lax.control("tcp", ap, nil); err != nil {
				t.Errorf("with AllowPrivate, control(%s) = %v", ap, err)
			}
			if !internal {
				continue // dialling a public address would leave this machine
			}
			resolving := newGuardedDialer(func(context.Context, string, string) ([]netip.Addr, error) {
				return []netip.Addr{a}, nil
			}, false, time.Second)
			if _, err := resolving.DialContext(t.Context(), "tcp", "partner.example:443"); !errors.Is(err, ports.ErrBlockedDestination) {
				t.Errorf("a name resolving to %s (%s): dial error %v, want blocked", a, b.Name, err)
			}
		}
	}
}

// lastOf is the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
