package domain

import "net/netip"

// AddressBlock is one range of addresses that Call Connect never posts a
// call to (rule 15): an entry of the IANA IPv4 or IPv6 Special-Purpose Address
// Registry (RFC 6890 and its updates), or one of the few other ranges that
// are not unicast on the public internet (multicast, deprecated forms).
type AddressBlock struct {
	Prefix netip.Prefix
	Name   string
	// Global is the registry's "Globally Reachable" column: true for the
	// anycast services, AS112, AMT, ORCHIDv2 and DETs, and for the
	// well-known NAT64 prefix. False also where the registry says N/A
	// (Teredo, 6to4, deprecated blocks) and for the ranges outside it.
	Global bool
	// Carries says where an IPv4 address sits inside an IPv6 address of
	// the block, when one does and reaching it means reaching that IPv4
	// address: such an address is as internal as the IPv4 address it
	// carries, and no more.
	Carries Embedding
}

// Embedding is how an IPv6 address carries an IPv4 address.
type Embedding int

const (
	EmbedsNone       Embedding = iota
	EmbedsLast32               // ::ffff:a.b.c.d (mapped), 64:ff9b::a.b.c.d (NAT64)
	EmbedsBits16to48           // 2002:aabb:ccdd:: (6to4)
)

// The decision on the registry's globally reachable blocks is to refuse
// them all the same. They are anycast services of network protocols (PCP,
// TURN, DNS-SD registration), DNS sinks (AS112), multicast relays (AMT) and
// cryptographic identifiers (ORCHIDv2, DETs): no partner's web server
// answers there, so refusing them costs no partner anything, and a request
// aimed at them can only be a mistake or a probe. The one exception is
// where a block carries an IPv4 address that a gateway reaches on our
// behalf (NAT64, 6to4, IPv4-mapped): there the IPv4 address is judged.
// Teredo (2001::/32) carries addresses too, but it lies in 2001::/23,
// refused whole, and no partner is reached through a Teredo relay.
var addressBlocks = []AddressBlock{
	// IPv4 Special-Purpose Address Registry.
	{Prefix: netip.MustParsePrefix("0.0.0.0/8"), Name: `"this network"`},
	{Prefix: netip.MustParsePrefix("0.0.0.0/32"), Name: `"this host on this network"`},
	{Prefix: netip.MustParsePrefix("10.0.0.0/8"), Name: "private use"},
	{Prefix: netip.MustParsePrefix("100.64.0.0/10"), Name: "shared address space (carrier-grade NAT)"},
	{Prefix: netip.MustParsePrefix("127.0.0.0/8"), Name: "loopback"},
	{Prefix: netip.MustParsePrefix("169.254.0.0/16"), Name: "link local (cloud metadata services)"},
	{Prefix: netip.MustParsePrefix("172.16.0.0/12"), Name: "private use"},
	{Prefix: netip.MustParsePrefix("192.0.0.0/24"), Name: "IETF protocol assignments"},
	{Prefix: netip.MustParsePrefix("192.0.0.0/29"), Name: "IPv4 service continuity prefix"},
	{Prefix: netip.MustParsePrefix("192.0.0.8/32"), Name: "IPv4 dummy address"},
	{Prefix: netip.MustParsePrefix("192.0.0.9/32"), Name: "Port Control Protocol anycast", Global: true},
	{Prefix: netip.MustParsePrefix("192.0.0.10/32"), Name: "TURN anycast", Global: true},
	{Prefix: netip.MustParsePrefix("192.0.0.170/31"), Name: "NAT64/DNS64 discovery"},
	{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Name: "documentation (TEST-NET-1)"},
	{Prefix: netip.MustParsePrefix("192.31.196.0/24"), Name: "AS112-v4", Global: true},
	{Prefix: netip.MustParsePrefix("192.52.193.0/24"), Name: "AMT", Global: true},
	{Prefix: netip.MustParsePrefix("192.88.99.0/24"), Name: "deprecated 6to4 relay anycast"},
	{Prefix: netip.MustParsePrefix("192.88.99.2/32"), Name: "6a44 relay anycast", Global: true},
	{Prefix: netip.MustParsePrefix("192.168.0.0/16"), Name: "private use"},
	{Prefix: netip.MustParsePrefix("192.175.48.0/24"), Name: "direct delegation AS112 service", Global: true},
	{Prefix: netip.MustParsePrefix("198.18.0.0/15"), Name: "benchmarking"},
	{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Name: "documentation (TEST-NET-2)"},
	{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Name: "documentation (TEST-NET-3)"},
	{Prefix: netip.MustParsePrefix("240.0.0.0/4"), Name: "reserved"},
	{Prefix: netip.MustParsePrefix("255.255.255.255/32"), Name: "limited broadcast"},
	// IPv4 multicast (its own registry): never a web server.
	{Prefix: netip.MustParsePrefix("224.0.0.0/4"), Name: "multicast"},

	// IPv6 Special-Purpose Address Registry.
	{Prefix: netip.MustParsePrefix("::/128"), Name: "unspecified address"},
	{Prefix: netip.MustParsePrefix("::1/128"), Name: "loopback"},
	{Prefix: netip.MustParsePrefix("::ffff:0:0/96"), Name: "IPv4-mapped", Carries: EmbedsLast32},
	{Prefix: netip.MustParsePrefix("64:ff9b::/96"), Name: "IPv4/IPv6 translation (well-known NAT64)", Global: true, Carries: EmbedsLast32},
	{Prefix: netip.MustParsePrefix("64:ff9b:1::/48"), Name: "IPv4/IPv6 translation (local-use NAT64)"},
	{Prefix: netip.MustParsePrefix("100::/64"), Name: "discard-only"},
	{Prefix: netip.MustParsePrefix("100:0:0:1::/64"), Name: "dummy IPv6 prefix"},
	{Prefix: netip.MustParsePrefix("2001::/23"), Name: "IETF protocol assignments"},
	{Prefix: netip.MustParsePrefix("2001::/32"), Name: "Teredo"},
	{Prefix: netip.MustParsePrefix("2001:1::1/128"), Name: "Port Control Protocol anycast", Global: true},
	{Prefix: netip.MustParsePrefix("2001:1::2/128"), Name: "TURN anycast", Global: true},
	{Prefix: netip.MustParsePrefix("2001:1::3/128"), Name: "DNS-SD service registration anycast", Global: true},
	{Prefix: netip.MustParsePrefix("2001:2::/48"), Name: "benchmarking"},
	{Prefix: netip.MustParsePrefix("2001:3::/32"), Name: "AMT", Global: true},
	{Prefix: netip.MustParsePrefix("2001:4:112::/48"), Name: "AS112-v6", Global: true},
	{Prefix: netip.MustParsePrefix("2001:10::/28"), Name: "deprecated ORCHID"},
	{Prefix: netip.MustParsePrefix("2001:20::/28"), Name: "ORCHIDv2", Global: true},
	{Prefix: netip.MustParsePrefix("2001:30::/28"), Name: "drone remote ID entity tags", Global: true},
	{Prefix: netip.MustParsePrefix("2001:db8::/32"), Name: "documentation"},
	{Prefix: netip.MustParsePrefix("2002::/16"), Name: "6to4", Carries: EmbedsBits16to48},
	{Prefix: netip.MustParsePrefix("2620:4f:8000::/48"), Name: "direct delegation AS112 service", Global: true},
	{Prefix: netip.MustParsePrefix("3fff::/20"), Name: "documentation"},
	{Prefix: netip.MustParsePrefix("5f00::/16"), Name: "segment routing (SRv6) SIDs"},
	{Prefix: netip.MustParsePrefix("fc00::/7"), Name: "unique local (cloud metadata services, fd00:ec2::254)"},
	{Prefix: netip.MustParsePrefix("fe80::/10"), Name: "link-local unicast"},
	// Outside the registry, never a partner's address either.
	{Prefix: netip.MustParsePrefix("::/96"), Name: "IPv4-compatible (deprecated; ::127.0.0.1 reaches loopback on some stacks)"},
	{Prefix: netip.MustParsePrefix("fec0::/10"), Name: "site-local (deprecated, still routed inside some networks)"},
	{Prefix: netip.MustParsePrefix("ff00::/8"), Name: "multicast"},
}

