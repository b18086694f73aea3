package supernode

import (
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
)

// originOf is the network prefix (protocol.OriginOf, at PrefixBits4/6) of
// the connection p's requests arrive on; nil if there is none or the
// prefix is off. A primary hands its leaf's to the replicas; a replica
// records its sender's beside it (recordstore.Origin).
func (n *Node) originOf(p peer.ID) []byte {
	for _, c := range n.host.Network().ConnsToPeer(p) {
		if o := protocol.OriginOf(c.RemoteMultiaddr(), n.cfg.PrefixBits4, n.cfg.PrefixBits6); o != nil {
			return o
		}
	}
	return nil
}
