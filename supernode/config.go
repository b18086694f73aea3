package supernode

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/filecoin-project/go-clock"
	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/traffic"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("supernode: invalid config")

// Config is a supernode's configuration. Start from a preset
// (DefaultConfig, LocalConfig; runner.Preset looks them up by name), change
// fields, and pass
// it to New, which validates it and does not change it.
type Config struct {
	// ReplicationFactor r: how many supernodes (the r closest to each CID
	// in XOR distance, one per network prefix) store each record.
	ReplicationFactor int
	// RecordTTL: how long a leaf's records live without a refresh (the
	// expiry leaves sign; they refresh every third of it).
	RecordTTL time.Duration
	// HeartbeatInterval the supernode asks its leaves to keep.
	HeartbeatInterval time.Duration
	// SessionTimeout: a leaf that has not been heard from for this long is
	// detached.
	SessionTimeout time.Duration
	// MaxLeaves: most leaves attached at once.
	MaxLeaves int
	// MaxLeavesPerPrefix: most leaves attached from one network prefix
	// (PrefixBits4/6); 0: no per-prefix bound.
	MaxLeavesPerPrefix int
	// MaxRecordsPerLeaf: most CIDs one leaf may have live on this supernode.
	MaxRecordsPerLeaf int
	// RequestsPerSecond and RequestBurst: per-peer token bucket on the leaf
	// protocol (and on the peer protocol before a hello).
	RequestsPerSecond float64
	RequestBurst      int
	// PeerRequestsPerSecond and PeerRequestBurst: per-peer token bucket for
	// another supernode's requests (stores and fetches on behalf of all its
	// leaves).
	PeerRequestsPerSecond float64
	PeerRequestBurst      int
	// CIDsPerSecond bounds the CIDs announced through this supernode per
	// second, per leaf, per network prefix and in total (bursts of one
	// second's worth); a batch over the budget is refused RATE_LIMITED.
	CIDsPerSecond CIDRates
	// MaxConcurrentAnnounces bounds announcements (and the replica fan-out
	// they start) in flight at once; beyond it leaves are told OVER_CAPACITY.
	MaxConcurrentAnnounces int
	// LookupTimeout bounds one lookup on a leaf's behalf.
	LookupTimeout time.Duration
	// LookupFanout: replicas asked at once for a CID this supernode does not
	// hold itself (more are asked when those fail or hold nothing).
	LookupFanout int
	// LookupSettle: once one replica answered, how long to wait for the
	// others before answering with what is there.
	LookupSettle time.Duration
	// ReplicateTimeout bounds the fan-out of one announcement to its
	// replicas; replicas that did not answer by then are repaired later.
	ReplicateTimeout time.Duration
	// GossipInterval: how often the membership view is compared with a
	// random other supernode's.
	GossipInterval time.Duration
	// CertTTL: how long this supernode's signed certificate lives; it is
	// re-issued every third of it, so a dead supernode leaves every view
	// within CertTTL even if nobody noticed it die.
	CertTTL time.Duration
	// RepairDelay: how long a membership change settles before records are
	// moved to their new replicas.
	RepairDelay time.Duration
	// MirrorTTL: how long a record copied into kad-dht's provider store
	// (for stock kad-dht clients, on their GET_PROVIDERS) is served there;
	// a withdrawn or expired record can outlive its end there by at most
	// this much.
	MirrorTTL time.Duration
	// PrefixBits4 and PrefixBits6: leading address bits that make one
	// network prefix (replica diversity, per-prefix bounds); 0 turns
	// diversity off (tests whose hosts share one address).
	PrefixBits4, PrefixBits6 int
	// GCInterval: how often expired records and sessions are removed.
	GCInterval time.Duration
	// BootstrapPeers: supernodes to join through (may be empty for the first
	// supernode).
	BootstrapPeers []peer.AddrInfo
	// Datastore keeps the records (and survives restarts when on disk); nil
	// uses an in-memory one.
	Datastore ds.Batching
	// Limits bound every message.
	Limits protocol.Limits
	// Logger receives structured logs.
	Logger *slog.Logger
	// Meter, if set, counts the supernode's traffic (shared with the rest
	// of the node so counts survive role changes).
	Meter *traffic.Meter
	// UploadLimit, if set, throttles what the supernode sends on our
	// protocols (--bandwidth-limit); shared with the node's probes.
	UploadLimit *rate.Limiter
	// Clock drives every timer and expiry (tests inject a mock); nil is the
	// wall clock.
	Clock clock.Clock
	// Relay bounds the Circuit Relay v2 service for attached leaves
	// (relay.go).
	Relay RelayConfig
	// DisableDHTAutoRefresh turns off kad-dht's periodic routing table
	// refresh (tests).
	DisableDHTAutoRefresh bool
}

