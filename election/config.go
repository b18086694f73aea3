package election

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config holds the thresholds of the election. Build one from DefaultConfig
// (real networks) or LocalConfig (testnet on one machine, in seconds) and
// adjust; New calls Validate.
//
// Demand uses ρ, the utilisation λ/μ a supernode measures on itself, and
// fill, leaves/MaxLeaves. A leaf promotes when, over the supernodes that
// report to it, mean ρ ≥ PromoteRho or fill ≥ PromoteFill, sustained for
// DemandWindow. A supernode demotes for surplus when mean ρ ≤ DemoteRho and
// fill ≤ DemoteFill (its own load included), sustained for DemandWindow,
// and the survivors would stay below the promote thresholds once it left.
type Config struct {
	// ID names this node as other nodes' Demand.From names it (the peer ID).
	// Optional: it breaks score ties in the order of surplus demotions;
	// without it equal scores are split by Jitter alone.
	ID string

	// MinUptime (U): current session uptime that makes a node eligible.
	MinUptime time.Duration
	// MinAvgUptime (U'): average session length over the persisted history
	// that makes a node eligible even right after a restart. Uptime is met
	// when either MinUptime or MinAvgUptime is met.
	MinAvgUptime time.Duration
	// MinUpload: measured upload bandwidth floor, bytes per second.
	MinUpload int64
	// MinHeadroom: minimum free fraction (0..1) of CPU and of memory.
	MinHeadroom float64

	// MaxLeaves: leaves one supernode serves; the capacity behind "fill".
	MaxLeaves int
	// PromoteRho, DemoteRho: utilisation thresholds (hysteresis band).
	PromoteRho, DemoteRho float64
	// PromoteFill, DemoteFill: leaves/capacity thresholds (hysteresis band).
	PromoteFill, DemoteFill float64
	// DemandWindow: how long a demand, surplus, empty-overlay or
	// lost-eligibility condition must hold without interruption before the
	// machine acts on it.
	DemandWindow time.Duration

	// MinDwell: minimum time in a role, after a role change, before the
	// machine proposes leaving it (the starting role is bounded by MinUptime).
	MinDwell time.Duration
	// StaggerMax: delay spread by score. A leaf with score s waits
	// (1-s)·StaggerMax before proposing a promotion; a supernode waits
	// s·StaggerMax before proposing a surplus demotion (the weakest go first).
	StaggerMax time.Duration
	// DemoteSlot: a supernode with surplus waits one slot for every
	// reporting supernode that ranks below it (lower score, or equal score
	// and lower ID) and is not already leaving, at most three, so the
	// weakest leave first. At its turn it re-checks the surplus, flags
	// itself Leaving in its load reports, and proposes one more slot (plus
	// the score stagger and jitter) later, after re-checking again: each
	// supernode decides having seen the ones leaving before or with it, and
	// counts them as gone (no herd of demotions, each projecting only its
	// own departure). Longer than a load report takes to reach the others.
	// 0 disables the ordering and the notice.
	DemoteSlot time.Duration
	// Jitter: uniform random delay in [0, Jitter) added to every stagger and
	// backoff, to split equal scores.
	Jitter time.Duration
	// Backoff: wait after a failed role change; doubles per consecutive
	// failure up to MaxBackoff.
	Backoff, MaxBackoff time.Duration

	// ReportTTL: a supernode's demand report (and the node's own Load) is
	// ignored once it is older than this.
	ReportTTL time.Duration
	// ReachabilityTTL: a dial-back verification is trusted this long; after
	// that reachability is unknown, which is not eligible.
	ReachabilityTTL time.Duration
	// MeasurementTTL: bandwidth and resource measurements are trusted this long.
	MeasurementTTL time.Duration

	// ScoreUptime: uptime at which the uptime half of the score saturates
	// (linear below it).
	ScoreUptime time.Duration
	// ScoreUpload: upload rate (bytes/s) at which the bandwidth half of the
	// score saturates (logarithmic from MinUpload up to it).
	ScoreUpload int64
}

