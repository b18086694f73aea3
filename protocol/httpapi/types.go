package httpapi

import "github.com/supertracker/supertracker/election"

// Paths served on --api.
const (
	PathStatus   = "/v1/status"
	PathAnnounce = "/v1/announce"
	PathWithdraw = "/v1/withdraw"
	PathObjects  = "/v1/objects"
	PathLookup   = "/v1/lookup"
)

// MaxBodySize bounds every request body the API accepts.
const MaxBodySize = 1 << 20

// Roles a node reports.
const (
	RoleLeaf      = "leaf"
	RoleSupernode = "supernode"
)

// Status is GET /v1/status.
type Status struct {
	Role   string   `json:"role"`    // "leaf" or "supernode"
	PeerID string   `json:"peer_id"` // this node's libp2p peer ID
	Addrs  []string `json:"addrs"`   // full multiaddrs ending in /p2p/PEERID
	// Leaf: the attached supernodes as multiaddrs, primary first.
	Supernodes []string `json:"supernodes,omitempty"`
	// Leaf: how many objects it announces.
	Objects int `json:"objects,omitempty"`
	// Supernode: the leaves attached now, and capacity.
	Leaves    *int `json:"leaves,omitempty"`
	MaxLeaves int  `json:"max_leaves,omitempty"`
	// Supernode: the DHT routing table size.
	RoutingTable *int `json:"routing_table,omitempty"`
	// Supernode: load it reports to leaves.
	Rho *float64 `json:"rho,omitempty"`
	// Supernode: requests per second it serves (λ, measured).
	ReqPerSec *float64 `json:"req_per_s,omitempty"`
	// Supernode: live records it stores.
	Records *int `json:"records,omitempty"`
	// Leaf: whether a dial-back reached it and, behind a NAT, the
	// supernodes relaying for it.
	Relay *RelayStatus `json:"relay,omitempty"`
	// Election state when the node runs the election (supertracker node).
	Election *ElectionStatus `json:"election,omitempty"`
	// Traffic by libp2p protocol ID since the process started (messages
	// where the node counts them, bytes from libp2p's bandwidth counter).
	Traffic map[string]Traffic `json:"traffic,omitempty"`
	// UptimeSeconds since the process started.
	UptimeSeconds float64 `json:"uptime_seconds"`
}

// ElectionStatus is the "election" object of a node's status: the election
// machine's status and, for a supernode, which supernodes its DHT routing
// table holds (whether supernodes that promoted apart merged into one DHT).
type ElectionStatus struct {
	election.Status
	// DHTPeers: peer IDs in the DHT routing table (supernode only).
	DHTPeers []string `json:"dht_peers,omitempty"`
}

// RelayStatus is a leaf's reachability and its relay slots.
type RelayStatus struct {
	Mode         string `json:"mode"`         // auto, always, off
	Reachability string `json:"reachability"` // unknown, public, private
	CheckedBy    string `json:"checked_by,omitempty"`
	// Relays: the supernodes holding a relay slot for this leaf.
	Relays []string `json:"relays,omitempty"`
}

// AnnounceRequest is the body of POST /v1/announce and /v1/withdraw.
type AnnounceRequest struct {
	CIDs []string `json:"cids"`
}

// AnnounceResponse reports what the overlay accepted.
type AnnounceResponse struct {
	Accepted int `json:"accepted"` // CIDs the supernode accepted
	Replicas int `json:"replicas"` // supernodes that stored the record
}

// ObjectsResponse is GET /v1/objects.
type ObjectsResponse struct {
	CIDs []string `json:"cids"`
}

// Holder is one peer that holds an object.
type Holder struct {
	PeerID string   `json:"peer_id"`
	Addrs  []string `json:"addrs"` // full multiaddrs ending in /p2p/PEERID
}

// LookupResponse is GET /v1/lookup.
type LookupResponse struct {
	CID     string   `json:"cid"`
	Holders []Holder `json:"holders"`
}

// Error is the body of every non-2xx reply.
type Error struct {
	Error string `json:"error"`
}

// Traffic counts one protocol's messages and bytes.
type Traffic struct {
	MsgsIn   uint64 `json:"msgs_in"`
	MsgsOut  uint64 `json:"msgs_out"`
	BytesIn  int64  `json:"bytes_in"`
	BytesOut int64  `json:"bytes_out"`
}
