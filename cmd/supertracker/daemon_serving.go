//go:build !leafonly

package main

import (
	"context"
	"errors"
	"io"
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/supertracker/supertracker/cmd/internal/layered"
	"github.com/supertracker/supertracker/election/node"
	"github.com/supertracker/supertracker/election/runner"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/testnet/capped"
)

// The daemon commands of the roles that can serve (supernode, node); the
// leaf-only build (-tags leafonly) has daemon_leafonly.go instead.

// servingBuild: this build runs the roles that can serve.
const servingBuild = true

// servingRun runs a role that can serve.
func servingRun(role node.Role) func(args []string, stdout, stderr io.Writer) int {
	return runRole(role)
}

// servingFlags defines the flags of supernode and node.
func servingFlags(fs *cmdFlags, o *daemonOpts, role node.Role) {
	o.handover = fs.Dur("handover-timeout", 0, "at shutdown, a supernode waits up to this long for its leaves to move to "+
		"other supernodes (0: session timeout + one heartbeat)", layered.NonNegativeDuration)
	relay := supernode.DefaultRelayConfig()
	o.relayDuration = fs.Dur("relay-max-duration", relay.MaxDuration, "a supernode resets a connection it relays for an attached leaf after this long", layered.PositiveDuration)
	o.relayBytes = fs.Int("relay-max-bytes", int(relay.MaxBytes), "… or after this many bytes in either direction", layered.AtLeast(1))
	fs.List("bootstrap")
	switch role {
	case node.RoleSupernode:
		def := supernode.DefaultConfig()
		o.boot = fs.Str("bootstrap", "", "supernodes to join through: multiaddrs ending in /p2p/PEERID, comma-separated", peerList)
		o.repl = fs.Int("replication", def.ReplicationFactor, "r: supernodes that store each record", layered.AtLeast(1))
		o.recordTTL = fs.Dur("record-ttl", def.RecordTTL, "records expire this long after their last refresh", layered.PositiveDuration)
		o.maxLeaves = fs.Int("max-leaves", def.MaxLeaves, "most leaves attached at once", layered.AtLeast(1))
		o.maxRecords = fs.Int("max-records-per-leaf", def.MaxRecordsPerLeaf, "most live records per leaf", layered.AtLeast(1))
		o.rps = fs.Float("rate", def.RequestsPerSecond, "requests per second allowed per peer", layered.PositiveFloat)
		o.local = fs.Bool("local", false, "same as --preset local")
		o.sessionTimeout = fs.Dur("session-timeout", 0, "detach a leaf not heard from for this long (0: 15s, or 3s with --preset local)", layered.NonNegativeDuration)
	case node.RoleElected:
		nonNeg := layered.NonNegativeDuration
		o.boot = fs.Str("bootstrap", "", "supernodes to join the DHT through when promoted (default: the --supernode list)", peerList)
		o.elect = fs.Str("role", "auto", "auto: elect; leaf or supernode: force the role (the election still reports)", layered.OneOf("auto", "leaf", "supernode"))
		o.bwLimit = fs.Str("bandwidth-limit", "", "cap this node's upload on our protocols, bytes/s with k/M suffix (k=1024); empty: none", byteRate)
		o.minUptime = fs.Dur("min-uptime", 0, "eligible after this current uptime (0: preset; default 2h, local 10s)", nonNeg)
		o.minAvg = fs.Dur("min-avg-uptime", 0, "or after this average session length in the persisted history (0: preset)", nonNeg)
		o.minUpload = fs.Str("min-upload", "", "eligible with at least this measured upload, bytes/s with k/M suffix (empty: preset, 10k); "+
			"the upload at which the score saturates follows it (100×)", byteRate)
		o.maxLeaves = fs.Int("max-leaves", 0, "leaves a supernode serves; demand is leaves vs this (0: preset; default 50, local 10)", layered.AtLeast(0))
		o.dwell = fs.Dur("min-dwell", 0, "minimum time in a role before leaving it (0: preset; default 1h, local 30s)", nonNeg)
		o.window = fs.Dur("demand-window", 0, "how long demand or surplus must hold (0: preset; default 10m, local 5s)", nonNeg)
		o.recordTTL = fs.Dur("record-ttl", 0, "records expire this long after their last refresh; leaves refresh every third (0: preset, 45m)", nonNeg)
		o.firewalled = fs.Bool("firewalled", false, "refuse inbound connections (simulates a NAT on a testnet: dial-backs fail)")
		o.seed = fs.Uint64("seed", 0, "seed of the election's jitter (0: random)")
		o.serviceRate = fs.Float("service-rate", 0, "testnets: as a supernode serve at most this many lookups/s, one at a time with exponential "+
			"service times (an M/M/1 queue; measured λ and ρ in DATA/"+capped.StatsFile+"); 0: no cap", func(v any) error {
			if x := v.(float64); !(x >= 0) || math.IsInf(x, 0) {
				return errors.New("must be a finite rate ≥ 0")
			}
			return nil
		})
		o.serviceQueue = fs.Int("service-queue", 0, "testnets, with --service-rate: at most this many lookups in the node (queued or served, "+
			"the paper's M/M/1/h); more are answered RATE_LIMITED at once; 0: unbounded", layered.AtLeast(0))
	}
}

