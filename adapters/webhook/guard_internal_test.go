package webhook

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"callconnect/app"
)

func TestIsInternal(t *testing.T) {
	for in, want := range map[string]bool{
		"127.0.0.1":            true,
		"10.1.2.3":             true,
		"172.16.0.1":           true,
		"192.168.1.1":          true,
		"169.254.169.254":      true,
		"100.64.0.1":           true,
		"0.0.0.0":              true,
		"224.0.0.1":            true,
		"::1":                  true,
		"::":                   true,
		"fe80::1":              true,
		"fd00:ec2::254":        true,
		"::ffff:127.0.0.1":     true,
		"64:ff9b::7f00:1":      true, // NAT64 of 127.0.0.1
		"64:ff9b::a9fe:a9fe":   true, // NAT64 of 169.254.169.254
		"2002:c0a8:101::1":     true, // 6to4 of 192.168.1.1
		"8.8.8.8":              false,
		"203.0.113.5":          false,
		"2001:4860:4860::8888": false,
		"64:ff9b::808:808":     false, // NAT64 of 8.8.8.8
		"2002:808:808::1":      false, // 6to4 of 8.8.8.8
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
		if got := errors.Is(err, app.ErrBlockedDestination); got != internal {
			t.Errorf("control(%s) = %v, want blocked %v", addr, err, internal)
		}
		if err := lax.control("tcp4", addr, nil); err != nil {
			t.Errorf("with AllowPrivate, control(%s) = %v", addr, err)
		}
	}
}
