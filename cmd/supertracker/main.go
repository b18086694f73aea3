// Command supertracker runs supertracker nodes (supernodes, leaves, nodes
// that elect their own role) and talks to their local API; it parses
// flags, environment and config file into the libraries' configs and runs
// election/node. The lab tools (testnet, model) are cmd/supertracker-lab.
// Run `supertracker help` for usage.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"

	"github.com/supertracker/supertracker/cmd/internal/layered"
	"github.com/supertracker/supertracker/election/node"
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"supernode", "run a supernode: a kad-dht server that serves leaves", servingRun(node.RoleSupernode)},
		{"leaf", "run a leaf agent attached to supernodes, with a local HTTP API", runRole(node.RoleLeaf)},
		{"node", "run a node that elects its own role (leaf ⇄ supernode) from measurements", servingRun(node.RoleElected)},
		{"announce", "announce CIDs through a leaf's API", runAnnounce},
		{"withdraw", "withdraw CIDs through a leaf's API", runWithdraw},
		{"lookup", "find the holders of a CID through a node's API", runLookup},
		{"status", "show a node's role, identity, attachments and load", runStatus},
		{"config", "write (config init) or check (config check) a config file", runConfig},
		{"healthcheck", "exit 0 if a node's /healthz says it serves its role", runHealthcheck},
		{"version", "print the version and the commit this binary was built from", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `supertracker: a serverless, peer-based BitTorrent-style tracker.

Peers self-elect as supernodes; supernodes form a private libp2p Kademlia DHT
(protocol prefix /supertracker) that maps objects (CIDs) to the leaf peers
holding them; leaves attach to a supernode and announce and look up through it.

Usage:
  supertracker COMMAND [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Run 'supertracker COMMAND --help' for the flags of a command. Every flag of
supernode, leaf and node is also a config file key (--config FILE) and an
environment variable: --record-ttl is record_ttl and SUPERTRACKER_RECORD_TTL.

`+exitCodesHelp+`
`)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "testnet" || args[0] == "model") {
		fmt.Fprintf(stderr, "supertracker: %s is a lab tool: run supertracker-lab %s (make testnet builds both)\n", args[0], args[0])
		return 2
	}
	cmds := commands()
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	if code, done := layered.ParseCommand(args, names, usage, stdout, stderr, "supertracker: unknown command"); done {
		return code
	}
	return cmds[slices.Index(names, args[0])].run(args[1:], stdout, stderr)
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "supertracker version: unexpected argument %q\n", args[0])
		return 2
	}
	v, c := node.Version()
	fmt.Fprintf(stdout, "supertracker %s (commit %s, %s)\n", v, c, runtime.Version())
	return 0
}
