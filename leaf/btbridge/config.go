package btbridge

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/protocol"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("btbridge: invalid config")

// Config tunes a Bridge. The zero value of every field means "use the
// default" given next to it, so Config{} is a working desktop configuration.
type Config struct {
	// RecordTTL is the lifetime of overlay records (the supernodes'
	// RecordTTL). It only serves to derive Interval. Default 45 min, the
	// supernode default.
	RecordTTL time.Duration
	// Interval is the announce interval sent to BitTorrent clients. Default
	// RecordTTL/3 clamped to [1 min, 30 min] (15 min for the default TTL).
	// The leaf agent refreshes the overlay records on its own; the interval
	// only governs how soon the bridge notices a client that vanished.
	Interval time.Duration
	// MinInterval is the "min interval" sent to clients. Default
	// Interval/2 (at least 1 s).
	MinInterval time.Duration
	// PeerTimeout: a client that has not re-announced for this long is
	// no longer handed out, and is dropped (the torrent withdrawn from the
	// overlay when it was the leaf's last client). Default 1.5·Interval,
	// as trackers do (30 min interval, 45 min timeout): a client that
	// vanished without "stopped" is gone within one and a half intervals.
	PeerTimeout time.Duration
	// SweepInterval: how often expired clients are dropped and failed
	// overlay announces/withdrawals retried. Default PeerTimeout/8, at most
	// 30 s, at least 100 ms.
	SweepInterval time.Duration

	// MaxHolders bounds the holder leaves looked up per torrent. Default 0:
	// the overlay's maximum (Limits.MaxLookupResults).
	MaxHolders int
	// QueryTimeout bounds one bt-peers query to another leaf (dial
	// included). Default 3 s.
	QueryTimeout time.Duration
	// MaxParallelQueries bounds the bt-peers queries (and, in a scrape, the
	// overlay lookups) in flight for one announce or scrape. Default 8.
	MaxParallelQueries int
	// MaxInboundQueries bounds the bt-peers streams served at once; more
	// are reset. Default 64.
	MaxInboundQueries int
	// ServeTimeout bounds the wait for each request on an inbound bt-peers
	// stream. Default 10 s.
	ServeTimeout time.Duration
	// OverlayTimeout bounds one overlay announce or withdrawal made in the
	// background (retries, expiry, Close). Default 10 s.
	OverlayTimeout time.Duration
	// CloseTimeout bounds the withdrawal of every torrent at Close, so a
	// leaf whose supernodes are gone still stops at once. Default 1 s.
	CloseTimeout time.Duration

	// MaxClients bounds the BitTorrent clients registered at once, all
	// torrents together; an announce over it is refused with "tracker
	// full". Default 10000.
	MaxClients int

	// ExternalIP, when valid, is reported to other leaves in place of a
	// loopback or unspecified client address (a client on the leaf's own
	// machine announcing from 127.0.0.1). When it is not set, the querying
	// leaf substitutes the IP it reached this leaf at, if that is not
	// itself loopback. See the package documentation.
	ExternalIP netip.Addr

	// KeepStale keeps torrent CIDs (codec torrent-info) that the agent
	// announces at start, e.g. from a previous run's durable object set.
	// By default the bridge withdraws them unless a BitTorrent client
	// announces the torrent again, because the clients of a previous run
	// are unknown and the CID would point other leaves to nobody.
	KeepStale bool

	// Limits bound every bt-peers frame. Default protocol.DefaultLimits.
	Limits protocol.Limits
	// Frontend configures the BitTorrent HTTP and UDP tracker frontend.
	// Its Interval, MinInterval and (when nil) Logger are set from this
	// Config.
	Frontend bttracker.Config
	// OnLookup, if set, is called after each overlay lookup the bridge
	// makes (for a status page or metrics); it must not block.
	OnLookup func(LookupInfo)

	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock used for client expiry. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	c.RecordTTL = cmp.Or(c.RecordTTL, 45*time.Minute)
	c.Interval = cmp.Or(c.Interval, min(max(c.RecordTTL/3, time.Minute), 30*time.Minute))
	c.MinInterval = cmp.Or(c.MinInterval, min(max(c.Interval/2, time.Second), c.Interval))
	c.PeerTimeout = cmp.Or(c.PeerTimeout, c.Interval+c.Interval/2)
	c.SweepInterval = cmp.Or(c.SweepInterval, min(max(c.PeerTimeout/8, 100*time.Millisecond), 30*time.Second))
	c.QueryTimeout = cmp.Or(c.QueryTimeout, 3*time.Second)
	c.MaxParallelQueries = cmp.Or(c.MaxParallelQueries, 8)
	c.MaxInboundQueries = cmp.Or(c.MaxInboundQueries, 64)
	c.ServeTimeout = cmp.Or(c.ServeTimeout, 10*time.Second)
	c.OverlayTimeout = cmp.Or(c.OverlayTimeout, 10*time.Second)
	c.CloseTimeout = cmp.Or(c.CloseTimeout, time.Second)
	c.MaxClients = cmp.Or(c.MaxClients, 10000)
	c.Limits = cmp.Or(c.Limits, protocol.DefaultLimits)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Frontend.Interval, c.Frontend.MinInterval = c.Interval, c.MinInterval
	c.Frontend.Logger = cmp.Or(c.Frontend.Logger, c.Logger)
	if c.MaxHolders == 0 || c.MaxHolders > c.Limits.MaxLookupResults {
		c.MaxHolders = c.Limits.MaxLookupResults
	}

	bad := func(field, why string) error { return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, why) }
	switch {
	case c.RecordTTL < 0:
		return c, bad("RecordTTL", "must be ≥ 0")
	case c.Interval < time.Second:
		return c, bad("Interval", "must be ≥ 1s")
	case c.MinInterval < time.Second || c.MinInterval > c.Interval:
		return c, bad("MinInterval", "must be in [1s, Interval]")
	case c.PeerTimeout < c.Interval:
		return c, bad("PeerTimeout", "must be ≥ Interval")
	case c.SweepInterval <= 0:
		return c, bad("SweepInterval", "must be > 0")
	case c.MaxHolders < 0:
		return c, bad("MaxHolders", "must be ≥ 0")
	case c.QueryTimeout <= 0 || c.ServeTimeout <= 0 || c.OverlayTimeout <= 0 || c.CloseTimeout <= 0:
		return c, bad("QueryTimeout/ServeTimeout/OverlayTimeout/CloseTimeout", "must be > 0")
	case c.MaxParallelQueries < 1 || c.MaxInboundQueries < 1:
		return c, bad("MaxParallelQueries/MaxInboundQueries", "must be ≥ 1")
	case c.MaxClients < 1:
		return c, bad("MaxClients", "must be ≥ 1")
	case c.ExternalIP.IsValid() && (c.ExternalIP.IsUnspecified() || c.ExternalIP.IsLoopback()):
		return c, bad("ExternalIP", "must not be loopback or unspecified")
	}
	if err := c.Limits.Validate(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	c.ExternalIP = c.ExternalIP.Unmap().WithZone("")
	return c, nil
}