// globalUnicast6 is the only IPv6 space IANA allocates for global unicast:
// an IPv6 address outside it (and outside the translation blocks above) is
// reserved by the IETF and reaches no partner.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// AddressBlocks returns the table IsInternalAddr judges by, in the
// registries' order.
func AddressBlocks() []AddressBlock { return append([]AddressBlock(nil), addressBlocks...) }

// BlockOf returns the most specific block of the table that holds a, if
// any. An IPv4 address is looked up among the IPv4 blocks, an IPv6 one
// (IPv4-mapped included) among the IPv6 blocks.
func BlockOf(a netip.Addr) (AddressBlock, bool) {
	var (
		best  AddressBlock
		found bool
	)
	a = a.WithZone("")
	for _, b := range addressBlocks {
		if b.Prefix.Contains(a) && (!found || b.Prefix.Bits() > best.Prefix.Bits()) {
			best, found = b, true
		}
	}
	return best, found
}

// embedded returns the IPv4 address a carries, for a block that carries one.
func (b AddressBlock) embedded(a netip.Addr) (netip.Addr, bool) {
	x := a.As16()
	switch b.Carries {
	case EmbedsLast32:
		return netip.AddrFrom4([4]byte(x[12:16])), true
	case EmbedsBits16to48:
		return netip.AddrFrom4([4]byte(x[2:6])), true
	}
	return netip.Addr{}, false
}

// IsInternalAddr reports whether Call Connect must not post to addr: an
// address of a block of the table (whatever the registry says of its global
// reachability; see addressBlocks), an IPv6 address outside global unicast,
// an address with an IPv6 zone (an interface of this machine), or no
// address at all. Addresses that carry an IPv4 address (IPv4-mapped, NAT64,
// 6to4) are judged by the IPv4 address they carry. The partner URL is
// checked with it when configured and the delivery client when it dials.
func IsInternalAddr(addr netip.Addr) bool {
	if !addr.IsValid() || addr.Zone() != "" {
		return true
	}
	if b, ok := BlockOf(addr); ok {
		if v4, ok := b.embedded(addr); ok {
			return IsInternalAddr(v4)
		}
		return true
	}
	return addr.Is6() && !globalUnicast6.Contains(addr)
}

// DescribeAddr names what addr is for an error message: its block ("loopback"),
// the IPv4 address it carries and that one's block ("6to4 of 10.0.0.1,
// private use"), or why it is refused outside the table.
func DescribeAddr(addr netip.Addr) string {
	switch b, ok := BlockOf(addr); {
	case addr.Zone() != "":
		return "an address scoped to an interface of this machine"
	case ok:
		if v4, carries := b.embedded(addr); carries {
			return b.Name + " of " + v4.String() + ", " + DescribeAddr(v4)
		}
		return b.Name
	case !addr.IsValid():
		return "no address"
	case addr.Is6() && !globalUnicast6.Contains(addr):
		return "reserved by the IETF, outside IPv6 global unicast"
	}
	return "global unicast"
}
