package main

import (
	"context"
	"errors"
	"fmt"
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

// daemonOpts are the flags of the daemon commands (supernode, leaf, node);
// a flag a role does not have stays nil.
type daemonOpts struct {
	role                                              node.Role
	listen, data, api, logLevel, preset, token, hosts *string
	handover                                          *time.Duration
	sns, relay                                        *string // leaf, node
	backups                                           *int
	bt                                                node.BTConfig
	boot                                              *string // supernode, node
	recordTTL, relayDuration                          *time.Duration
	maxLeaves, relayBytes                             *int
	repl, maxRecords                                  *int // supernode
	rps                                               *float64
	local                                             *bool
	sessionTimeout, heartbeat, hedgeFloor             *time.Duration // supernode; leaf
	elect, bwLimit, minUpload                         *string        // node
	minUptime, minAvg, dwell, window                  *time.Duration
	firewalled                                        *bool
	seed                                              *uint64
	serviceRate                                       *float64
	serviceQueue                                      *int
}

// daemonFlags defines the flags of a daemon command. Flags shared by roles
// are defined once; a node's threshold flags default to 0: "the preset's".
func daemonFlags(role node.Role, stderr io.Writer) (*cmdFlags, *daemonOpts) {
	fs := newCmdFlags(string(role), daemonUsage[role][0], daemonUsage[role][1], stderr)
	o := &daemonOpts{role: role}
	o.listen = fs.Str("listen", "/ip4/127.0.0.1/tcp/0", "multiaddr(s) to listen on, comma-separated", multiaddrList)
	o.data = fs.String("data", "", daemonUsage[role][2])
	o.logLevel = fs.Str("log-level", "info", "log level: debug, info, warn, error", logLevels)
	o.preset = fs.Str("preset", "default", daemonUsage[role][3], layered.OneOf("default", "local"))
	if role == node.RoleSupernode {
		o.api = fs.Str("api", "", "serve the HTTP API, status page, /metrics and /healthz on HOST:PORT; off if empty", layered.HostPort(true))
	} else {
		o.api = fs.Str("api", "127.0.0.1:5001", "serve the local HTTP API, status page, /metrics and /healthz on HOST:PORT", layered.HostPort(false))
	}
	o.token = fs.String("api-token", "", "require this token (Authorization: Bearer TOKEN, or as the HTTP Basic password) on --api, "+
		"except /healthz and the delegated routing GETs; when --api is bound beyond loopback and this is empty, a token is "+
		"generated into DATA/"+node.TokenFile)
	o.hosts = fs.String("api-allow-host", "", "host names accepted in the Host header of --api requests besides IP literals, "+
		"localhost and the --api host (a reverse proxy's name), comma-separated")
	fs.List("listen", "api-allow-host")
	if role != node.RoleLeaf {
		o.handover = fs.Dur("handover-timeout", 0, "at shutdown, a supernode waits up to this long for its leaves to move to "+
			"other supernodes (0: session timeout + one heartbeat)", layered.NonNegativeDuration)
		def := supernode.DefaultRelayConfig()
		o.relayDuration = fs.Dur("relay-max-duration", def.MaxDuration, "a supernode resets a connection it relays for an attached leaf after this long", layered.PositiveDuration)
		o.relayBytes = fs.Int("relay-max-bytes", int(def.MaxBytes), "… or after this many bytes in either direction", layered.AtLeast(1))
		fs.List("bootstrap")
	}
	if role != node.RoleSupernode {
		o.sns = fs.Str("supernode", "", daemonUsage[role][4], peerList)
		o.backups = fs.Int("backups", leaf.DefaultConfig().Backups, "m: backup supernodes attached besides the primary", layered.AtLeast(0))
		o.relay = fs.Str("relay", string(leaf.RelayAuto), "relay slots on the attached supernodes, announced as /p2p-circuit addresses: "+
			"auto (when a dial-back finds this node unreachable, e.g. behind a NAT), always or off",
			layered.OneOf(string(leaf.RelayAuto), string(leaf.RelayAlways), string(leaf.RelayOff)))
		fs.StringVar(&o.bt.Listen, "bt-listen", "", "serve a BitTorrent tracker (HTTP /announce, /scrape and UDP, BEP 3/7/15/23/48) on "+
			"HOST:PORT backed by the overlay; a bare :PORT binds 127.0.0.1; off if empty")
		fs.StringVar(&o.bt.ExternalIP, "bt-external-ip", "", "IP reported to other peers for this machine's BitTorrent clients (default: the address they announced from)")
		fs.StringVar(&o.bt.Allow, "bt-allow", "", "serve only the torrents listed in this file (one infohash, 40 hex digits, per line; # comments); re-read on SIGHUP")
		fs.StringVar(&o.bt.Deny, "bt-deny", "", "never serve the torrents listed in this file (same format); re-read on SIGHUP")
		fs.BoolVar(&o.bt.FullScrape, "bt-full-scrape", false, "answer /scrape without info_hash with every torrent of this leaf's clients (off: it lists them to anyone)")
		fs.Check("bt-listen", layered.HostPort(true))
		fs.Check("bt-external-ip", layered.IPAddr)
		fs.List("supernode")
	}
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
	case node.RoleLeaf:
		def := leaf.DefaultConfig()
		o.heartbeat = fs.Dur("heartbeat", def.HeartbeatInterval, "heartbeat interval to a supernode that asks for none (supernodes ask for theirs on attach)", layered.PositiveDuration)
		o.hedgeFloor = fs.Dur("hedge-floor", def.HedgeFloor,
			"ask a backup supernode too when the primary has not answered a lookup within max(this, 3 × the p90 of its recent answers)", layered.PositiveDuration)
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
	return fs, o
}

// runRole is the one daemon path of every role: flags, environment and
// config file into a node.Config, then election/node until a signal.
func runRole(role node.Role) func(args []string, stdout, stderr io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		fs, o := daemonFlags(role, stderr)
		if code, done := parseCmd(fs, args, stderr); done {
			return code
		}
		sig := catchSignals()
		daemonProcs()
		cfg, err := o.config(stdout, stderr)
		if err == nil {
			err = serve(sig, cfg)
		}
		if err != nil {
			fmt.Fprintln(stderr, "supertracker "+string(role)+":", err)
			return daemonExit(err)
		}
		return exitOK
	}
}

