package launcher

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/supertracker/supertracker/testnet/report"
	"github.com/supertracker/supertracker/testnet/scenario"
)

// Exit codes of Main.
const (
	ExitOK          = 0
	ExitFailed      = 1   // the run could not be carried out
	ExitUsage       = 2   // bad flags or scenario
	ExitInterrupted = 130 // Ctrl-C, SIGTERM or --timeout
)

// Main runs `supertracker-lab testnet`.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: supertracker-lab testnet [--scenario default|smoke|PATH] [--seed N] [--out DIR] [--binary PATH] [--no-progress]
       supertracker-lab testnet --demo [--out DIR]

Starts a local overlay of real supertracker processes, node i on 127.0.0.(i+2),
drives the scenario's seeded schedule (announces and lookups through the nodes'
HTTP APIs, churn kills with SIGKILL and restarts, targeted supernode kills, mass
failure), samples every node about once a second, and writes into --out:
events.jsonl, schedule.jsonl, the report (summary.txt, summary.json, *.csv,
success.png, latency.png, supernodes.png), nodes.json and logs/. It prints the
summary at the end and stops every process it started, also on Ctrl-C.

Built-in scenarios: %s. When the binary has a `+"`node`"+` command, every peer runs
it and elects its own role; otherwise supernode-hinted profiles run
`+"`supernode`"+` and the others `+"`leaf`"+`.

Flags:
`, strings.Join(scenario.BuiltinNames(), ", "))
		fs.PrintDefaults()
	}
	out := fs.String("out", "testnet-out", "output directory: node data, logs, event log, report")
	scen := fs.String("scenario", "default", "built-in scenario name or path of a scenario JSON file")
	seed := fs.Uint64("seed", 0, "workload seed (0: the scenario's own seed)")
	bin := fs.String("binary", "", "supertracker binary for the nodes (default: supertracker beside this program, else this program)")
	noProgress := fs.Bool("no-progress", false, "do not draw the progress bar")
	nodeCmd := fs.String("node-command", "auto", "use `supertracker node`: auto (if the binary has it), on, off")
	logLevel := fs.String("log-level", "warn", "nodes' --log-level (their logs go to DIR/logs)")
	timeout := fs.Duration("timeout", 0, "stop everything after this long (0: scenario duration + 3m; demo: 5m)")
	settle := fs.Duration("settle", 0, "start the schedule no earlier than this long after the first node started (lets the election form the overlay before the measured window)")
	demo := fs.Bool("demo", false, "run the small fixed demo instead: supernodes, leaves, announce, lookup")
	supernodes := fs.Int("supernodes", 3, "supernodes to start (demo)")
	leaves := fs.Int("leaves", 3, "leaves to start (demo)")
	objects := fs.Int("objects", 6, "objects to announce and look up (demo)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "supertracker testnet: unexpected argument %q\n", fs.Arg(0))
		return ExitUsage
	}
	binary := *bin
	if binary == "" {
		var err error
		if binary, err = defaultBinary(); err != nil {
			fmt.Fprintln(stderr, "supertracker testnet:", err)
			return ExitUsage
		}
	}
	if abs, err := filepath.Abs(binary); err == nil {
		binary = abs
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		fmt.Fprintln(stderr, "supertracker testnet:", err)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { // a second signal gets the default behaviour (exit at once)
		<-ctx.Done()
		stop()
	}()

	if *demo {
		if *supernodes < 1 || *leaves < 2 || *objects < 1 || *supernodes+*leaves > 250 {
			fmt.Fprintln(stderr, "supertracker testnet: need ≥1 supernode, ≥2 leaves, ≥1 object and ≤250 nodes")
			return ExitUsage
		}
		if *timeout == 0 {
			*timeout = 5 * time.Minute
		}
		dctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		err := RunDemo(dctx, DemoConfig{Binary: binary, Dir: dir, Supernodes: *supernodes, Leaves: *leaves, Objects: *objects}, stdout)
		if err != nil {
			fmt.Fprintln(stderr, "supertracker testnet:", err)
			if ctx.Err() != nil {
				return ExitInterrupted
			}
			return ExitFailed
		}
		return ExitOK
	}

	sc, err := scenario.Open(*scen)
	if err != nil {
		fmt.Fprintln(stderr, "supertracker testnet:", err)
		return ExitUsage
	}
	s := *seed
	if s == 0 {
		s = sc.Seed
	}
	mode := report.ProgressAuto
	if *noProgress {
		mode = report.ProgressOff
	}
	_, err = Run(ctx, Config{
		Scenario: sc, Seed: s, Out: dir, Binary: binary, NodeCommand: *nodeCmd, LogLevel: *logLevel,
		Timeout: *timeout, MinSettle: *settle, Progress: mode, Stdout: stdout, Stderr: stderr,
	})
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrInterrupted):
		fmt.Fprintln(stderr, "supertracker testnet:", err)
		return ExitInterrupted
	default:
		fmt.Fprintln(stderr, "supertracker testnet:", err)
		return ExitFailed
	}
}

// defaultBinary is the node binary when --binary is not given: the
// supertracker daemon in the same directory as this program (the lab tools
// ship as a second binary beside it), else this program itself.
func defaultBinary() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	beside := filepath.Join(filepath.Dir(exe), "supertracker")
	if fi, err := os.Stat(beside); err == nil && fi.Mode().IsRegular() && beside != exe {
		return beside, nil
	}
	return exe, nil
}
