// Command sweep runs the reliability sweeps of package testnet/sweep (what
// `make figures` runs) and, as `sweep baseline-node …`, is also the baseline
// node helper the sweep's server and flat-DHT runs start.
//
//	go run ./testnet/sweep/cmd/sweep --binary bin/supertracker --out docs/figures --md docs/results.md
package main

import (
	"os"

	"github.com/supertracker/supertracker/testnet/baseline/helper"
	"github.com/supertracker/supertracker/testnet/sweep"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == helper.Subcommand {
		os.Exit(helper.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(sweep.Main(os.Args[1:], os.Stdout, os.Stderr))
}
