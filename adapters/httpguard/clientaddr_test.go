package httpguard_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"callconnect/adapters/httpguard"
)

func mustProxies(t testing.TB, list string) httpguard.TrustedProxies {
	t.Helper()
	p, err := httpguard.ParseTrustedProxies(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{" , ", ""},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8, 192.0.2.7", "10.0.0.0/8,192.0.2.7/32"},
		{"2001:db8::/32,::1", "2001:db8::/32,::1/128"},
		{"::ffff:10.0.0.0/104, ::ffff:192.0.2.1", "10.0.0.0/8,192.0.2.1/32"},
	} {
		if got := mustProxies(t, tc.in).String(); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "lb.internal", "10.0.0.1:80", "fe80::1%eth0", "10.0.0.0/8,x", "::ffff:0:0/90"} {
		if _, err := httpguard.ParseTrustedProxies(bad); err == nil || !strings.Contains(err.Error(), "CIDR") && !strings.Contains(err.Error(), "mixes") {
			t.Errorf("%q: %v, want an error", bad, err)
		}
	}
}

func TestClientAddr(t *testing.T) {
	proxies := mustProxies(t, "10.0.0.0/8, 2001:db8:ffff::/48")
	for _, tc := range []struct {
		name    string
		proxies httpguard.TrustedProxies
		remote  string
		headers []string
		want    string
	}{
		{"no proxy trusted: the connection", httpguard.TrustedProxies{}, "10.0.0.1:1", []string{"X-Forwarded-For", "198.51.100.1"}, "10.0.0.1"},
		{"an untrusted connection's header is ignored", proxies, "203.0.113.1:1", []string{"X-Forwarded-For", "198.51.100.1"}, "203.0.113.1"},
		{"behind a proxy", proxies, "10.0.0.1:1", []string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"the client's own entries are to the left", proxies, "10.0.0.1:1", []string{"X-Forwarded-For", "1.2.3.4, 10.9.9.9, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", proxies, "10.0.0.1:1", []string{"X-Forwarded-For", "198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"several header lines", proxies, "10.0.0.1:1", []string{"X-Forwarded-For", "1.2.3.4", "X-Forwarded-For", "198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"every hop a proxy: the leftmost", proxies, "10.0.0.1:1", []string{"X-Forwarded-For", "10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"a hop that is not an address stops at its proxy", proxies, "10.0.0.1:1", []string{"X-Forwarded-For", "198.51.100.1, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"a proxy with no header", proxies, "10.0.0.1:1", nil, "10.0.0.1"},
		{"ports and brackets", proxies, "10.0.0.1:1", []string{"X-Forwarded-For", "[2001:db8:1::5]:443, 10.0.0.2:80"}, "2001:db8:1::5"},
		{"IPv4-mapped", proxies, "[::ffff:10.0.0.1]:1", []string{"X-Forwarded-For", "::ffff:198.51.100.1"}, "198.51.100.1"},
		{"an IPv6 proxy", proxies, "[2001:db8:ffff::1]:1", []string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"Forwarded", proxies, "10.0.0.1:1", []string{"Forwarded", `for=1.2.3.4, for="[2001:db8:1::5]:4711";proto=https, for=10.0.0.2`}, "2001:db8:1::5"},
		{"X-Forwarded-For over Forwarded", proxies, "10.0.0.1:1", []string{"Forwarded", "for=1.2.3.4", "X-Forwarded-For", "198.51.100.1"}, "198.51.100.1"},
		{"Forwarded's obfuscated name", proxies, "10.0.0.1:1", []string{"Forwarded", "for=_hidden"}, "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tc.remote
			for i := 0; i+1 < len(tc.headers); i += 2 {
				req.Header.Add(tc.headers[i], tc.headers[i+1])
			}
			if got := tc.proxies.ClientAddr(req); got.String() != tc.want {
				t.Fatalf("%s, want %s", got, tc.want)
			}
		})
	}
}

// Whatever a client writes in X-Forwarded-For, behind any number of
// trusted proxies that each append what they saw, its address is the one
// the first proxy saw.
func TestClientAddrCannotBeForged(t *testing.T) {
	proxies := mustProxies(t, "10.0.0.0/8, fd00::/8")
	addr := func(trusted bool) *rapid.Generator[netip.Addr] {
		return rapid.Custom(func(t *rapid.T) netip.Addr {
			if rapid.Bool().Draw(t, "v6") {
				b := [16]byte{}
				for i := range b {
					b[i] = rapid.Byte().Draw(t, "b")
				}
				if trusted {
					b[0] = 0xfd
				} else if b[0] == 0xfd || b[0] == 0 || b[0] == 0xff {
					b[0] = 0x20 // no trusted, IPv4-mapped or zero address
				}
				return netip.AddrFrom16(b)
			}
			b := [4]byte{}
			for i := range b {
				b[i] = rapid.Byte().Draw(t, "b")
			}
			if trusted {
				b[0] = 10
			} else if b[0] == 10 {
				b[0] = 11
			}
			return netip.AddrFrom4(b)
		})
	}
	rapid.Check(t, func(t *rapid.T) {
		client := addr(false).Draw(t, "client")
		forged := rapid.SliceOfN(rapid.OneOf(
			rapid.Map(addr(true), netip.Addr.String), rapid.Map(addr(false), netip.Addr.String),
			rapid.StringMatching(`[ -~]{0,20}`)), 0, 4).Draw(t, "forged")
		hops := rapid.SliceOfN(addr(true), 1, 4).Draw(t, "proxies")
		// The client sends its forged header to the first proxy, which
		// appends the client; each next proxy appends the one before.
		xff := strings.Join(forged, ",")
		seen := client
		for _, p := range hops {
			if xff != "" {
				xff += ", "
			}
			xff += seen.String()
			seen = p
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = netip.AddrPortFrom(seen, 443).String()
		req.Header.Set("X-Forwarded-For", xff)
		if got := proxies.ClientAddr(req); got != client {
			t.Fatalf("X-Forwarded-For %q from %s: %s, want %s", xff, req.RemoteAddr, got, client)
		}
	})
}

func TestViaTLS(t *testing.T) {
	proxies := mustProxies(t, "10.0.0.0/8")
	for _, tc := range []struct {
		remote  string
		tls     bool
		headers []string
		want    bool
	}{
		{"10.0.0.1:1", false, nil, false},
		{"203.0.113.1:1", true, nil, true},
		{"10.0.0.1:1", false, []string{"X-Forwarded-Proto", "https"}, true},
		{"10.0.0.1:1", false, []string{"X-Forwarded-Proto", "HTTPS, http"}, true},
		{"10.0.0.1:1", false, []string{"X-Forwarded-Proto", "http"}, false},
		{"203.0.113.1:1", false, []string{"X-Forwarded-Proto", "https"}, false},
		{"10.0.0.1:1", false, []string{"Forwarded", `for=198.51.100.1;proto=https`}, true},
		{"10.0.0.1:1", false, []string{"Forwarded", `for=198.51.100.1;proto=http`}, false},
		{"10.0.0.1:1", false, []string{"Forwarded", `for=198.51.100.1;proto=https`, "X-Forwarded-Proto", "http"}, false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tc.remote
		if tc.tls {
			req.TLS = &tls.ConnectionState{}
		}
		for i := 0; i+1 < len(tc.headers); i += 2 {
			req.Header.Add(tc.headers[i], tc.headers[i+1])
		}
		if got := proxies.ViaTLS(req); got != tc.want {
			t.Errorf("%s tls=%v %v: %v, want %v", tc.remote, tc.tls, tc.headers, got, tc.want)
		}
	}
}

func ExampleTrustedProxies_ClientAddr() {
	proxies, _ := httpguard.ParseTrustedProxies("10.0.0.0/8")
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.1:40000"
	req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.1")
	fmt.Println(proxies.ClientAddr(req))
	// Output: 198.51.100.1
}
