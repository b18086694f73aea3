package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p"
	"golang.org/x/time/rate"

	"github.com/supertracker/supertracker/election/runner"
	"github.com/supertracker/supertracker/protocol/httpapi"
)

func runNode(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("node --listen MULTIADDR --data DIR [--supernode MULTIADDR[,…]] [--bootstrap MULTIADDR[,…]] --api HOST:PORT",
		`Runs a node that elects its own role: it starts as a leaf and promotes
itself to supernode when its measured uptime, upload bandwidth, reachability
(verified by a dial-back) and headroom make it eligible AND the supernodes'
load says another is needed; it steps down when it is no longer fit or
needed, handing its leaves over, without a restart. The first node of an
empty overlay needs --role supernode (nobody can measure it yet).

--preset local uses thresholds in seconds for testnets; every threshold flag
below overrides the preset.`, stderr)
	listen := fs.String("listen", "/ip4/127.0.0.1/tcp/0", "multiaddr(s) to listen on, comma-separated")
	data := fs.String("data", "", "data directory: identity key, announced objects, uptime history (required)")
	sns := fs.String("supernode", "", "supernodes to attach to: multiaddrs ending in /p2p/PEERID, comma-separated")
	boot := fs.String("bootstrap", "", "supernodes to join the DHT through when promoted (default: the --supernode list)")
	api := fs.String("api", "127.0.0.1:5001", "serve the local HTTP API on HOST:PORT")
	preset := fs.String("preset", "default", "threshold preset: default (hours, as Gnutella did) or local (seconds, testnets)")
	role := fs.String("role", "auto", "auto: elect; leaf or supernode: force the role (the election still reports)")
	bwLimit := fs.String("bandwidth-limit", "", "cap this node's upload on our protocols, bytes/s with k/M suffix (k=1024); empty: none")
	minUptime := fs.Duration("min-uptime", 0, "eligible after this current uptime (0: preset; default 2h, local 10s)")
	minAvg := fs.Duration("min-avg-uptime", 0, "or after this average session length in the persisted history (0: preset)")
	minUpload := fs.String("min-upload", "", "eligible with at least this measured upload, bytes/s with k/M suffix (empty: preset, 10k)")
	maxLeaves := fs.Int("max-leaves", 0, "leaves a supernode serves; demand is leaves vs this (0: preset; default 50, local 10)")
	dwell := fs.Duration("min-dwell", 0, "minimum time in a role before leaving it (0: preset; default 1h, local 30s)")
	window := fs.Duration("demand-window", 0, "how long demand or surplus must hold (0: preset; default 10m, local 5s)")
	firewalled := fs.Bool("firewalled", false, "refuse inbound connections (simulates a NAT on a testnet: dial-backs fail)")
	backups := fs.Int("backups", 2, "m: backup supernodes attached besides the primary")
	seed := fs.Uint64("seed", 0, "seed of the election's jitter (0: random)")
	recordTTL := fs.Duration("record-ttl", 0, "records expire this long after their last refresh; leaves refresh every third (0: preset, 45m)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	bt := addBTFlags(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	err := func() error {
		if *data == "" {
			return errors.New("--data DIR is required")
		}
		log, err := newLogger(*logLevel, stderr)
		if err != nil {
			return err
		}
		var cfg runner.Config
		switch *preset {
		case "default":
			cfg = runner.DefaultConfig()
		case "local":
			cfg = runner.LocalConfig()
		default:
			return fmt.Errorf("--preset %q: want default or local", *preset)
		}
		switch *role {
		case "auto":
		case "leaf", "supernode":
			cfg.ForceRole = *role
		default:
			return fmt.Errorf("--role %q: want auto, leaf or supernode", *role)
		}
		if *minUptime > 0 {
			cfg.Election.MinUptime = *minUptime
		}
		if *minAvg > 0 {
			cfg.Election.MinAvgUptime = *minAvg
		}
		if *minUpload != "" {
			v, err := parseRate("--min-upload", *minUpload)
			if err != nil {
				return err
			}
			cfg.Election.MinUpload = int64(v)
		}
		if *maxLeaves < 0 {
			return fmt.Errorf("--max-leaves %d: must be ≥ 1", *maxLeaves)
		} else if *maxLeaves > 0 {
			cfg.Election.MaxLeaves = *maxLeaves
		}
		if *dwell > 0 {
			cfg.Election.MinDwell = *dwell
		}
		if *window > 0 {
			cfg.Election.DemandWindow = *window
		}
		if *recordTTL < 0 {
			return fmt.Errorf("--record-ttl %s: must be > 0", *recordTTL)
		} else if *recordTTL > 0 {
			cfg.Supernode.RecordTTL = *recordTTL
		}
		bw, err := parseRate("--bandwidth-limit", *bwLimit)
		if err != nil {
			return err
		}
		if bw > 0 {
			cfg.UploadLimit = rate.NewLimiter(rate.Limit(bw), int(min(max(bw/16, 1024), 16<<10)))
		}
		addrs, err := parseListen(*listen)
		if err != nil {
			return err
		}
		known, err := parsePeers("--supernode", *sns)
		if err != nil {
			return err
		}
		bootPeers, err := parsePeers("--bootstrap", *boot)
		if err != nil {
			return err
		}
		cfg.Leaf.Supernodes, cfg.Leaf.DataDir, cfg.Leaf.Backups = known, *data, *backups
		cfg.Supernode.BootstrapPeers = append(bootPeers, known...)
		cfg.DataDir, cfg.Seed, cfg.Logger = *data, *seed, log
		if err := cfg.Validate(); err != nil {
			return err
		}
		key, err := loadIdentity(*data)
		if err != nil {
			return err
		}
		var extra []libp2p.Option
		if *firewalled {
			extra = append(extra, libp2p.ConnectionGater(inboundRefused{}))
		}
		h, bwc, err := newHost(key, addrs, extra...)
		if err != nil {
			return err
		}
		defer h.Close()
		r, err := runner.New(h, cfg)
		if err != nil {
			return err
		}
		defer r.Close()
		printListenAddrs(stdout, h)
		stop, err := serveAPI(*api, httpapi.NewHandler(r.API(time.Now(), bwc)), log)
		if err != nil {
			return err
		}
		defer stop()
		stopBT, err := startBTBridge(bt, r.Agent(), log)
		if err != nil {
			return err
		}
		defer stopBT()
		log.Info("node running", "peer", h.ID(), "role", r.Role(), "preset", *preset)
		waitForSignal(log)
		return nil
	}()
	if err != nil {
		fmt.Fprintln(stderr, "supertracker node:", err)
		return 2
	}
	return 0
}
