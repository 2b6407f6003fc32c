package httpguard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// TrustedProxies are the proxies (load balancers, TLS terminators) in front
// of the service whose forwarding headers are believed. Anyone can send an
// X-Forwarded-For header, so it tells where a request came from only when
// the connection itself comes from a proxy that writes it; the zero value
// trusts none, and every client is then the address of its connection.
type TrustedProxies struct {
	prefixes []netip.Prefix
}

// ParseTrustedProxies reads a comma-separated list of CIDRs (10.0.0.0/8,
// fd00::/8) or single addresses; blank entries are skipped, so an empty
// list trusts no proxy.
func ParseTrustedProxies(list string) (TrustedProxies, error) {
	var t TrustedProxies
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return TrustedProxies{}, fmt.Errorf("%q is neither a CIDR (such as 10.0.0.0/8) nor an IP address", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8: connections are compared unmapped.
			if p.Bits() < 96 {
				return TrustedProxies{}, fmt.Errorf("%q mixes IPv4-mapped and other IPv6 addresses", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	return t, nil
}

// String lists the proxies as ParseTrustedProxies reads them.
func (t TrustedProxies) String() string {
	s := make([]string, len(t.prefixes))
	for i, p := range t.prefixes {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (t TrustedProxies) trusts(a netip.Addr) bool {
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr is the address of the client a request comes from: its
// connection's, unless that is a trusted proxy. Then it is the rightmost
// hop of X-Forwarded-For (or, when the request has none, of Forwarded's
// for=) that is not itself a trusted proxy: each proxy appends the address
// it was reached from, so what a client wrote in the header itself stays
// to the left of what the proxies added and is never taken. A hop that is
// not an address (unknown, an obfuscated name) stops the walk at the proxy
// that wrote it. The zero Addr when even the connection's address cannot
// be read (a test's fake request).
func (t TrustedProxies) ClientAddr(r *http.Request) netip.Addr {
	peer := remoteAddr(r)
	if !peer.IsValid() || len(t.prefixes) == 0 || !t.trusts(peer) {
		return peer
	}
	hops := forwardedFor(r)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = a
		if !t.trusts(a) {
			return a
		}
	}
	// Every hop is a trusted proxy: the leftmost is as far as is known.
	return client
}

// ViaTLS reports whether the client reached the service over TLS: the
// connection is TLS, or it comes from a trusted proxy that says the
// client's request to it was https (X-Forwarded-Proto, or Forwarded's
// proto= without it; the first value, which the proxy nearest the client
// wrote).
func (t TrustedProxies) ViaTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	peer := remoteAddr(r)
	if !peer.IsValid() || !t.trusts(peer) {
		return false
	}
	if v := r.Header.Get("X-Forwarded-Proto"); v != "" {
		first, _, _ := strings.Cut(v, ",")
		return strings.EqualFold(strings.TrimSpace(first), "https")
	}
	for _, elem := range forwardedElements(r) {
		if proto, ok := elem["proto"]; ok {
			return strings.EqualFold(proto, "https")
		}
	}
	return false
}

// remoteAddr is the address of the request's connection, unmapped.
func remoteAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// forwardedFor lists the hops a request went through, leftmost (the
// client, as the first proxy saw it) first: X-Forwarded-For's entries
// across all its lines, or Forwarded's for= values when there is no
// X-Forwarded-For. A proxy that writes only Forwarded must drop an
// X-Forwarded-For the client sent, as it must drop any header it does not
// write itself.
func forwardedFor(r *http.Request) []string {
	if lines := r.Header.Values("X-Forwarded-For"); len(lines) > 0 {
		var hops []string
		for _, line := range lines {
			for _, h := range strings.Split(line, ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
		return hops
	}
	var hops []string
	for _, elem := range forwardedElements(r) {
		hops = append(hops, elem["for"])
	}
	return hops
}

// forwardedElements parses the Forwarded header (RFC 7239): one map of
// lower-cased parameter names to unquoted values per element.
func forwardedElements(r *http.Request) []map[string]string {
	var out []map[string]string
	for _, line := range r.Header.Values("Forwarded") {
		for _, elem := range splitOutsideQuotes(line, ',') {
			m := map[string]string{}
			for _, pair := range splitOutsideQuotes(elem, ';') {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok {
					continue
				}
				v = strings.TrimSpace(v)
				if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
					v = strings.ReplaceAll(v[1:len(v)-1], `\`, "")
				}
				m[strings.ToLower(strings.TrimSpace(k))] = v
			}
			out = append(out, m)
		}
	}
	return out
}

func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"' && (i == 0 || s[i-1] != '\\'):
			quoted = !quoted
		case s[i] == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// parseHop reads one hop: an address, with or without a port (IPv6 in
// brackets when it has one, as Forwarded writes it).
func parseHop(h string) (netip.Addr, bool) {
	h = strings.TrimSpace(h)
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// clientKey is what the per-address limits count under: an IPv4 address,
// or an IPv6 address's /64, since one IPv6 client (one home, one host at a
// provider) is routinely given a whole /64 to pick addresses from.
func clientKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// FailureLimit limits failed authentications per client address (an
// IPv6 client per /64), the client read through TrustedProxies. It only
// ever slows failures: a request with valid credentials is checked first
// and never counted, so a guesser behind the same load balancer, or even
// the same address, as a partner or the CRM cannot lock them out. Guessing
// a valid credential is hopeless anyway (they hold 32 random bytes); the
// limit keeps a guesser's flood cheap to answer and tells it to back off.
type FailureLimit struct {
	proxies TrustedProxies
	limit   *RateLimiter
}

// DefaultAdminFailureLimit is how many failed admin-token attempts one
// client address may make a minute (on /v1 and the console's sign-in
// together) before the next failures are answered 429.
const DefaultAdminFailureLimit = 30

// NewFailureLimit allows perMinute failures a minute per client address,
// with a burst of as many; now tells the time (nil: time.Now).
func NewFailureLimit(perMinute int, proxies TrustedProxies, now func() time.Time) *FailureLimit {
	if now == nil {
		now = time.Now
	}
	return &FailureLimit{proxies: proxies, limit: NewRateLimiter(perMinute, time.Minute, now)}
}

// Failed counts a failed authentication of r's client. When the client is
// over its limit it returns false and how long until it may fail again:
// the failure is then answered 429 rather than 401.
func (f *FailureLimit) Failed(r *http.Request) (ok bool, retryAfter time.Duration) {
	return f.limit.Take(clientKey(f.proxies.ClientAddr(r)))
}

// ClientAddr is the client of r, as the limit reads it.
func (f *FailureLimit) ClientAddr(r *http.Request) netip.Addr { return f.proxies.ClientAddr(r) }
