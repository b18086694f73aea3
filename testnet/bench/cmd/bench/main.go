// Command bench is `make bench`: it runs the supertracker overlay, a flat
// stock kad-dht and opentracker on the same workload and writes
// bench-out/bench.json, bench.md and bench.png (and, for a full run,
// docs/performance.md). See package testnet/bench.
//
//	go build -o bin/supertracker-bench ./testnet/bench/cmd/bench
//	bin/supertracker-bench --binary bin/supertracker [--quick] [--docs docs/performance.md]
//
// As `bench baseline-node …` it is the flat-DHT baseline node helper
// (testnet/baseline/helper), which P4 runs as a process.
package main

import (
	"os"

	"github.com/supertracker/supertracker/testnet/baseline/helper"
	"github.com/supertracker/supertracker/testnet/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == helper.Subcommand {
		os.Exit(helper.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr))
}