// CIDRates are announcement budgets in CIDs per second; 0 is unbounded.
type CIDRates struct {
	PerLeaf, PerPrefix, Total float64
}

// DefaultConfig is for supernodes on the Internet.
func DefaultConfig() Config {
	return Config{
		ReplicationFactor:     8,                // mainline DHT's 8 (kad-dht: 20)
		RecordTTL:             45 * time.Minute, // BitTorrent trackers time a peer out after ~45 min
		HeartbeatInterval:     5 * time.Second,  // a silent primary is replaced within ~10 s
		SessionTimeout:        15 * time.Second, // 3 missed heartbeats
		MaxLeaves:             200,              // KaZaA: 60–160 per supernode; a libp2p leaf is cheaper
		MaxLeavesPerPrefix:    32,               // one /24 cannot take a supernode's leaf slots
		MaxRecordsPerLeaf:     10000,            // a desktop shares thousands of objects, not millions
		RequestsPerSecond:     50,               // per peer; a leaf heartbeats every 5 s
		RequestBurst:          200,              // 4 s of requests: a leaf's start (attach, announce, lookups) at once
		PeerRequestsPerSecond: 5000,             // a supernode forwards for up to MaxLeaves leaves
		PeerRequestBurst:      10000,            // 2 s of a peer's forwarded traffic
		// A leaf announces its full MaxRecordsPerLeaf in 5 s; one prefix twice
		// that; ten such leaves at once in total.
		CIDsPerSecond:          CIDRates{PerLeaf: 2000, PerPrefix: 4000, Total: 20000},
		MaxConcurrentAnnounces: 64,                     // beyond it leaves back off (OVER_CAPACITY) rather than queue
		LookupTimeout:          10 * time.Second,       // the leaf's own RequestTimeout
		LookupFanout:           2,                      // one spare replica hides one slow or dead one
		LookupSettle:           50 * time.Millisecond,  // a few wide-area RTTs
		ReplicateTimeout:       5 * time.Second,        // one heartbeat interval; slower replicas are repaired later
		GossipInterval:         10 * time.Second,       // OneHop-style anti-entropy; a view converges in O(log S) rounds
		CertTTL:                10 * time.Minute,       // 60 gossip rounds: a dead supernode leaves every view within 10 min
		RepairDelay:            2 * time.Second,        // a burst of joins and leaves settles into one repair
		MirrorTTL:              time.Minute,            // kad-dht clients see a withdrawn record for at most a minute
		PrefixBits4:            24,                     // a /24: one home or office network
		PrefixBits6:            48,                     // a /48: one IPv6 site
		GCInterval:             time.Minute,            // expired records and sessions are swept once a minute
		Limits:                 protocol.DefaultLimits, // the wire limits every peer uses
		Logger:                 slog.Default(),         // the process's logger
		Relay:                  DefaultRelayConfig(),   // small caps: relayed connections carry queries, not data
	}
}

