package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/supernode"
)

func runSupernode(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("supernode --listen MULTIADDR --data DIR [--bootstrap MULTIADDR[,…]] [--api HOST:PORT]",
		`Runs a supernode: a kad-dht server (protocol prefix /supertracker) that
stores leaves' signed object→peer records and serves leaf sessions. Prints
each full listen multiaddr (ending in /p2p/PEERID) on its own line at start.`, stderr)
	def := supernode.DefaultConfig()
	listen := fs.String("listen", "/ip4/127.0.0.1/tcp/0", "multiaddr(s) to listen on, comma-separated")
	data := fs.String("data", "", "data directory: identity key (required)")
	bootstrap := fs.String("bootstrap", "", "supernodes to join through: multiaddrs ending in /p2p/PEERID, comma-separated")
	api := fs.String("api", "", "serve the HTTP API (status, lookup) on HOST:PORT; off if empty")
	repl := fs.Int("replication", def.ReplicationFactor, "r: supernodes that store each record")
	ttl := fs.Duration("record-ttl", def.RecordTTL, "records expire this long after their last refresh")
	maxLeaves := fs.Int("max-leaves", def.MaxLeaves, "most leaves attached at once")
	maxRecords := fs.Int("max-records-per-leaf", def.MaxRecordsPerLeaf, "most live records per leaf")
	rps := fs.Float64("rate", def.RequestsPerSecond, "requests per second allowed per peer")
	local := fs.Bool("local", false, "use fast local timings (testnets): 1 s heartbeats, 3 s session timeout")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if err := supernodeMain(stdout, stderr, *listen, *data, *bootstrap, *api, *logLevel, *local, func(c *supernode.Config) {
		c.ReplicationFactor, c.RecordTTL, c.MaxLeaves, c.MaxRecordsPerLeaf, c.RequestsPerSecond = *repl, *ttl, *maxLeaves, *maxRecords, *rps
	}); err != nil {
		fmt.Fprintln(stderr, "supertracker supernode:", err)
		return 2
	}
	return 0
}

func supernodeMain(stdout, stderr io.Writer, listen, data, bootstrap, api, logLevel string, local bool, set func(*supernode.Config)) error {
	if data == "" {
		return errors.New("--data DIR is required")
	}
	log, err := newLogger(logLevel, stderr)
	if err != nil {
		return err
	}
	addrs, err := parseListen(listen)
	if err != nil {
		return err
	}
	boot, err := parsePeers("--bootstrap", bootstrap)
	if err != nil {
		return err
	}
	cfg := supernode.DefaultConfig()
	if local {
		cfg = supernode.LocalConfig()
	}
	set(&cfg)
	cfg.BootstrapPeers, cfg.Logger = boot, log
	if err := cfg.Validate(); err != nil {
		return err
	}
	key, err := loadIdentity(data)
	if err != nil {
		return err
	}
	h, bw, err := newHost(key, addrs)
	if err != nil {
		return err
	}
	defer h.Close()
	sn, err := supernode.New(h, supernode.WithConfig(cfg))
	if err != nil {
		return err
	}
	defer sn.Close()
	printListenAddrs(stdout, h)
	if api != "" {
		stop, err := serveAPI(api, httpapi.NewHandler(&supernode.APIBackend{Node: sn, Started: time.Now(), Bandwidth: bw}), log)
		if err != nil {
			return err
		}
		defer stop()
	}
	log.Info("supernode running", "peer", h.ID(), "bootstrap", len(boot))
	waitForSignal(log)
	return nil
}
