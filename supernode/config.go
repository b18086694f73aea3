package supernode

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/supertracker/supertracker/protocol"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("supernode: invalid config")

// Config is a supernode's configuration. Start from DefaultConfig or
// LocalConfig and change fields with Options.
type Config struct {
	// ReplicationFactor r: how many supernodes (the r closest to each CID
	// in XOR distance) store each announcement. Mainline uses 8, kad-dht 20.
	ReplicationFactor int
	// RecordTTL: records expire this long after their last refresh.
	// BitTorrent trackers time a peer out after ~45 min.
	RecordTTL time.Duration
	// HeartbeatInterval the supernode asks its leaves to keep.
	HeartbeatInterval time.Duration
	// SessionTimeout: a leaf that has not been heard from for this long is
	// detached (3 missed heartbeats by default).
	SessionTimeout time.Duration
	// MaxLeaves: most leaves attached at once (Gnutella ultrapeers take 30,
	// KaZaA supernodes 60–160; a libp2p supernode is cheaper per leaf).
	MaxLeaves int
	// MaxRecordsPerLeaf: most CIDs one leaf may have live on this supernode.
	MaxRecordsPerLeaf int
	// RequestsPerSecond and RequestBurst: per-peer token bucket on the
	// leaf protocol.
	RequestsPerSecond float64
	RequestBurst      int
	// LookupTimeout bounds one DHT query on a leaf's behalf.
	LookupTimeout time.Duration
	// ReplicateTimeout bounds the fan-out of one announcement.
	ReplicateTimeout time.Duration
	// RendezvousInterval: how often the supernode re-provides
	// protocol.SupernodeRendezvous so others can discover it.
	RendezvousInterval time.Duration
	// GCInterval: how often expired records, tombstones and sessions are
	// dropped from our own indexes.
	GCInterval time.Duration
	// BootstrapPeers: supernodes to join the DHT through (may be empty for
	// the first supernode).
	BootstrapPeers []peer.AddrInfo
	// Datastore, if set, persists the DHT's provider records and values.
	Datastore ds.Batching
	// Limits bound every message.
	Limits protocol.Limits
	// Logger receives structured logs.
	Logger *slog.Logger
	// Meter, if set, counts the supernode's traffic (shared with the rest
	// of the node so counts survive role changes).
	Meter *protocol.Meter
	// UploadLimit, if set, throttles what the supernode sends on our
	// protocols (--bandwidth-limit); shared with the node's probes.
	UploadLimit *rate.Limiter
	// DisableDHTAutoRefresh turns off kad-dht's periodic routing table
	// refresh (tests).
	DisableDHTAutoRefresh bool
}

// DefaultConfig is for supernodes on the Internet.
func DefaultConfig() Config {
	return Config{
		ReplicationFactor:  8,
		RecordTTL:          45 * time.Minute,
		HeartbeatInterval:  5 * time.Second,
		SessionTimeout:     15 * time.Second,
		MaxLeaves:          200,
		MaxRecordsPerLeaf:  10000,
		RequestsPerSecond:  50,
		RequestBurst:       200,
		LookupTimeout:      10 * time.Second,
		ReplicateTimeout:   10 * time.Second,
		RendezvousInterval: 10 * time.Minute,
		GCInterval:         time.Minute,
		Limits:             protocol.DefaultLimits,
		Logger:             slog.Default(),
	}
}

// LocalConfig is for testnets and tests on one machine: fast heartbeats and
// GC so failures show within a second or two.
func LocalConfig() Config {
	c := DefaultConfig()
	c.HeartbeatInterval = time.Second
	c.SessionTimeout = 3 * time.Second
	c.RendezvousInterval = time.Minute
	c.GCInterval = time.Second
	c.LookupTimeout = 5 * time.Second
	c.ReplicateTimeout = 5 * time.Second
	c.RequestsPerSecond = 1000
	c.RequestBurst = 2000
	return c
}

// Option changes a Config.
type Option func(*Config) error

// WithConfig replaces the whole configuration.
func WithConfig(c Config) Option { return func(dst *Config) error { *dst = c; return nil } }

// WithBootstrap sets the supernodes to join through.
func WithBootstrap(peers ...peer.AddrInfo) Option {
	return func(c *Config) error { c.BootstrapPeers = peers; return nil }
}

// WithRecordTTL sets the record lifetime.
func WithRecordTTL(d time.Duration) Option {
	return func(c *Config) error { c.RecordTTL = d; return nil }
}

// WithMaxLeaves sets the leaf capacity.
func WithMaxLeaves(n int) Option { return func(c *Config) error { c.MaxLeaves = n; return nil } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Config) error { c.Logger = l; return nil } }

// WithDatastore persists the provider store in d.
func WithDatastore(d ds.Batching) Option {
	return func(c *Config) error { c.Datastore = d; return nil }
}

// Validate reports the first unusable field.
func (c *Config) Validate() error {
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
	case c.MaxRecordsPerLeaf < 1:
		return bad("MaxRecordsPerLeaf", "must be ≥ 1")
	case c.RequestsPerSecond <= 0 || c.RequestBurst < 1:
		return bad("RequestsPerSecond/RequestBurst", "must be > 0")
	case c.LookupTimeout <= 0 || c.ReplicateTimeout <= 0:
		return bad("LookupTimeout/ReplicateTimeout", "must be > 0")
	case c.RendezvousInterval <= 0 || c.GCInterval <= 0:
		return bad("RendezvousInterval/GCInterval", "must be > 0")
	case c.Logger == nil:
		return bad("Logger", "must be set")
	}
	if err := c.Limits.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}
