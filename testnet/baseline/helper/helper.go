// Package helper is the entry point of a baseline node process: it picks
// the backend (package baseline/server or baseline/flatdht) named by the
// config's design and runs baseline.Main. The sweep command runs it as
// `sweep baseline-node -config FILE supernode|leaf …`.
package helper

import (
	"fmt"
	"io"

	"github.com/supertracker/supertracker/testnet/baseline"
	"github.com/supertracker/supertracker/testnet/baseline/flatdht"
	"github.com/supertracker/supertracker/testnet/baseline/server"
)

// Subcommand is the argument that selects the helper in the sweep binary.
const Subcommand = "baseline-node"

// Main runs one baseline node with args (after Subcommand).
func Main(args []string, stdout, stderr io.Writer) int {
	return baseline.Main(args, stdout, stderr, NewBackend)
}

// NewBackend returns the backend for cfg.Design.
func NewBackend(cfg *baseline.Config) (baseline.Backend, error) {
	switch cfg.Design {
	case baseline.DesignServer:
		return server.New(cfg)
	case baseline.DesignFlatDHT:
		return flatdht.New(cfg)
	}
	return nil, fmt.Errorf("unknown design %q", cfg.Design)
}
