package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/supertracker/supertracker/testnet/baseline/helper"
)

// Main is the bench command (`make bench`): flags, then Run. The same
// binary is the flat-DHT baseline helper when its first argument is
// helper.Subcommand (cmd/bench handles that before calling Main).
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "the short run (≤ 3 min): fewer samples, P5 up to 100k records")
	smoke := fs.Bool("smoke", false, "a few seconds on tiny networks (checks the machinery; numbers mean nothing)")
	bin := fs.String("binary", "bin/supertracker-leaf", "the leaf binary run as P4's leaf process (make build's leaf-only build; bin/supertracker works too)")
	ot := fs.String("opentracker", "opentracker", "the opentracker binary (Debian package opentracker)")
	out := fs.String("out", "bench-out", "output directory: bench.json, bench.md, bench.png")
	docs := fs.String("docs", "", "also write this Markdown page (make bench: docs/performance.md, full runs only)")
	rounds := fs.Int("rounds", 0, "interleaved rounds (default 3)")
	phases := fs.String("phases", "", "run only these phases, comma-separated: lookup (P1, P2, P4), growth (growth, P3), store (P5); default all")
	ns := fs.String("n", "", "lookup phase network sizes, comma-separated (default: the mode's, 50,100)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bench [--quick|--smoke] [--phases lookup,growth,store] [--n 50,100] [--binary bin/supertracker-leaf] [--out bench-out] [--docs docs/performance.md]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg := FullConfig()
	switch {
	case *quick && *smoke:
		fmt.Fprintln(stderr, "bench: --quick and --smoke exclude each other")
		return 2
	case *quick:
		cfg = QuickConfig()
	case *smoke:
		cfg = SmokeConfig()
	}
	if *rounds > 0 {
		cfg.Rounds = *rounds
	}
	if *phases != "" {
		cfg.Phases = strings.Split(*phases, ",")
	}
	if *ns != "" {
		cfg.Ns = nil
		for _, f := range strings.Split(*ns, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				fmt.Fprintf(stderr, "bench: --n %q: %v\n", *ns, err)
				return 2
			}
			cfg.Ns = append(cfg.Ns, n)
		}
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	if *docs != "" && (cfg.Mode != "full" || len(cfg.Phases) > 0 || *ns != "") {
		fmt.Fprintf(stderr, "bench: --docs is for complete full runs only; this run writes %s only\n", *out)
		*docs = ""
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	rep, err := Run(ctx, Options{
		Config:      cfg,
		Binary:      *bin,
		Helper:      func(a ...string) *exec.Cmd { return exec.Command(exe, append([]string{helper.Subcommand}, a...)...) },
		Opentracker: *ot,
		Out:         *out,
		Docs:        *docs,
		Progress:    stderr,
	})
	if rep != nil {
		fmt.Fprint(stdout, markdownTable(rep))
		fmt.Fprintf(stdout, "\nwall time %s; %s/bench.json, bench.md, bench.png", fmtWall(rep.WallSeconds), *out)
		if *docs != "" {
			fmt.Fprintf(stdout, ", %s", *docs)
		}
		fmt.Fprintln(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}
