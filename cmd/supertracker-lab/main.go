// Command supertracker-lab holds the lab tools that stay out of the daemon:
// `testnet` runs a local overlay of real supertracker processes (what `make
// testnet` runs) and `model` evaluates the tracker paper's reliability
// model. They pull in the testnet harness, the sweeps and gonum/plot, which
// the supertracker binary does not link.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/supertracker/supertracker/cmd/internal/layered"
)

func usage(w io.Writer) {
	fmt.Fprint(w, `supertracker-lab: the lab tools of supertracker.

Usage:
  supertracker-lab testnet [flags]   run a local overlay of real processes on 127.0.0.x
                                     (the nodes run the supertracker binary beside this one,
                                     or --binary PATH)
  supertracker-lab model [flags]     evaluate the tracker paper's reliability model

Run 'supertracker-lab COMMAND --help' for the flags of a command.
`)
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if code, done := layered.ParseCommand(args, []string{"testnet", "model"}, usage, stdout, stderr, "supertracker-lab: unknown command"); done {
		return code
	}
	if args[0] == "testnet" {
		return runTestnet(args[1:], stdout, stderr)
	}
	return runModel(args[1:], stdout, stderr)
}
