// Command attack runs supertracker's attack suite (testnet/attack) and
// prints its table: each attack, what it tried, how often it got what it
// wanted, the bound, and PASS/FAIL. It exits 1 if any bound failed.
//
//	go run ./testnet/attack/cmd/attack --binary bin/supertracker [--short] [--points 1,2] [--md out.md]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/supertracker/supertracker/testnet/attack"
)

func main() {
	os.Exit(run())
}

func run() int {
	bin := flag.String("binary", "bin/supertracker", "the supertracker binary (flood and web attempts run it as processes)")
	short := flag.Bool("short", false, "the CI version: fewer identities per CID, an 8 s flood, no latency bound")
	flood := flag.Duration("flood", 0, "flood length (default 30 s; 8 s with --short)")
	points := flag.String("points", "", "run only these acceptance points of issue 14, comma-separated (1 injection, 2 eclipse, 3 lying primary, 4 flood, 5 web pages)")
	md := flag.String("md", "", "also write the table as Markdown to this file")
	flag.Parse()
	o := attack.Options{Short: *short, Binary: *bin, FloodDuration: *flood, Progress: os.Stderr}
	if _, err := os.Stat(*bin); err != nil {
		fmt.Fprintf(os.Stderr, "attack: --binary %s: %v (make build)\n", *bin, err)
		return 2
	}
	for _, p := range strings.Split(*points, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 5 {
			fmt.Fprintf(os.Stderr, "attack: --points: %q is not 1–5\n", p)
			return 2
		}
		o.Points = append(o.Points, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	start := time.Now()
	rows := attack.Run(ctx, o)
	attack.Print(os.Stdout, rows)
	fmt.Printf("\n%d rows in %s\n", len(rows), time.Since(start).Round(time.Second))
	if *md != "" {
		f, err := os.Create(*md)
		if err != nil {
			fmt.Fprintln(os.Stderr, "attack:", err)
			return 2
		}
		attack.Markdown(f, rows)
		f.Close()
	}
	if !attack.AllPass(rows) {
		return 1
	}
	return 0
}
