package protocol_test

import (
	"errors"
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/protocol"
)

func TestOriginOfMasksToThePrefix(t *testing.T) {
	for _, c := range []struct {
		addr         string
		bits4, bits6 int
		want         string
	}{
		{"/ip4/198.51.100.77/tcp/4001", 24, 48, "198.51.100.0/24"},
		{"/ip4/127.77.0.5/tcp/4001", 32, 128, "127.77.0.5/32"},
		{"/ip6/2001:db8:1:2:3::9/udp/4001/quic-v1", 24, 48, "2001:db8:1::/48"},
		{"/ip6/::ffff:198.51.100.77/tcp/1", 24, 48, "198.51.100.0/24"}, // IPv4-mapped is IPv4
		{"/ip4/198.51.100.77/tcp/4001", 0, 48, ""},                     // diversity off
		{"/dns4/example.com/tcp/4001", 24, 48, ""},                     // no IP
	} {
		o := protocol.OriginOf(ma.StringCast(c.addr), c.bits4, c.bits6)
		if got := protocol.OriginString(o); got != c.want {
			t.Errorf("%s at /%d,/%d: %q, want %q", c.addr, c.bits4, c.bits6, got, c.want)
		}
		if err := protocol.CheckOrigin(o); err != nil {
			t.Errorf("%s: OriginOf made an origin CheckOrigin refuses: %v", c.addr, err)
		}
	}
}

func TestCheckOriginRefusesMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"3 bytes":       {24, 1, 2},
		"18 bytes":      make([]byte, 18),
		"length 0":      {0, 0, 0, 0, 0},
		"length 33 v4":  {33, 10, 0, 0, 0},
		"length 129 v6": append([]byte{129}, make([]byte, 16)...),
		"bits past /24": {24, 10, 0, 0, 1},
		"bits past /48": append([]byte{48, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 1}, make([]byte, 8)...),
	} {
		if err := protocol.CheckOrigin(b); !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if err := protocol.CheckOrigin(nil); err != nil {
		t.Errorf("empty (unknown) origin refused: %v", err)
	}
}
