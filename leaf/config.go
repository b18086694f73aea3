package leaf

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("leaf: invalid config")

// Config is a leaf agent's configuration.
type Config struct {
	// Supernodes the agent knows at start; it learns more from them.
	Supernodes []peer.AddrInfo
	// Backups m: supernodes attached besides the primary (Gnutella leaves
	// keep 3 ultrapeers in all: m = 2).
	Backups int
	// DataDir keeps the set of announced objects across restarts; empty
	// keeps it in memory only.
	DataDir string
	// HeartbeatInterval between heartbeats to every attached supernode; the
	// primary's loss is noticed within about two of these (sooner when the
	// connection drops).
	HeartbeatInterval time.Duration
	// RequestTimeout bounds one request to a supernode (lookups included).
	RequestTimeout time.Duration
	// RefreshFraction of the record TTL after which the agent re-announces
	// everything: 1/3 leaves two refreshes' slack before records expire.
	RefreshFraction float64
	// DiscoveryInterval between asks for more supernodes.
	DiscoveryInterval time.Duration
	// Relay: relay reservations while behind a NAT (relay.go).
	Relay RelayConfig
	// Limits bound every message.
	Limits protocol.Limits
	// Meter, if set, counts the agent's traffic (shared with the rest of the
	// node so counts survive role changes).
	Meter *protocol.Meter
	// Logger receives structured logs.
	Logger *slog.Logger
}

// DefaultConfig is for desktop agents.
func DefaultConfig() Config {
	return Config{
		Backups:           2,
		HeartbeatInterval: time.Second,
		RequestTimeout:    10 * time.Second,
		RefreshFraction:   1.0 / 3,
		DiscoveryInterval: 30 * time.Second,
		Relay:             DefaultRelayConfig(),
		Limits:            protocol.DefaultLimits,
		Logger:            slog.Default(),
	}
}

// Option changes a Config.
type Option func(*Config) error

// WithConfig replaces the whole configuration.
func WithConfig(c Config) Option { return func(dst *Config) error { *dst = c; return nil } }

// WithSupernodes sets the supernodes known at start.
func WithSupernodes(ps ...peer.AddrInfo) Option {
	return func(c *Config) error { c.Supernodes = ps; return nil }
}

// WithDataDir sets the data directory.
func WithDataDir(d string) Option { return func(c *Config) error { c.DataDir = d; return nil } }

// WithBackups sets m.
func WithBackups(m int) Option { return func(c *Config) error { c.Backups = m; return nil } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *Config) error { c.Logger = l; return nil } }

// Validate reports the first unusable field.
func (c *Config) Validate() error {
	bad := func(field, why string) error { return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, why) }
	switch {
	case c.Backups < 0:
		return bad("Backups", "must be ≥ 0")
	case c.HeartbeatInterval <= 0:
		return bad("HeartbeatInterval", "must be > 0")
	case c.RequestTimeout <= 0:
		return bad("RequestTimeout", "must be > 0")
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
	return c.Limits.Validate()
}
