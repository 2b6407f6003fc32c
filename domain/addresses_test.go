package domain_test

import (
	"net/netip"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"callconnect/domain"
)

// addressCase is one block of the table: an address inside it and one just
// outside, each with the verdict expected of it. An address outside a block
// may fall in a neighbouring block (192.0.0.9 beside 192.0.0.8) or outside
// IPv6 global unicast, so its verdict is stated, not assumed.
type addressCase struct {
	block     string
	inside    string
	internal  bool // the verdict on inside: false only for a carrier of a public IPv4 address
	outside   string
	outsideIn bool // the verdict on outside
}

var addressCases = []addressCase{
	// IPv4 Special-Purpose Address Registry.
	{"0.0.0.0/8", "0.1.2.3", true, "1.0.0.0", false},
	{"0.0.0.0/32", "0.0.0.0", true, "0.0.0.1", true},
	{"10.0.0.0/8", "10.255.255.255", true, "11.0.0.0", false},
	{"100.64.0.0/10", "100.127.255.255", true, "100.128.0.0", false},
	{"100.64.0.0/10", "100.64.0.0", true, "100.63.255.255", false},
	{"127.0.0.0/8", "127.0.0.1", true, "128.0.0.0", false},
	{"169.254.0.0/16", "169.254.169.254", true, "169.255.0.0", false},
	{"172.16.0.0/12", "172.31.255.255", true, "172.32.0.0", false},
	{"172.16.0.0/12", "172.16.0.0", true, "172.15.255.255", false},
	{"192.0.0.0/24", "192.0.0.255", true, "192.0.1.0", false},
	{"192.0.0.0/29", "192.0.0.1", true, "192.0.0.8", true},
	{"192.0.0.8/32", "192.0.0.8", true, "192.0.0.11", true},
	{"192.0.0.9/32", "192.0.0.9", true, "192.0.0.11", true},
	{"192.0.0.10/32", "192.0.0.10", true, "192.0.0.11", true},
	{"192.0.0.170/31", "192.0.0.171", true, "192.0.0.172", true},
	{"192.0.2.0/24", "192.0.2.1", true, "192.0.3.0", false},
	{"192.31.196.0/24", "192.31.196.1", true, "192.31.197.0", false},
	{"192.52.193.0/24", "192.52.193.1", true, "192.52.192.255", false},
	{"192.88.99.0/24", "192.88.99.1", true, "192.88.100.0", false},
	{"192.88.99.2/32", "192.88.99.2", true, "192.88.99.3", true},
	{"192.168.0.0/16", "192.168.1.1", true, "192.169.0.0", false},
	{"192.175.48.0/24", "192.175.48.1", true, "192.175.49.0", false},
	{"198.18.0.0/15", "198.19.255.255", true, "198.20.0.0", false},
	{"198.51.100.0/24", "198.51.100.1", true, "198.51.101.0", false},
	{"203.0.113.0/24", "203.0.113.5", true, "203.0.114.0", false},
	{"240.0.0.0/4", "240.0.0.1", true, "239.255.255.255", true}, // below it, multicast
	{"255.255.255.255/32", "255.255.255.255", true, "255.255.255.254", true},
	{"224.0.0.0/4", "224.0.0.251", true, "223.255.255.255", false},

	// IPv6 Special-Purpose Address Registry.
	{"::/128", "::", true, "::2", true},
	{"::1/128", "::1", true, "::2", true},
	{"::ffff:0:0/96", "::ffff:10.0.0.1", true, "::1:0:0:0", true},
	{"::ffff:0:0/96", "::ffff:8.8.8.8", false, "::fffe:ffff:ffff", true},
	{"64:ff9b::/96", "64:ff9b::7f00:1", true, "64:ff9b::1:0:0", true},
	{"64:ff9b::/96", "64:ff9b::a9fe:a9fe", true, "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", true},
	{"64:ff9b::/96", "64:ff9b::808:808", false, "64:ff9b::1:808:808", true},
	{"64:ff9b:1::/48", "64:ff9b:1::1", true, "64:ff9b:2::", true},
	{"100::/64", "100::1", true, "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
	{"100:0:0:1::/64", "100:0:0:1::1", true, "100:0:0:2::", true},
	{"2001::/23", "2001:1ff:ffff::1", true, "2001:200::1", false},
	{"2001::/23", "2001:100::", true, "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
	{"2001::/32", "2001:0:4136:e378:8000:63bf:3fff:fdd2", true, "2001:1::4", true},
	{"2001:1::1/128", "2001:1::1", true, "2001:1::4", true},
	{"2001:1::2/128", "2001:1::2", true, "2001:1::4", true},
	{"2001:1::3/128", "2001:1::3", true, "2001:1::4", true},
	{"2001:2::/48", "2001:2::1", true, "2001:2:1::", true},
	{"2001:3::/32", "2001:3::1", true, "2001:4::1", true},
	{"2001:4:112::/48", "2001:4:112::1", true, "2001:4:113::", true},
	{"2001:10::/28", "2001:10::1", true, "2001:f:ffff:ffff:ffff:ffff:ffff:ffff", true},
	{"2001:20::/28", "2001:20::1", true, "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", true},
	{"2001:30::/28", "2001:30::1", true, "2001:40::", true},
	{"2001:db8::/32", "2001:db8::1", true, "2001:db9::", false},
	{"2001:db8::/32", "2001:db8:ffff::1", true, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false},
	{"2002::/16", "2002:c0a8:101::1", true, "2003::1", false},
	{"2002::/16", "2002:a9fe:a9fe::", true, "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
	{"2002::/16", "2002:808:808::1", false, "2003::1", false},
	{"2620:4f:8000::/48", "2620:4f:8000::1", true, "2620:4f:8001::", false},
	{"3fff::/20", "3fff::1", true, "3fff:1000::", false},
	{"5f00::/16", "5f00::1", true, "5f01::", true},
	{"fc00::/7", "fd00:ec2::254", true, "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
	{"fe80::/10", "fe80::1", true, "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
	{"::/96", "::127.0.0.1", true, "::1:0:0", true},
	{"::/96", "::8.8.8.8", true, "::1:808:808", true},
	{"fec0::/10", "fec0::1", true, "ff00::1", true},
	{"ff00::/8", "ff02::1", true, "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
}

// hostOf writes addr as a URL host.
func hostOf(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// TestAddressBlocks: for every block of the table, an address inside is in
// that block and judged as expected, an address just outside is not in it,
// and the partner URL check (configuration time) says the same.
func TestAddressBlocks(t *testing.T) {
	strict, dev := domain.URLPolicy{}, domain.URLPolicy{AllowPrivate: true}
	for _, c := range addressCases {
		t.Run(c.block+" "+c.inside, func(t *testing.T) {
			block := netip.MustParsePrefix(c.block)
			for _, a := range []struct {
				addr   netip.Addr
				in     bool
				wanted bool
			}{{netip.MustParseAddr(c.inside), true, c.internal}, {netip.MustParseAddr(c.outside), false, c.outsideIn}} {
				b, found := domain.BlockOf(a.addr)
				if a.in && (!found || b.Prefix != block) {
					t.Errorf("BlockOf(%s) = %v %v, want %s", a.addr, b.Prefix, found, block)
				}
				if !a.in && found && b.Prefix == block {
					t.Errorf("BlockOf(%s) = %s: it should be outside", a.addr, b.Prefix)
				}
				if got := domain.IsInternalAddr(a.addr); got != a.wanted {
					t.Errorf("IsInternalAddr(%s) = %v, want %v (%s)", a.addr, got, a.wanted, domain.DescribeAddr(a.addr))
				}
				raw := "https://" + hostOf(a.addr) + "/calls"
				_, err := domain.ParsePartnerURL(raw, strict)
				if refused := err != nil; refused != a.wanted {
					t.Errorf("ParsePartnerURL(%s): %v, want refused %v", raw, err, a.wanted)
				}
				if _, err := domain.ParsePartnerURL(raw, dev); err != nil {
					t.Errorf("ParsePartnerURL(%s) allowing private addresses: %v", raw, err)
				}
			}
		})
	}
}

// TestEveryBlockIsTested: a block added to the table without a case here
// fails.
func TestEveryBlockIsTested(t *testing.T) {
	tested := map[netip.Prefix]bool{}
	for _, c := range addressCases {
		tested[netip.MustParsePrefix(c.block)] = true
	}
	for _, b := range domain.AddressBlocks() {
		if !tested[b.Prefix] {
			t.Errorf("block %s (%s) has no case", b.Prefix, b.Name)
		}
		if b.Prefix != b.Prefix.Masked() {
			t.Errorf("block %s is not written masked", b.Prefix)
		}
	}
}

func TestPublicAddresses(t *testing.T) {
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "200.160.2.3", "2001:4860:4860::8888", "2606:4700::1111",
		"2804:14c::1", "::ffff:1.1.1.1", "64:ff9b::101:101", "2002:101:101::1"} {
		a := netip.MustParseAddr(s)
		if domain.IsInternalAddr(a) {
			t.Errorf("IsInternalAddr(%s) = true (%s)", s, domain.DescribeAddr(a))
		}
	}
	// A zone names an interface of this machine, whatever the address.
	if !domain.IsInternalAddr(netip.MustParseAddr("2001:4860:4860::8888%eth0")) {
		t.Error("a zoned address is not internal")
	}
}

// TestPropertyCarriedIPv4: an IPv6 address that carries an IPv4 address
// (IPv4-mapped, well-known NAT64, 6to4) is judged as that IPv4 address,
// whatever the address.
func TestPropertyCarriedIPv4(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v4 := netip.AddrFrom4([4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "ipv4")))
		b := v4.As4()
		want := domain.IsInternalAddr(v4)
		mapped := netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
		nat64 := netip.AddrFrom16([16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b, 12: b[0], 13: b[1], 14: b[2], 15: b[3]})
		sixTo4 := netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: b[0], 3: b[1], 4: b[2], 5: b[3], 15: 1})
		compat := netip.AddrFrom16([16]byte{12: b[0], 13: b[1], 14: b[2], 15: b[3]})
		for _, a := range []netip.Addr{mapped, nat64, sixTo4} {
			if got := domain.IsInternalAddr(a); got != want {
				t.Fatalf("IsInternalAddr(%s) = %v, IsInternalAddr(%s) = %v", a, got, v4, want)
			}
		}
		if !domain.IsInternalAddr(compat) {
			t.Fatalf("the IPv4-compatible %s is not internal", compat)
		}
	})
}

// TestRefusedPartnerURLSaysWhy: the error names the block (or the name) that
// refused the host, so an operator sees why a partner URL is refused.
func TestRefusedPartnerURLSaysWhy(t *testing.T) {
	for raw, want := range map[string]string{
		"https://[::127.0.0.1]/calls":         "IPv4-compatible",
		"https://[64:ff9b::a9fe:a9fe]/calls":  "NAT64) of 169.254.169.254, link local",
		"https://[2001:0:4136:e378::1]/calls": "Teredo",
		"https://203.0.113.9/calls":           "TEST-NET-3",
		"https://[4000::1]/calls":             "outside IPv6 global unicast",
		"https://metadata/calls":              `"metadata"`,
	} {
		_, err := domain.ParsePartnerURL(raw, domain.URLPolicy{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePartnerURL(%s) = %v, want an error saying %q", raw, err, want)
		}
	}
}