// config is the node.Config the flags (environment, file) describe.
func (o *daemonOpts) config(stdout, stderr io.Writer) (cfg node.Config, err error) {
	if *o.data == "" {
		return cfg, errors.New("--data DIR is required (config key data, $SUPERTRACKER_DATA)")
	}
	if o.role == node.RoleLeaf && *o.sns == "" {
		return cfg, errors.New("--supernode MULTIADDR is required (config key supernode, $SUPERTRACKER_SUPERNODE)")
	}
	log, err := node.NewLogger(*o.logLevel, stderr)
	cfg = node.Config{Role: o.role, DataDir: *o.data, API: *o.api, APIToken: *o.token, APIAllowHosts: layered.SplitList(*o.hosts),
		Stdout: stdout, Logger: log}
	// The values were checked when parsed (multiaddrList, peerList).
	cfg.Listen, _ = multiaddrs(*o.listen)
	if o.local != nil && *o.local {
		*o.preset = "local"
	}
	preset, perr := runner.Preset(*o.preset) // a leaf or a supernode takes its part
	err = errors.Join(err, perr)
	var known, boot []peer.AddrInfo
	if o.sns != nil {
		known, _ = peers(*o.sns)
		cfg.BT = o.bt
	}
	if o.boot != nil {
		boot, _ = peers(*o.boot)
		cfg.HandoverTimeout = *o.handover
	}
	switch o.role {
	case node.RoleSupernode:
		cfg.Supernode = preset.Supernode
		sc := &cfg.Supernode
		sc.ReplicationFactor, sc.RecordTTL, sc.MaxLeaves, sc.MaxRecordsPerLeaf, sc.RequestsPerSecond = *o.repl, *o.recordTTL, *o.maxLeaves, *o.maxRecords, *o.rps
		if *o.sessionTimeout > 0 {
			sc.SessionTimeout = max(*o.sessionTimeout, sc.HeartbeatInterval)
		}
		sc.BootstrapPeers = boot
		sc.Relay.MaxDuration, sc.Relay.MaxBytes = *o.relayDuration, int64(*o.relayBytes)
	case node.RoleLeaf:
		cfg.Leaf = preset.Leaf
		lc := &cfg.Leaf
		lc.Backups, lc.HeartbeatInterval, lc.HedgeFloor = *o.backups, *o.heartbeat, *o.hedgeFloor
		lc.Supernodes, lc.DataDir, lc.Relay.Mode = known, *o.data, leaf.RelayMode(*o.relay)
	case node.RoleElected:
		err = errors.Join(err, o.electedConfig(&cfg, preset, known, boot))
	}
	return cfg, err
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