// DefaultConfig returns thresholds for real networks, anchored on what
// Gnutella/LimeWire, KaZaA, Skype and kubo did (DESIGN.md §3).
func DefaultConfig() Config {
	return Config{
		// LimeWire ultrapeer: current uptime ≥ 2 h. Expected remaining
		// uptime grows with current uptime (heavy-tailed sessions).
		MinUptime: 2 * time.Hour,
		// LimeWire ultrapeer: average uptime ≥ 1 h; a node with a good record
		// is useful right after a restart.
		MinAvgUptime: time.Hour,
		// LimeWire ultrapeer: ≥ 10 KB/s up. Tracker traffic (lookups, signed
		// announces of a few hundred bytes) is light; this floor only weeds
		// out saturated links, the score rewards more.
		MinUpload: 10 * 1024,
		// LimeWire asked for "enough RAM/CPU" and KaZaA capped supernode CPU
		// use: keep a quarter of CPU and of memory free.
		MinHeadroom: 0.25,

		// LimeWire: 30 leaves per ultrapeer; KaZaA: 60–160. 50 fits the
		// libp2p resource manager's default of 252 inbound connections: a
		// leaf holds 1+3 supernode connections, so 4·50 leaf connections +
		// 32 supernode links (LimeWire's count) = 232.
		MaxLeaves: 50,
		// M/M/1: time in system is (1/μ)/(1-ρ), 5× the service time at
		// ρ = 0.8 and unbounded towards 1 (the paper's M/M/1/h loss rises
		// steeply there too).
		PromoteRho: 0.8,
		// Below PromoteRho/2: when one of n ≥ 2 supernodes leaves, the rest
		// carry ρ·n/(n-1) ≤ 0.6 < PromoteRho, so a demotion cannot by itself
		// create promote demand. (The machine also checks the projection.)
		DemoteRho: 0.3,
		// Promote when supernodes are 90% full of leaves (LimeWire's
		// X-Ultrapeer-Needed is "no free leaf slots").
		PromoteFill: 0.9,
		// Below PromoteFill/2, by the same argument as DemoteRho.
		DemoteFill: 0.4,
		// 10 min: ~20 heartbeats at 30 s; longer than a load spike, shorter
		// than MinDwell.
		DemandWindow: 10 * time.Minute,

		// kubo users complain of DHT mode flapping. 1 h = two BitTorrent
		// re-announce intervals (30 min): a supernode holds records through
		// a full refresh before it hands over; ≤ 24 role changes a day.
		MinDwell: time.Hour,
		// Promoting and a heartbeat round take seconds; 10 min spreads 20
		// candidates ~30 s apart, so the best one's new capacity shows up in
		// reports before the next timer fires.
		StaggerMax: 10 * time.Minute,
		// Supernodes query each other's load every 3 ticks (15 s with the
		// runner's default 5 s tick): four rounds let the Leaving flag of
		// the one before reach its peers, even a slow or missed one.
		DemoteSlot: time.Minute,
		// Splits candidates with equal scores.
		Jitter: time.Minute,
		// First retry after a failed role change.
		Backoff: 5 * time.Minute,
		// LimeWire retried becoming an ultrapeer every 3 h.
		MaxBackoff: 3 * time.Hour,

		// ~3–4 missed heartbeats at 30 s.
		ReportTTL: 2 * time.Minute,
		// libp2p AutoNAT re-checks every 15 min; two missed re-checks and
		// reachability is unknown again.
		ReachabilityTTL: 30 * time.Minute,
		// A bandwidth measurement is a real transfer, so it is not repeated
		// often; trust one for an hour.
		MeasurementTTL: time.Hour,

		// Skype: median residual life 1.75 days (42 h) of single-session nodes.
		ScoreUptime: 42 * time.Hour,
		// 1 MiB/s, 100× the floor: beyond it bandwidth no longer ranks a
		// tracker supernode.
		ScoreUpload: 1 << 20,
	}
}

