package probe

import (
	"net"
	"testing"
)

func TestDialBackAllowed(t *testing.T) {
	for _, tc := range []struct {
		from, target string
		ok           bool
	}{
		{"192.0.2.7", "192.0.2.7", true},
		{"192.0.2.7", "192.0.2.8", false}, // a third host: never
		{"127.0.0.1", "127.0.0.5", true},  // loopback: the same host
		{"127.0.0.1", "192.0.2.8", false}, // from loopback to elsewhere: never
		{"192.0.2.7", "127.0.0.1", false}, // a remote asking us to dial ourselves
		{"::1", "127.0.0.9", true},        // loopback either family
		{"2001:db8::1", "2001:db8::2", false},
	} {
		if got := dialBackAllowed(net.ParseIP(tc.from), net.ParseIP(tc.target)); got != tc.ok {
			t.Errorf("dialBackAllowed(%s, %s) = %v, want %v", tc.from, tc.target, got, tc.ok)
		}
	}
}
