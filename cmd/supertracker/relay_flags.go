package main

import (
	"time"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
)

// addRelayModeFlag adds --relay (leaf and node): when a leaf reserves
// Circuit Relay v2 slots on its supernodes.
func addRelayModeFlag(fs *cmdFlags) *string {
	p := fs.String("relay", string(leaf.RelayAuto),
		"relay slots on the attached supernodes, announced as /p2p-circuit addresses: auto (when a dial-back finds this node unreachable, e.g. behind a NAT), always or off")
	fs.check("relay", oneOf(string(leaf.RelayAuto), string(leaf.RelayAlways), string(leaf.RelayOff)))
	return p
}

// relayServiceFlags bound the relay a supernode serves to its attached
// leaves (supernode and node).
type relayServiceFlags struct {
	maxDuration *time.Duration
	maxBytes    *int
}

func addRelayServiceFlags(fs *cmdFlags) relayServiceFlags {
	def := supernode.DefaultRelayConfig()
	f := relayServiceFlags{
		maxDuration: fs.Duration("relay-max-duration", def.MaxDuration, "a supernode resets a connection it relays for an attached leaf after this long"),
		maxBytes:    fs.Int("relay-max-bytes", int(def.MaxBytes), "… or after this many bytes in either direction"),
	}
	fs.check("relay-max-duration", positiveDuration)
	fs.check("relay-max-bytes", atLeast(1))
	return f
}

func (f relayServiceFlags) apply(c *supernode.RelayConfig) {
	c.MaxDuration, c.MaxBytes = *f.maxDuration, int64(*f.maxBytes)
}
