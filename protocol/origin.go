package protocol

import (
	"fmt"
	"net/netip"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// An origin is the network prefix an announcement came from: the leaf's
// primary masks the IP of the connection the announcement arrived on to
// its configured prefix (/24 and /48 by default) and hands it to the
// replicas with the envelope. Lookup answers are spread over origins, so
// identities from one prefix cannot fill an answer (answer stuffing).
//
// It is unsigned: the primary says where its leaf came from, and a replica
// can only take its word (see docs/security.md, "Answer stuffing").
//
// Wire form: one byte of prefix length, then the address masked to it:
// 4 bytes (IPv4) or 16 (IPv6); empty: unknown.

// MaxOriginSize bounds an origin's wire form (an IPv6 prefix).
const MaxOriginSize = 1 + 16

// OriginOf is the origin of a connection whose remote address is a, at
// bits4 (IPv4) or bits6 (IPv6) prefix bits; nil when a has no IP or the
// prefix length for its family is 0 (diversity off).
func OriginOf(a ma.Multiaddr, bits4, bits6 int) []byte {
	if a == nil {
		return nil
	}
	ip, err := manet.ToIP(a)
	if err != nil {
		return nil
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return nil
	}
	addr = addr.Unmap()
	bits := bits6
	if addr.Is4() {
		bits = bits4
	}
	if bits <= 0 {
		return nil
	}
	p, err := addr.Prefix(min(bits, addr.BitLen()))
	if err != nil {
		return nil
	}
	return append([]byte{byte(p.Bits())}, p.Addr().AsSlice()...)
}

// CheckOrigin validates an origin's wire form: empty, or a prefix length
// that fits its family followed by an address with no bit set past it.
func CheckOrigin(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if len(b) != 1+4 && len(b) != 1+16 {
		return fmt.Errorf("%w: origin of %d bytes (want 0, 5 or 17)", ErrMalformed, len(b))
	}
	addr, _ := netip.AddrFromSlice(b[1:])
	bits := int(b[0])
	if bits < 1 || bits > addr.BitLen() {
		return fmt.Errorf("%w: origin prefix length %d", ErrMalformed, bits)
	}
	if p, err := addr.Prefix(bits); err != nil || p.Addr() != addr {
		return fmt.Errorf("%w: origin address has bits past /%d", ErrMalformed, bits)
	}
	return nil
}

// OriginString is an origin in CIDR notation ("" if empty or invalid).
func OriginString(b []byte) string {
	if CheckOrigin(b) != nil || len(b) == 0 {
		return ""
	}
	addr, _ := netip.AddrFromSlice(b[1:])
	return netip.PrefixFrom(addr, int(b[0])).String()
}
