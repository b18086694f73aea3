package protocol

import (
	"crypto/sha256"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/protocol"
	mh "github.com/multiformats/go-multihash"
)

// Protocol identifiers. They are constants: a node speaks exactly these.
const (
	// DHTPrefix is the kad-dht protocol prefix of the supernode DHT. A stock
	// go-libp2p-kad-dht configured with dht.ProtocolPrefix(DHTPrefix) joins it.
	DHTPrefix protocol.ID = "/supertracker"

	// LeafProtocol carries leaf↔supernode sessions: attach, heartbeat,
	// announce, withdraw, lookup, supernode discovery.
	LeafProtocol protocol.ID = "/supertracker/leaf/1.0.0"

	// PeerProtocol carries supernode↔supernode sessions: membership
	// (hello, gossip), replica stores and one-hop fetches, pipelined on one
	// long-lived stream per pair.
	PeerProtocol protocol.ID = "/supertracker/peer/1.0.0"
)

// SupernodeRendezvous is the CID every supernode provides in the DHT so that
// anyone who knows one supernode (or a stock kad-dht client) can find others.
var SupernodeRendezvous = func() cid.Cid {
	sum := sha256.Sum256([]byte("supertracker/supernodes/v1"))
	h, err := mh.Encode(sum[:], mh.SHA2_256)
	if err != nil {
		panic(err) // static input: cannot fail
	}
	return cid.NewCidV1(cid.Raw, h)
}()

// BackupHeartbeatFactor is part of the leaf session's contract: a leaf
// heartbeats a backup supernode every BackupHeartbeatFactor × the interval
// that supernode asked for (AttachResponse.heartbeat_interval_ms), its
// primary every interval; a supernode keeps a backup session (and an idle
// leaf stream) for BackupHeartbeatFactor × its session timeout. A backup is
// needed only when the primary fails, and the leaf asks it to answer before
// it promotes it, so its liveness may be known less often: two of a leaf's
// three heartbeat streams beat a third as often.
const BackupHeartbeatFactor = 3
