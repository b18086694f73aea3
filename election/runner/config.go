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

// Config configures a Runner. Start from a preset (DefaultConfig,
// LocalConfig, or Preset by name), change fields, and pass it to New,
// which validates it and does not change it. Logger, UploadLimit and
// Election.MaxLeaves apply to both roles: New sets them in Leaf and
// Supernode.
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
		Election:        election.DefaultConfig(),  // thresholds in hours, as Gnutella's ultrapeers
		Leaf:            leaf.DefaultConfig(),      // a desktop agent
		Supernode:       supernode.DefaultConfig(), // a supernode on the Internet
		Tick:            5 * time.Second,           // decisions take minutes; measurements are cheap to feed
		ProbeInterval:   20 * time.Minute,          // under the election's 1 h MeasurementTTL
		ProbeBytes:      1 << 20,                   // ≤ 1 MiB per probe: ~2.5 MiB an hour
		ProbeDuration:   2 * time.Second,           // long enough to measure a rate, short enough to repeat
		HandoverTimeout: 30 * time.Second,          // leaves attach elsewhere within a few heartbeats
		SuspendGap:      time.Minute,               // 12 ticks; leaves fail over within seconds
		Logger:          slog.Default(),            // the process's logger
	}
}

// LocalConfig is for testnets on one machine (seconds, not hours).
func LocalConfig() Config {
	c := DefaultConfig()
	c.Election = election.LocalConfig()   // thresholds in seconds
	c.Leaf = leaf.LocalConfig()           // new supernodes appear within seconds
	c.Supernode = supernode.LocalConfig() // fast heartbeats, gossip and GC
	c.Tick = time.Second                  // the election's windows are seconds
	c.ProbeInterval = 20 * time.Second    // under LocalConfig's 1 min TTLs
	c.ProbeBytes = 256 << 10              // loopback is fast; keep the CPU for the testnet
	c.ProbeDuration = time.Second         // a quarter MiB over loopback takes far less
	c.HandoverTimeout = 10 * time.Second  // local leaves re-attach within a second or two
	c.SuspendGap = 10 * time.Second       // 10 ticks
	return c
}

// Preset returns the named node configuration: "default" (DefaultConfig)
// or "local" (LocalConfig). Its Election, Leaf and Supernode are the
// same-named presets of those packages, so a command that runs only a leaf
// or only a supernode takes its part.
func Preset(name string) (Config, error) {
	switch name {
	case "default":
		return DefaultConfig(), nil
	case "local":
		return LocalConfig(), nil
	}
	return Config{}, fmt.Errorf("%w: preset %q: want default or local", ErrInvalidConfig, name)
}

// Validate reports the first unusable field, checking the leaf and
// supernode configurations as the runner will use them (roles). It does
// not change c.
func (c Config) Validate() error {
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
	r := c.roles()
	if err := r.Supernode.Validate(); err != nil {
		return err
	}
	return r.Leaf.Validate()
}

// roles returns c with what the node decides for both of its roles set in
// their configurations: one Logger, the election's MaxLeaves as the
// supernode's capacity (demand is measured against it), and one
// UploadLimit.
func (c Config) roles() Config {
	c.Supernode.Logger, c.Leaf.Logger = c.Logger, c.Logger
	c.Supernode.MaxLeaves = c.Election.MaxLeaves
	c.Supernode.UploadLimit = c.UploadLimit
	return c
}
