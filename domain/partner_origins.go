package domain

import (
	"net/netip"
	"net/url"
	"slices"
	"strconv"
)

// ParseAllowedPartnerOrigin reads one entry of a deployment's list of
// partner origins accepted despite the address rules (URLPolicy.AllowedOrigins):
// an http(s) URL whose host is an IP address, such as http://127.0.0.1:8091
// (a path is ignored). It returns the origin with its port spelled out,
// which is how partner URLs are compared with it. The host must be an
// address, not a name, so that what is allowed is exactly what the
// delivery client dials: a name could resolve elsewhere later.
func ParseAllowedPartnerOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", originError("must be an http(s) URL such as http://127.0.0.1:8091")
	}
	addr, err := netip.ParseAddr(u.Hostname())
	if err != nil || addr.Zone() != "" {
		return "", originError("must name its host by IP address (such as 127.0.0.1), not by name")
	}
	ap, ok := originAddrPort(u)
	if !ok {
		return "", originError("has an invalid port")
	}
	return u.Scheme + "://" + ap.String(), nil
}

// AllowedPartnerAddr is the address and port an allowed origin (as
// ParseAllowedPartnerOrigin returned it) is reached at.
func AllowedPartnerAddr(origin string) (netip.AddrPort, bool) {
	u, err := url.Parse(origin)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return originAddrPort(u)
}

// originAddrPort is u's host, when an IP address, with its port or the
// scheme's default.
func originAddrPort(u *url.URL) (netip.AddrPort, bool) {
	addr, err := netip.ParseAddr(u.Hostname())
	if err != nil {
		return netip.AddrPort{}, false
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return netip.AddrPort{}, false
		}
		port = n
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

// allows reports whether u's origin is one of the policy's allowed origins.
func (p URLPolicy) allows(u *url.URL) bool {
	if len(p.AllowedOrigins) == 0 {
		return false
	}
	ap, ok := originAddrPort(u)
	return ok && slices.Contains(p.AllowedOrigins, u.Scheme+"://"+ap.String())
}
