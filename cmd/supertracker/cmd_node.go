package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/supertracker/supertracker/election/runner"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/identity"
	"github.com/supertracker/supertracker/testnet/capped"
)

type nodeOpts struct {
	listen, data, sns, boot, api, preset, role, bwLimit, minUpload, logLevel *string
	minUptime, minAvg, dwell, window, recordTTL, handover                    *time.Duration
	maxLeaves, backups                                                       *int
	serviceRate                                                              *float64
	serviceQueue                                                             *int
	firewalled                                                               *bool
	seed                                                                     *uint64
	bt                                                                       btFlags
	guard                                                                    apiGuardFlags
	relay                                                                    *string
	relaySvc                                                                 relayServiceFlags
}

func nodeFlags(stderr io.Writer) (*cmdFlags, *nodeOpts) {
	fs := newCmdFlags("node", "node --listen MULTIADDR --data DIR [--supernode MULTIADDR[,…]] [--bootstrap MULTIADDR[,…]] --api HOST:PORT [--config FILE]",
		`Runs a node that elects its own role: it starts as a leaf and promotes
itself to supernode when its measured uptime, upload bandwidth, reachability
(verified by a dial-back) and headroom make it eligible AND the supernodes'
load says another is needed; it steps down when it is no longer fit or
needed, handing its leaves over, without a restart. Nodes started together
with no supernode elect one among themselves (a node alone cannot be
measured: --role supernode forces it). A supernode that wakes from a
suspension (system sleep, SIGSTOP) steps down at once.

While a supernode its records and peerstore live in DATA/datastore and
survive restarts. On SIGINT/SIGTERM a supernode hands its leaves over first;
the node detaches, saves its uptime history and exits 0. --api also serves
the status page (/), /metrics and /healthz.

--preset local uses thresholds in seconds for testnets; every threshold flag
below overrides the preset.`, stderr)
	o := &nodeOpts{
		listen:     fs.String("listen", "/ip4/127.0.0.1/tcp/0", "multiaddr(s) to listen on, comma-separated"),
		data:       fs.String("data", "", "data directory: identity key, announced objects, uptime history, datastore (required)"),
		sns:        fs.String("supernode", "", "supernodes to attach to: multiaddrs ending in /p2p/PEERID, comma-separated"),
		boot:       fs.String("bootstrap", "", "supernodes to join the DHT through when promoted (default: the --supernode list)"),
		api:        fs.String("api", "127.0.0.1:5001", "serve the local HTTP API, status page, /metrics and /healthz on HOST:PORT"),
		preset:     fs.String("preset", "default", "threshold preset: default (hours, as Gnutella did) or local (seconds, testnets)"),
		role:       fs.String("role", "auto", "auto: elect; leaf or supernode: force the role (the election still reports)"),
		bwLimit:    fs.String("bandwidth-limit", "", "cap this node's upload on our protocols, bytes/s with k/M suffix (k=1024); empty: none"),
		minUptime:  fs.Duration("min-uptime", 0, "eligible after this current uptime (0: preset; default 2h, local 10s)"),
		minAvg:     fs.Duration("min-avg-uptime", 0, "or after this average session length in the persisted history (0: preset)"),
		minUpload:  fs.String("min-upload", "", "eligible with at least this measured upload, bytes/s with k/M suffix (empty: preset, 10k)"),
		maxLeaves:  fs.Int("max-leaves", 0, "leaves a supernode serves; demand is leaves vs this (0: preset; default 50, local 10)"),
		dwell:      fs.Duration("min-dwell", 0, "minimum time in a role before leaving it (0: preset; default 1h, local 30s)"),
		window:     fs.Duration("demand-window", 0, "how long demand or surplus must hold (0: preset; default 10m, local 5s)"),
		firewalled: fs.Bool("firewalled", false, "refuse inbound connections (simulates a NAT on a testnet: dial-backs fail)"),
		backups:    fs.Int("backups", 2, "m: backup supernodes attached besides the primary"),
		seed:       fs.Uint64("seed", 0, "seed of the election's jitter (0: random)"),
		serviceRate: fs.Float64("service-rate", 0,
			"testnets: as a supernode serve at most this many lookups/s, one at a time with exponential service times (an M/M/1 queue; measured λ and ρ in DATA/"+capped.StatsFile+"); 0: no cap"),
		serviceQueue: fs.Int("service-queue", 0,
			"testnets, with --service-rate: at most this many lookups in the node (queued or served, the paper's M/M/1/h); more are answered RATE_LIMITED at once; 0: unbounded"),
		recordTTL: fs.Duration("record-ttl", 0, "records expire this long after their last refresh; leaves refresh every third (0: preset, 45m)"),
		handover: fs.Duration("handover-timeout", 0,
			"at shutdown, a supernode waits up to this long for its leaves to move to other supernodes (0: session timeout + one heartbeat)"),
		logLevel: fs.String("log-level", "info", "log level: debug, info, warn, error"),
	}
	o.bt = addBTFlags(fs)
	o.guard = addAPIGuardFlags(fs)
	o.relay = addRelayModeFlag(fs)
	o.relaySvc = addRelayServiceFlags(fs)
	fs.list("listen", "supernode", "bootstrap")
	fs.check("listen", multiaddrList)
	fs.check("supernode", peerList)
	fs.check("bootstrap", peerList)
	fs.check("api", hostPort(false))
	fs.check("preset", oneOf("default", "local"))
	fs.check("role", oneOf("auto", "leaf", "supernode"))
	fs.check("bandwidth-limit", byteRate)
	fs.check("min-upload", byteRate)
	for _, d := range []string{"min-uptime", "min-avg-uptime", "min-dwell", "demand-window", "record-ttl", "handover-timeout"} {
		fs.check(d, nonNegativeDuration)
	}
	fs.check("max-leaves", atLeast(0))
	fs.check("service-queue", atLeast(0))
	fs.check("service-rate", func(v any) error {
		if x := v.(float64); !(x >= 0) || math.IsInf(x, 0) {
			return errors.New("must be a finite rate ≥ 0")
		}
		return nil
	})
	fs.check("backups", atLeast(0))
	fs.check("log-level", logLevels)
	fs.check("bt-listen", hostPort(true))
	fs.check("bt-external-ip", ipAddr)
	return fs, o
}