// servingConfig fills the supernode or runner config of cfg from the preset
// and the flags.
func (o *daemonOpts) servingConfig(cfg *node.Config, known, boot []peer.AddrInfo) error {
	preset, err := runner.Preset(*o.preset)
	if err != nil {
		return err
	}
	if o.role == node.RoleElected {
		return o.electedConfig(cfg, preset, known, boot)
	}
	cfg.Supernode = preset.Supernode
	sc := &cfg.Supernode
	sc.ReplicationFactor, sc.RecordTTL, sc.MaxLeaves, sc.MaxRecordsPerLeaf, sc.RequestsPerSecond = *o.repl, *o.recordTTL, *o.maxLeaves, *o.maxRecords, *o.rps
	if *o.sessionTimeout > 0 {
		sc.SessionTimeout = max(*o.sessionTimeout, sc.HeartbeatInterval)
	}
	sc.BootstrapPeers = boot
	sc.Relay.MaxDuration, sc.Relay.MaxBytes = *o.relayDuration, int64(*o.relayBytes)
	return nil
}

// electedConfig fills the runner config of `node` from the preset and the
// threshold flags set (non-zero).
func (o *daemonOpts) electedConfig(cfg *node.Config, preset runner.Config, known, boot []peer.AddrInfo) error {
	cfg.Election = preset
	rc, ec := &cfg.Election, &cfg.Election.Election
	if *o.elect != "auto" {
		rc.ForceRole = *o.elect
	}
	for _, d := range []struct{ flag, cfg *time.Duration }{{o.minUptime, &ec.MinUptime}, {o.minAvg, &ec.MinAvgUptime},
		{o.dwell, &ec.MinDwell}, {o.window, &ec.DemandWindow}, {o.recordTTL, &rc.Supernode.RecordTTL}} {
		if *d.flag > 0 {
			*d.cfg = *d.flag
		}
	}
	if *o.minUpload != "" {
		v, err := parseRate("--min-upload", *o.minUpload)
		if err != nil {
			return err
		}
		// ScoreUpload is derived from MinUpload (100× in the default
		// preset): it follows a floor the flag sets.
		ec.MinUpload = int64(v)
		ec.ScoreUpload = max(ec.ScoreUpload, 100*ec.MinUpload)
	}
	if *o.maxLeaves > 0 {
		ec.MaxLeaves = *o.maxLeaves
	}
	bw, err := parseRate("--bandwidth-limit", *o.bwLimit)
	if err != nil {
		return err
	}
	if bw > 0 {
		rc.UploadLimit = rate.NewLimiter(rate.Limit(bw), int(min(max(bw/16, 1024), 16<<10)))
	}
	rc.Leaf.Supernodes, rc.Leaf.DataDir, rc.Leaf.Backups, rc.Leaf.Relay.Mode = known, *o.data, *o.backups, leaf.RelayMode(*o.relay)
	rc.Supernode.Relay.MaxDuration, rc.Supernode.Relay.MaxBytes = *o.relayDuration, int64(*o.relayBytes)
	rc.Supernode.BootstrapPeers = append(boot, known...)
	rc.DataDir, rc.Seed, rc.Logger = *o.data, *o.seed, cfg.Logger
	cfg.Firewalled = *o.firewalled
	if *o.serviceRate > 0 { // the load sweep's per-node service cap
		cfg.WrapHost = func(h host.Host) (host.Host, func(), error) {
			srv, err := capped.NewServer(*o.serviceRate, *o.seed)
			if err != nil {
				return nil, nil, err
			}
			srv.SetCapacity(*o.serviceQueue)
			ctx, stop := context.WithCancel(context.Background())
			go srv.WriteStats(ctx, *o.data)
			return capped.WrapHost(h, srv, rc.Supernode.Limits), stop, nil
		}
	}
	return nil
}
