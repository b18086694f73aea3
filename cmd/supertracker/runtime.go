package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/supertracker/supertracker/cmd/internal/layered"
	"github.com/supertracker/supertracker/election/node"
	"github.com/supertracker/supertracker/protocol/httpapi"
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

// parseFlags parses the args of a command that takes at most maxArgs
// positional arguments (-1: any); it returns (exit code, done) when the
// command must stop (help, or a bad flag: one line, not the usage).
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int) (int, bool) {
	err := layered.ParseArgs(fs, args, maxArgs)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	case err != nil:
		name := strings.Fields(fs.Name())[0]
		fmt.Fprintf(fs.Output(), "supertracker %s: %v\nRun 'supertracker %s --help' for its flags.\n", name, err, name)
		return 2, true
	}
	return 0, false
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

// apiClient is the client of the CLI commands: the token comes from
// $SUPERTRACKER_API_TOKEN.
func apiClient(api string) *httpapi.Client {
	return httpapi.NewClient(api).WithToken(os.Getenv(node.TokenEnv))
}

// serve runs a node until SIGINT or SIGTERM, then stops it gracefully.
func serve(sig *shutdownSignal, cfg node.Config) error {
	n, err := node.Start(sig.ctx, cfg)
	if err != nil {
		return err
	}
	sig.wait(cfg.Logger)
	return n.Close()
}

// daemonProcs doubles the Go processors of a role that can serve unless
// GOMAXPROCS is set: a supernode's batch verification, compactions and the
// GC can hold every P, and a leaf's lookup then waits up to a 10 ms
// preemption for one (flood p95: 13.7× → 3.9× the baseline,
// docs/security.md). A leaf keeps Go's default: it has no such work, and
// every extra P is another to wake and park when it is idle.
func daemonProcs(role node.Role) {
	if role != node.RoleLeaf && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(2 * runtime.GOMAXPROCS(0))
	}
}