// LocalConfig returns a testnet preset: many processes on one machine over
// loopback, runs of minutes, everything in seconds (like memberlist's
// DefaultLocalConfig). The demand band is the same as DefaultConfig's.
func LocalConfig() Config {
	c := DefaultConfig()
	c.MinUptime = 10 * time.Second   // a testnet run lasts minutes
	c.MinAvgUptime = 5 * time.Second // restarted peers qualify after short sessions
	c.MinUpload = 10 * 1024          // loopback measures far more; throttled profiles can fail it
	c.MinHeadroom = 0                // a testnet's processes share one machine: its idle CPU says nothing of one node
	c.MaxLeaves = 10                 // 50–200 peers need 5–20 supernodes: a DHT worth measuring
	c.DemandWindow = 5 * time.Second // ~5 heartbeats at 1 s
	c.MinDwell = 30 * time.Second    // several role changes fit in one run, no flapping
	c.StaggerMax = 8 * time.Second   // promotion + heartbeat take ~1–2 s locally
	c.DemoteSlot = 5 * time.Second   // load reports every 3 s (runner.LocalConfig), plus a query
	c.Jitter = 8 * time.Second       // splits equal scores: longer than a promotion takes to show in the others' demand (discovery every 5 s, a heartbeat)
	c.Backoff = 2 * time.Second      // first retry after a failure
	c.MaxBackoff = 30 * time.Second  // cap: stays well inside a run
	c.ReportTTL = 5 * time.Second    // ~4 missed heartbeats at 1 s
	c.ReachabilityTTL = time.Minute  // dial-backs repeated every ~20 s
	c.MeasurementTTL = time.Minute   // bandwidth re-measured every ~20 s
	c.ScoreUptime = 5 * time.Minute  // spreads scores across a run
	c.ScoreUpload = 100 << 20        // loopback rates; throttled profiles rank lower
	return c
}

// Validate reports every out-of-range field, each wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...)))
	}
	nonNeg := func(name string, d time.Duration) {
		if d < 0 {
			bad("%s must be ≥ 0, got %v", name, d)
		}
	}
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			bad("%s must be > 0, got %v", name, d)
		}
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

	nonNeg("MinUptime", c.MinUptime)
	nonNeg("MinAvgUptime", c.MinAvgUptime)
	if c.MinUpload < 0 {
		bad("MinUpload must be ≥ 0 bytes/s, got %d", c.MinUpload)
	}
	if !finite(c.MinHeadroom) || c.MinHeadroom < 0 || c.MinHeadroom > 1 {
		bad("MinHeadroom must be in [0,1], got %v", c.MinHeadroom)
	}
	if c.MaxLeaves <= 0 {
		bad("MaxLeaves must be > 0, got %d", c.MaxLeaves)
	}
	if !finite(c.PromoteRho) || !finite(c.DemoteRho) || c.DemoteRho < 0 || c.PromoteRho <= c.DemoteRho {
		bad("need 0 ≤ DemoteRho < PromoteRho, got %v and %v", c.DemoteRho, c.PromoteRho)
	}
	if !finite(c.PromoteFill) || !finite(c.DemoteFill) || c.DemoteFill < 0 || c.PromoteFill <= c.DemoteFill {
		bad("need 0 ≤ DemoteFill < PromoteFill, got %v and %v", c.DemoteFill, c.PromoteFill)
	}
	nonNeg("DemandWindow", c.DemandWindow)
	nonNeg("MinDwell", c.MinDwell)
	nonNeg("StaggerMax", c.StaggerMax)
	nonNeg("DemoteSlot", c.DemoteSlot)
	nonNeg("Jitter", c.Jitter)
	pos("Backoff", c.Backoff)
	if c.MaxBackoff < c.Backoff {
		bad("MaxBackoff (%v) must be ≥ Backoff (%v)", c.MaxBackoff, c.Backoff)
	}
	pos("ReportTTL", c.ReportTTL)
	pos("ReachabilityTTL", c.ReachabilityTTL)
	pos("MeasurementTTL", c.MeasurementTTL)
	pos("ScoreUptime", c.ScoreUptime)
	if c.ScoreUpload <= max(c.MinUpload, 1) {
		bad("ScoreUpload (%d) must be > MinUpload (%d) and > 1", c.ScoreUpload, c.MinUpload)
	}
	return errors.Join(errs...)
}
