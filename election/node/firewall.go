package node

import (
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// inboundRefused simulates a peer behind a NAT or firewall on a loopback
// testnet (--firewalled): it dials out but accepts no inbound connection,
// so dial-backs fail for real.
type inboundRefused struct{}

func (inboundRefused) InterceptPeerDial(peer.ID) bool               { return true }
func (inboundRefused) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }
func (inboundRefused) InterceptAccept(network.ConnMultiaddrs) bool  { return false }
func (inboundRefused) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	return true
}
func (inboundRefused) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}
