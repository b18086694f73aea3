package protocol

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/supertracker/supertracker/protocol/pb"
)

// BTPeersProtocol carries BitTorrent peer queries between leaves (package
// leaf/btbridge): "which BitTorrent clients do you hold for these
// infohashes?". One stream carries sequential BTPeersRequest/BTPeersResponse
// pairs.
const BTPeersProtocol protocol.ID = "/supertracker/bt-peers/1.0.0"

// Bounds of the bt-peers protocol. They are part of the protocol, not
// tunable: a full response (MaxBTInfoHashes swarms, MaxBTPeers peers with
// IPv6 addresses and peer IDs) is about 14 KiB, well under
// DefaultLimits.MaxMessageSize.
const (
	// MaxBTInfoHashes bounds the infohashes in one request: what fits in
	// one BEP 15 UDP scrape, the largest scrape a client can send.
	MaxBTInfoHashes = 74
	// MaxBTPeers bounds the per-infohash limit of a request and the peers
	// in one response, all swarms together (bttracker's MaxNumWant
	// default).
	MaxBTPeers = 200
	// BTInfoHashSize and BTPeerIDSize are the BitTorrent sizes.
	BTInfoHashSize = 20
	BTPeerIDSize   = 20
	// MaxBTCompletionLeaves bounds the per-leaf completion counts in one
	// swarm, MaxBTCompletionEntries those in one response (about 24 KiB).
	MaxBTCompletionLeaves  = 64
	MaxBTCompletionEntries = 512
	// MaxBTLeafIDSize bounds a leaf's binary peer ID in a completion count.
	MaxBTLeafIDSize = 64
)

// DecodeBTPeersRequest decodes and validates one bt-peers request: 1 to
// MaxBTInfoHashes distinct 20-byte infohashes and a limit of at most
// MaxBTPeers.
func (l Limits) DecodeBTPeersRequest(b []byte) (*pb.BTPeersRequest, error) {
	return decodeChecked(l, "bt-peers request", b, ValidateBTPeersRequest)
}

// ValidateBTPeersRequest checks a request against the protocol bounds.
func ValidateBTPeersRequest(m *pb.BTPeersRequest) error {
	n := len(m.InfoHashes)
	switch {
	case n == 0:
		return fmt.Errorf("%w: bt-peers request without infohashes", ErrMalformed)
	case n > MaxBTInfoHashes:
		return fmt.Errorf("%w: %d infohashes (max %d)", ErrOverLimit, n, MaxBTInfoHashes)
	case m.Limit > MaxBTPeers:
		return fmt.Errorf("%w: bt-peers limit %d (max %d)", ErrOverLimit, m.Limit, MaxBTPeers)
	case len(m.Completed) != 0 && len(m.Completed) != n:
		return fmt.Errorf("%w: %d completion counts for %d infohashes", ErrMalformed, len(m.Completed), n)
	}
	seen := make(map[string]struct{}, n)
	for i, h := range m.InfoHashes {
		if len(h) != BTInfoHashSize {
			return fmt.Errorf("%w: infohash %d is %d bytes, want %d", ErrMalformed, i, len(h), BTInfoHashSize)
		}
		if _, dup := seen[string(h)]; dup {
			return fmt.Errorf("%w: duplicate infohash %x", ErrMalformed, h)
		}
		seen[string(h)] = struct{}{}
	}
	return nil
}

// DecodeBTPeersResponse decodes and validates one bt-peers response: error
// text within MaxErrorSize, at most MaxBTInfoHashes distinct swarms, at most
// MaxBTPeers peers in all, each with a 4- or 16-byte IP, a non-zero port and
// an empty or 20-byte peer ID. Whether the swarms answer what was asked is
// for the caller to check.
func (l Limits) DecodeBTPeersResponse(b []byte) (*pb.BTPeersResponse, error) {
	return decodeChecked(l, "bt-peers response", b, l.ValidateBTPeersResponse)
}

// ValidateBTPeersResponse checks a response against the protocol bounds.
func (l Limits) ValidateBTPeersResponse(m *pb.BTPeersResponse) error {
	if len(m.Error) > l.MaxErrorSize {
		return fmt.Errorf("%w: error text of %d bytes", ErrOverLimit, len(m.Error))
	}
	if m.Error != "" && len(m.Swarms) > 0 {
		return fmt.Errorf("%w: bt-peers response with both error and swarms", ErrMalformed)
	}
	if len(m.Swarms) > MaxBTInfoHashes {
		return fmt.Errorf("%w: %d swarms (max %d)", ErrOverLimit, len(m.Swarms), MaxBTInfoHashes)
	}
	seen := make(map[string]struct{}, len(m.Swarms))
	total, entries := 0, 0
	for i, s := range m.Swarms {
		if s == nil {
			return fmt.Errorf("%w: swarm %d missing", ErrMalformed, i)
		}
		if len(s.InfoHash) != BTInfoHashSize {
			return fmt.Errorf("%w: swarm %d: infohash is %d bytes", ErrMalformed, i, len(s.InfoHash))
		}
		if _, dup := seen[string(s.InfoHash)]; dup {
			return fmt.Errorf("%w: duplicate swarm %x", ErrMalformed, s.InfoHash)
		}
		seen[string(s.InfoHash)] = struct{}{}
		if len(s.Completions) > MaxBTCompletionLeaves {
			return fmt.Errorf("%w: swarm %d: %d completion counts (max %d)", ErrOverLimit, i, len(s.Completions), MaxBTCompletionLeaves)
		}
		entries += len(s.Completions)
		if entries > MaxBTCompletionEntries {
			return fmt.Errorf("%w: more than %d completion counts", ErrOverLimit, MaxBTCompletionEntries)
		}
		for j, c := range s.Completions {
			if c == nil || len(c.Leaf) == 0 || len(c.Leaf) > MaxBTLeafIDSize {
				return fmt.Errorf("%w: swarm %d completion count %d: bad leaf ID", ErrMalformed, i, j)
			}
		}
		total += len(s.Peers)
		if total > MaxBTPeers {
			return fmt.Errorf("%w: more than %d peers", ErrOverLimit, MaxBTPeers)
		}
		for j, p := range s.Peers {
			if err := ValidateBTPeer(p); err != nil {
				return fmt.Errorf("swarm %d peer %d: %w", i, j, err)
			}
		}
	}
	return nil
}

// ValidateBTPeer checks one peer: 4- or 16-byte IP, port in 1..65535, peer
// ID empty or 20 bytes.
func ValidateBTPeer(p *pb.BTPeer) error {
	switch {
	case p == nil:
		return fmt.Errorf("%w: missing peer", ErrMalformed)
	case len(p.Ip) != 4 && len(p.Ip) != 16:
		return fmt.Errorf("%w: IP of %d bytes", ErrMalformed, len(p.Ip))
	case p.Port == 0 || p.Port > 65535:
		return fmt.Errorf("%w: port %d", ErrMalformed, p.Port)
	case len(p.PeerId) != 0 && len(p.PeerId) != BTPeerIDSize:
		return fmt.Errorf("%w: peer ID of %d bytes", ErrMalformed, len(p.PeerId))
	}
	return nil
}