// LocalConfig is for testnets and tests on one machine (127.0.0.0/8):
// fast heartbeats, gossip and GC so failures show within a second or two,
// one diversity prefix per address.
func LocalConfig() Config {
	c := DefaultConfig()
	c.HeartbeatInterval = time.Second      // failures show within seconds
	c.SessionTimeout = 3 * time.Second     // 3 missed heartbeats
	c.GCInterval = time.Second             // expiries show within a second
	c.LookupTimeout = 5 * time.Second      // loopback answers in milliseconds
	c.LookupSettle = 25 * time.Millisecond // many loopback RTTs
	c.ReplicateTimeout = 2 * time.Second   // two heartbeats
	c.GossipInterval = time.Second         // views converge within seconds
	c.CertTTL = 30 * time.Second           // a killed supernode leaves every view within a run
	c.RepairDelay = 200 * time.Millisecond // a fifth of a gossip round
	c.MirrorTTL = 10 * time.Second         // withdrawals show within a run
	c.RequestsPerSecond = 1000             // test clients hammer one supernode
	c.RequestBurst = 2000                  // 2 s of that
	// Ten times the default: load tests announce in bulk.
	c.CIDsPerSecond = CIDRates{PerLeaf: 20000, PerPrefix: 40000, Total: 200000}
	c.MaxLeavesPerPrefix = 0               // every process of a testnet may share 127.0.0.1 as source
	c.PrefixBits4, c.PrefixBits6 = 32, 128 // one diversity prefix per address
	return c
}

// Validate reports the first unusable field.
func (c Config) Validate() error {
	bad := func(field, why string) error { return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, why) }
	switch {
	case c.ReplicationFactor < 1:
		return bad("ReplicationFactor", "must be ≥ 1")
	case c.RecordTTL <= 0:
		return bad("RecordTTL", "must be > 0")
	case c.HeartbeatInterval <= 0:
		return bad("HeartbeatInterval", "must be > 0")
	case c.SessionTimeout < c.HeartbeatInterval:
		return bad("SessionTimeout", "must be ≥ HeartbeatInterval")
	case c.MaxLeaves < 1:
		return bad("MaxLeaves", "must be ≥ 1")
	case c.MaxLeavesPerPrefix < 0:
		return bad("MaxLeavesPerPrefix", "must be ≥ 0")
	case c.MaxRecordsPerLeaf < 1:
		return bad("MaxRecordsPerLeaf", "must be ≥ 1")
	case c.RequestsPerSecond <= 0 || c.RequestBurst < 1:
		return bad("RequestsPerSecond/RequestBurst", "must be > 0")
	case c.PeerRequestsPerSecond <= 0 || c.PeerRequestBurst < 1:
		return bad("PeerRequestsPerSecond/PeerRequestBurst", "must be > 0")
	case c.CIDsPerSecond.PerLeaf < 0 || c.CIDsPerSecond.PerPrefix < 0 || c.CIDsPerSecond.Total < 0:
		return bad("CIDsPerSecond", "must be ≥ 0")
	case c.MaxConcurrentAnnounces < 1:
		return bad("MaxConcurrentAnnounces", "must be ≥ 1")
	case c.LookupTimeout <= 0 || c.ReplicateTimeout <= 0 || c.LookupSettle <= 0:
		return bad("LookupTimeout/LookupSettle/ReplicateTimeout", "must be > 0")
	case c.LookupFanout < 1:
		return bad("LookupFanout", "must be ≥ 1")
	case c.GossipInterval <= 0 || c.CertTTL <= 0 || c.RepairDelay <= 0 || c.MirrorTTL <= 0 || c.GCInterval <= 0:
		return bad("GossipInterval/CertTTL/RepairDelay/MirrorTTL/GCInterval", "must be > 0")
	case c.CertTTL < 3*c.GossipInterval:
		return bad("CertTTL", "must be ≥ 3 × GossipInterval")
	case c.PrefixBits4 < 0 || c.PrefixBits4 > 32 || c.PrefixBits6 < 0 || c.PrefixBits6 > 128:
		return bad("PrefixBits4/PrefixBits6", "must be in 0..32 and 0..128")
	case c.Logger == nil:
		return bad("Logger", "must be set")
	}
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return c.Relay.validate()
}
