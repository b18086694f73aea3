package leaf

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/filecoin-project/go-clock"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/traffic"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("leaf: invalid config")

// Config is a leaf agent's configuration. Start from a preset
// (DefaultConfig, LocalConfig; runner.Preset looks them up by name), change
// fields, and pass
// it to New, which validates it and does not change it.
type Config struct {
	// Supernodes the agent knows at start; it learns more from them.
	Supernodes []peer.AddrInfo
	// Backups m: supernodes attached besides the primary (Gnutella leaves
	// keep 3 ultrapeers in all: m = 2).
	Backups int
	// DataDir keeps the set of announced objects across restarts; empty
	// keeps it in memory only.
	DataDir string
	// HeartbeatInterval between heartbeats to an attached supernode that
	// does not ask for an interval of its own (AttachResponse
	// heartbeat_interval_ms); it also paces the agent's maintenance (new
	// primary, backups, refresh). A heartbeat times out after one interval,
	// so a silent primary is replaced within two.
	HeartbeatInterval time.Duration
	// RequestTimeout bounds one request to a supernode (lookups included),
	// counted from when the request is written.
	RequestTimeout time.Duration
	// HedgeFloor is the least time the agent waits for a supernode's answer
	// before it asks another supernode too; the wait is otherwise learned
	// from that supernode's recent answers (HedgeFactor × their p90).
	HedgeFloor time.Duration
	// HedgeFactor k: ask another supernode too after k × the p90 of this
	// one's recent answers of the same kind.
	HedgeFactor float64
	// MaxStreams bounds the data streams (announce, lookup, discovery) open
	// to one supernode at once; heartbeats have a stream of their own.
	MaxStreams int
	// DialTimeout bounds connecting to a candidate supernode and measuring
	// its RTT.
	DialTimeout time.Duration
	// AttachWait is how long an announce or lookup waits for a primary
	// when none is attached before it fails with ErrNoSupernode (sooner if
	// a round of attach attempts fails first).
	AttachWait time.Duration
	// RefreshFraction of the record TTL after which the agent re-announces
	// everything: 1/3 leaves two refreshes' slack before records expire.
	RefreshFraction float64
	// DiscoveryInterval between asks for more supernodes.
	DiscoveryInterval time.Duration
	// Relay: relay reservations while behind a NAT (relay.go).
	Relay RelayConfig
	// Rebalance: moving lookups off an overloaded primary (rebalance.go).
	Rebalance RebalanceConfig
	// Limits bound every message.
	Limits protocol.Limits
	// Meter, if set, counts the agent's traffic (shared with the rest of the
	// node so counts survive role changes).
	Meter *traffic.Meter
	// Logger receives structured logs.
	Logger *slog.Logger
	// Clock drives every timer, ticker and timestamp of the agent (nil:
	// the wall clock); tests inject a mock.
	Clock clock.Clock
}

// DefaultConfig is for desktop agents on the Internet.
func DefaultConfig() Config {
	return Config{
		Backups:           2,                      // Gnutella leaves kept 3 ultrapeers: a primary and 2 backups
		HeartbeatInterval: time.Second,            // a silent primary is replaced within 2 s
		RequestTimeout:    10 * time.Second,       // the supernode's LookupTimeout: a forwarded lookup may take that long
		HedgeFloor:        25 * time.Millisecond,  // a few LAN RTTs: never hedge on noise
		HedgeFactor:       3,                      // 3 × p90: hedges few answers, the stragglers
		MaxStreams:        4,                      // pipelined requests on few streams per supernode
		DialTimeout:       3 * time.Second,        // libp2p dials a reachable peer well within it
		AttachWait:        4 * time.Second,        // one dial (DialTimeout) and an attach round-trip
		RefreshFraction:   1.0 / 3,                // two refreshes' slack before records expire
		DiscoveryInterval: 30 * time.Second,       // the supernode set changes in minutes
		Relay:             DefaultRelayConfig(),   // relay only behind a NAT
		Limits:            protocol.DefaultLimits, // the wire limits every peer uses
		Logger:            slog.Default(),         // the process's logger

		Rebalance: DefaultRebalanceConfig(), // at PromoteRho, once a minute
	}
}

// LocalConfig is for testnets on one machine: new supernodes are found
// within seconds.
func LocalConfig() Config {
	c := DefaultConfig()
	c.DiscoveryInterval = 5 * time.Second   // promotions in a testnet take seconds to show
	c.Rebalance.Interval = 10 * time.Second // two of a supernode's 5 s load windows
	return c
}

// Validate reports the first unusable field.
func (c Config) Validate() error {
	bad := func(field, why string) error { return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, why) }
	switch {
	case c.Backups < 0:
		return bad("Backups", "must be ≥ 0")
	case c.HeartbeatInterval <= 0:
		return bad("HeartbeatInterval", "must be > 0")
	case c.RequestTimeout <= 0:
		return bad("RequestTimeout", "must be > 0")
	case c.HedgeFloor <= 0:
		return bad("HedgeFloor", "must be > 0")
	case c.HedgeFactor < 1:
		return bad("HedgeFactor", "must be ≥ 1")
	case c.MaxStreams < 1:
		return bad("MaxStreams", "must be ≥ 1")
	case c.DialTimeout <= 0:
		return bad("DialTimeout", "must be > 0")
	case c.AttachWait <= 0:
		return bad("AttachWait", "must be > 0")
	case c.RefreshFraction <= 0 || c.RefreshFraction >= 1:
		return bad("RefreshFraction", "must be in (0, 1)")
	case c.DiscoveryInterval <= 0:
		return bad("DiscoveryInterval", "must be > 0")
	case c.Logger == nil:
		return bad("Logger", "must be set")
	}
	if err := c.Relay.validate(); err != nil {
		return err
	}
	if err := c.Rebalance.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return c.Limits.Validate()
}
