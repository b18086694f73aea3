package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/time/rate"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("runner: invalid config")

// Roles an operator can force.
const (
	ForceNone      = ""
	ForceLeaf      = "leaf"
	ForceSupernode = "supernode"
)

// Config configures a Runner.
type Config struct {
	// Election thresholds.
	Election election.Config
	// Leaf configures the node's agent (Supernodes: the ones known at
	// start; DataDir: where its objects live).
	Leaf leaf.Config
	// Supernode configures the supernode service started on promotion
	// (BootstrapPeers: added to the supernodes the agent knows).
	Supernode supernode.Config
	// DataDir keeps the uptime history (uptime.json).
	DataDir string
	// UploadLimit caps what the node sends on our protocols and what the
	// bandwidth probe can measure (--bandwidth-limit); nil: no cap.
	UploadLimit *rate.Limiter
	// ForceRole pins the role (an operator's choice); the election still
	// runs and reports, but its proposals are not carried out.
	ForceRole string
	// Tick: how often measurements are fed and decisions drained.
	Tick time.Duration
	// ProbeInterval: how often bandwidth and reachability are measured.
	ProbeInterval time.Duration
	// ProbeBytes and ProbeDuration bound one bandwidth probe.
	ProbeBytes    int
	ProbeDuration time.Duration
	// HandoverTimeout bounds a demotion's hand-over of leaves.
	HandoverTimeout time.Duration
	// SuspendGap: two ticks further apart than this, on the monotonic
	// clock, or a wall clock that moved this much further than the
	// monotonic one between them, mean the process was suspended (machine
	// asleep, process stopped); a supernode then steps down at once. Far
	// more than Tick, and at least the leaves' failover time, so a merely
	// slow tick is not a sleep. 0 turns detection off.
	SuspendGap time.Duration
	// Seed for the election's jitter; 0 draws one at random.
	Seed uint64
	// Logger receives structured logs.
	Logger *slog.Logger
}

// DefaultConfig is for nodes on the Internet.
func DefaultConfig() Config {
	return Config{
		Election:        election.DefaultConfig(),
		Leaf:            leaf.DefaultConfig(),
		Supernode:       supernode.DefaultConfig(),
		Tick:            5 * time.Second,
		ProbeInterval:   20 * time.Minute, // under the election's 1 h MeasurementTTL
		ProbeBytes:      1 << 20,          // ≤ 1 MiB per probe: ~2.5 MiB an hour
		ProbeDuration:   2 * time.Second,
		HandoverTimeout: 30 * time.Second,
		SuspendGap:      time.Minute, // 12 ticks; leaves fail over within seconds
		Logger:          slog.Default(),
	}
}

// LocalConfig is for testnets on one machine (seconds, not hours).
func LocalConfig() Config {
	c := DefaultConfig()
	c.Election = election.LocalConfig()
	c.Supernode = supernode.LocalConfig()
	c.Tick = time.Second
	c.ProbeInterval = 20 * time.Second // under LocalConfig's 1 min TTLs
	c.ProbeBytes = 256 << 10
	c.ProbeDuration = time.Second
	c.HandoverTimeout = 10 * time.Second
	c.SuspendGap = 10 * time.Second            // 10 ticks
	c.Leaf.DiscoveryInterval = 5 * time.Second // new supernodes appear within seconds
	return c
}

// Validate reports the first unusable field.
func (c *Config) Validate() error {
	bad := func(field, why string) error { return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, why) }
	switch {
	case c.Tick <= 0:
		return bad("Tick", "must be > 0")
	case c.ProbeInterval <= 0:
		return bad("ProbeInterval", "must be > 0")
	case c.ProbeBytes <= 0 || c.ProbeDuration <= 0:
		return bad("ProbeBytes/ProbeDuration", "must be > 0")
	case c.HandoverTimeout <= 0:
		return bad("HandoverTimeout", "must be > 0")
	case c.SuspendGap != 0 && c.SuspendGap <= 2*c.Tick:
		return bad("SuspendGap", "must be 0 (off) or more than two ticks")
	case c.ForceRole != ForceNone && c.ForceRole != ForceLeaf && c.ForceRole != ForceSupernode:
		return bad("ForceRole", `must be "", "leaf" or "supernode"`)
	case c.Logger == nil:
		return bad("Logger", "must be set")
	}
	if err := c.Election.Validate(); err != nil {
		return err
	}
	c.Supernode.Logger, c.Leaf.Logger = c.Logger, c.Logger
	c.Supernode.MaxLeaves = c.Election.MaxLeaves
	c.Supernode.UploadLimit = c.UploadLimit
	if err := c.Supernode.Validate(); err != nil {
		return err
	}
	return c.Leaf.Validate()
}