func runNode(args []string, stdout, stderr io.Writer) int {
	return runDaemon("node", args, stdout, stderr, nodeFlags, nodeMain)
}

func nodeMain(stdout, stderr io.Writer, o *nodeOpts) error {
	if *o.data == "" {
		return errors.New("--data DIR is required (config key data, $SUPERTRACKER_DATA)")
	}
	log, err := newLogger(*o.logLevel, stderr)
	if err != nil {
		return err
	}
	sig := catchSignals()
	var cfg runner.Config
	switch *o.preset {
	case "default":
		cfg = runner.DefaultConfig()
	case "local":
		cfg = runner.LocalConfig()
	default:
		return fmt.Errorf("--preset %q: want default or local", *o.preset)
	}
	switch *o.role {
	case "auto":
	case "leaf", "supernode":
		cfg.ForceRole = *o.role
	default:
		return fmt.Errorf("--role %q: want auto, leaf or supernode", *o.role)
	}
	if *o.minUptime > 0 {
		cfg.Election.MinUptime = *o.minUptime
	}
	if *o.minAvg > 0 {
		cfg.Election.MinAvgUptime = *o.minAvg
	}
	if *o.minUpload != "" {
		v, err := parseRate("--min-upload", *o.minUpload)
		if err != nil {
			return err
		}
		cfg.Election.MinUpload = int64(v)
	}
	if *o.maxLeaves < 0 {
		return fmt.Errorf("--max-leaves %d: must be ≥ 1", *o.maxLeaves)
	} else if *o.maxLeaves > 0 {
		cfg.Election.MaxLeaves = *o.maxLeaves
	}
	if *o.dwell > 0 {
		cfg.Election.MinDwell = *o.dwell
	}
	if *o.window > 0 {
		cfg.Election.DemandWindow = *o.window
	}
	if *o.recordTTL < 0 {
		return fmt.Errorf("--record-ttl %s: must be > 0", *o.recordTTL)
	} else if *o.recordTTL > 0 {
		cfg.Supernode.RecordTTL = *o.recordTTL
	}
	bw, err := parseRate("--bandwidth-limit", *o.bwLimit)
	if err != nil {
		return err
	}
	if bw > 0 {
		cfg.UploadLimit = rate.NewLimiter(rate.Limit(bw), int(min(max(bw/16, 1024), 16<<10)))
	}
	addrs, err := parseListen(*o.listen)
	if err != nil {
		return err
	}
	known, err := parsePeers("--supernode", *o.sns)
	if err != nil {
		return err
	}
	bootPeers, err := parsePeers("--bootstrap", *o.boot)
	if err != nil {
		return err
	}
	cfg.Leaf.Supernodes, cfg.Leaf.DataDir, cfg.Leaf.Backups = known, *o.data, *o.backups
	cfg.Leaf.Relay.Mode = leaf.RelayMode(*o.relay)
	o.relaySvc.apply(&cfg.Supernode.Relay)
	cfg.Supernode.BootstrapPeers = append(bootPeers, known...)
	cfg.DataDir, cfg.Seed, cfg.Logger = *o.data, *o.seed, log
	if err := cfg.Validate(); err != nil {
		return err
	}
	unlock, err := lockDataDir(*o.data)
	if err != nil {
		return err
	}
	defer unlock()
	key, err := identity.Load(*o.data)
	if err != nil {
		return err
	}
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return err
	}
	// The datastore outlives role changes: opened here, handed to every
	// supernode service a promotion starts, closed only at exit.
	dur, err := openDurable(*o.data, self, cfg.Supernode.RecordTTL, log)
	if err != nil {
		return err
	}
	defer dur.store.Close() // last: after the host closed the peerstore
	cfg.Supernode.Datastore = dur.store
	cfg.Supernode.BootstrapPeers = mergePeers(cfg.Supernode.BootstrapPeers, dur.known)
	extra := []libp2p.Option{libp2p.Peerstore(dur.ps)}
	if *o.firewalled {
		extra = append(extra, libp2p.ConnectionGater(inboundRefused{}))
	}
	h, bwc, err := newHost(key, addrs, extra...)
	if err != nil {
		dur.ps.Close()
		return err
	}
	defer h.Close()
	nodeHost := h
	if *o.serviceRate > 0 { // the load sweep's per-node service cap
		srv, err := capped.NewServer(*o.serviceRate, *o.seed)
		if err != nil {
			return err
		}
		srv.SetCapacity(*o.serviceQueue)
		nodeHost = capped.WrapHost(h, srv, cfg.Supernode.Limits)
		sctx, stopStats := context.WithCancel(context.Background())
		defer stopStats()
		go srv.WriteStats(sctx, *o.data)
	}
	r, err := runner.New(nodeHost, cfg)
	if err != nil {
		return err
	}
	closeRunner := func() {
		if err := r.Close(); err != nil {
			log.Warn("closing the node", "err", err)
		}
	}
	printListenAddrs(stdout, h)
	view := newOpsView(r.API(time.Now(), bwc), r.Supernode, r.Agent)
	guard, err := o.guard.config(*o.api, *o.data, log)
	if err != nil {
		closeRunner()
		return err
	}
	stop, err := serveAPI(*o.api, view.handler(guard), log)
	if err != nil {
		closeRunner()
		return err
	}
	stopBT, err := startBTBridge(o.bt, r.Agent(), view, log)
	if err != nil {
		stop()
		closeRunner()
		return err
	}
	stopRemembering := startRemembering(h, r.Supernode, time.Minute)
	log.Info("node running", "peer", h.ID(), "role", r.Role(), "preset", *o.preset)
	sig.wait(log)

	view.stopping.Store(true)
	stopRemembering()
	if sn := r.Supernode(); sn != nil {
		timeout := *o.handover
		if timeout == 0 {
			timeout = cfg.Supernode.SessionTimeout + cfg.Supernode.HeartbeatInterval
		}
		handOver(h, sn, timeout, log)
		rememberSupernodes(h, sn)
	}
	stopBT()
	stop()
	closeRunner() // detaches the agent, saves the uptime history
	log.Info("node stopped")
	return nil
}
