package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	golog "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	ma "github.com/multiformats/go-multiaddr"
)

// newFlagSet returns a flag set that prints its usage to stderr and errors
// instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: supertracker %s\n\n%s\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns (exit code, done) when the command must
// stop (help or a bad flag).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, true
		}
		return 2, true
	}
	return 0, false
}

// newLogger makes the structured logger for --log-level and quiets
// go-libp2p's own logging to match.
func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	// libp2p's loggers are noisy about things that are normal on loopback
	// testnets; show them only when debugging.
	libp2pLevel := "error"
	if l <= slog.LevelDebug {
		libp2pLevel = "warn"
	}
	if os.Getenv("GOLOG_LOG_LEVEL") == "" {
		_ = golog.SetLogLevel("*", libp2pLevel)
		_ = golog.SetLogLevel("net/identify", "fatal")
		_ = golog.SetLogLevel("basichost", "fatal")
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// parseListen parses comma-separated listen multiaddrs.
func parseListen(s string) ([]ma.Multiaddr, error) {
	var out []ma.Multiaddr
	for _, part := range splitList(s) {
		a, err := ma.NewMultiaddr(part)
		if err != nil {
			return nil, fmt.Errorf("--listen %q: %w", part, err)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, errors.New("--listen: need at least one multiaddr")
	}
	return out, nil
}

// parsePeers parses comma-separated multiaddrs ending in /p2p/PEERID.
func parsePeers(flagName, s string) ([]peer.AddrInfo, error) {
	var addrs []ma.Multiaddr
	for _, part := range splitList(s) {
		a, err := ma.NewMultiaddr(part)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flagName, part, err)
		}
		addrs = append(addrs, a)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(addrs...)
	if err != nil {
		return nil, fmt.Errorf("%s: every address must end in /p2p/PEERID: %w", flagName, err)
	}
	return infos, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// newHost starts a libp2p host with the node's identity on listen, with
// resource limits sized for a supernode serving many leaves.
func newHost(key crypto.PrivKey, listen []ma.Multiaddr, extra ...libp2p.Option) (host.Host, *metrics.BandwidthCounter, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	scaled := limits.AutoScale()
	partial := rcmgr.PartialLimitConfig{
		System:    rcmgr.ResourceLimits{ConnsInbound: 2048, Conns: 4096, StreamsInbound: 16384, Streams: 32768},
		Transient: rcmgr.ResourceLimits{ConnsInbound: 512, Conns: 1024},
	}
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(scaled)))
	if err != nil {
		return nil, nil, err
	}
	bw := metrics.NewBandwidthCounter()
	// Hole punching (DCUtR) upgrades a connection relayed by a supernode
	// for a leaf behind a NAT to a direct one where the NATs allow.
	opts := append([]libp2p.Option{libp2p.Identity(key), libp2p.ListenAddrs(listen...), libp2p.ResourceManager(mgr),
		libp2p.BandwidthReporter(bw), libp2p.EnableHolePunching()}, extra...)
	h, err := libp2p.New(opts...)
	if err != nil {
		mgr.Close()
		return nil, nil, fmt.Errorf("starting libp2p host: %w", err)
	}
	return h, bw, nil
}

// printListenAddrs prints each full listen multiaddr on its own line.
func printListenAddrs(w io.Writer, h host.Host) {
	for _, a := range h.Addrs() {
		fmt.Fprintf(w, "%s/p2p/%s\n", a, h.ID())
	}
}

// serveAPI starts the HTTP API on hostport and returns a function that
// shuts it down.
func serveAPI(hostport string, handler http.Handler, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", hostport)
	if err != nil {
		return nil, fmt.Errorf("--api %s: %w", hostport, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server stopped", "err", err)
		}
	}()
	log.Info("API listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// shutdownSignal catches SIGINT and SIGTERM from the moment it is made, so
// a signal during start-up also shuts down cleanly. Its context ends at the
// first signal.
type shutdownSignal struct {
	ch     chan os.Signal
	ctx    context.Context
	cancel context.CancelFunc
	got    chan os.Signal
}

func catchSignals() *shutdownSignal {
	s := &shutdownSignal{ch: make(chan os.Signal, 2), got: make(chan os.Signal, 1)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	signal.Notify(s.ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-s.ch
		s.got <- sig
		s.cancel()
	}()
	return s
}

// wait blocks until SIGINT or SIGTERM, and arranges for a second signal to
// force an immediate exit (status 1).
func (s *shutdownSignal) wait(log *slog.Logger) {
	sig := <-s.got
	log.Info("shutting down", "signal", sig.String())
	go func() {
		<-s.ch
		log.Warn("second signal: exiting now")
		os.Exit(1)
	}()
}

// waitForSignal blocks until SIGINT or SIGTERM, and arranges for a second
// signal to force an immediate exit.
func waitForSignal(log *slog.Logger) {
	catchSignals().wait(log)
}
