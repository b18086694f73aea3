package launcher

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// Main runs `supertracker testnet`.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: supertracker testnet [flags]

Starts a local overlay of real supertracker processes, each on its own
127.0.0.x address, drives it and stops every process it started (also on
Ctrl-C).

Flags:
`)
		fs.PrintDefaults()
	}
	out := fs.String("out", "testnet-out", "directory for data dirs, logs and the report")
	supernodes := fs.Int("supernodes", 3, "supernodes to start (demo)")
	leaves := fs.Int("leaves", 3, "leaves to start (demo)")
	objects := fs.Int("objects", 6, "objects to announce and look up (demo)")
	bin := fs.String("binary", "", "supertracker binary for the nodes (default: this one)")
	timeout := fs.Duration("timeout", 5*time.Minute, "stop everything after this long")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *supernodes < 1 || *leaves < 2 || *objects < 1 || *supernodes+*leaves > 250 {
		fmt.Fprintln(stderr, "supertracker testnet: need ≥1 supernode, ≥2 leaves, ≥1 object and ≤250 nodes")
		return 2
	}
	binary := *bin
	if binary == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "supertracker testnet:", err)
			return 2
		}
		binary = exe
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		fmt.Fprintln(stderr, "supertracker testnet:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err = RunDemo(ctx, DemoConfig{Binary: binary, Dir: dir, Supernodes: *supernodes, Leaves: *leaves, Objects: *objects}, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "supertracker testnet:", err)
		return 1
	}
	return 0
}
