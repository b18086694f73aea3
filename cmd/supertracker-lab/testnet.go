package main

import (
	"io"

	"github.com/supertracker/supertracker/testnet/launcher"
)

func runTestnet(args []string, stdout, stderr io.Writer) int {
	return launcher.Main(args, stdout, stderr)
}
