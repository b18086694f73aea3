package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/supertracker/supertracker/election/node"
	"github.com/supertracker/supertracker/protocol/httpapi"
)

const defaultAPI = "127.0.0.1:5001"

func runAnnounce(args []string, stdout, stderr io.Writer) int {
	return announceOrWithdraw("announce", args, stdout, stderr)
}

func runWithdraw(args []string, stdout, stderr io.Writer) int {
	return announceOrWithdraw("withdraw", args, stdout, stderr)
}

func announceOrWithdraw(verb string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(verb+" --api HOST:PORT CID…",
		fmt.Sprintf(`Asks the leaf at --api to %s the CIDs. Exits 0 once the overlay has
accepted them. With no supernode attached the leaf answers within a few
seconds, naming the supernodes it tried (exit 3); the CIDs stay in its
announced set and reach the overlay once a supernode attaches.

%s`, verb, exitCodesHelp), stderr)
	api := fs.String("api", defaultAPI, "the leaf's API address")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	if code, done := parseFlags(fs, args, -1); done {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "supertracker %s: give at least one CID\n", verb)
		return 2
	}
	for _, s := range fs.Args() {
		if _, err := cid.Decode(s); err != nil {
			fmt.Fprintf(stderr, "supertracker %s: %q is not a CID: %v\n", verb, s, err)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c := apiClient(*api)
	var res *httpapi.AnnounceResponse
	var err error
	if verb == "announce" {
		res, err = c.Announce(ctx, fs.Args())
	} else {
		res, err = c.Withdraw(ctx, fs.Args())
	}
	if err != nil {
		return clientFailed(stderr, verb, err)
	}
	past := map[string]string{"announce": "announced", "withdraw": "withdrew"}[verb]
	fmt.Fprintf(stdout, "%s %d CID(s); stored on %d supernode(s)\n", past, res.Accepted, res.Replicas)
	return 0
}

func runLookup(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("lookup --api HOST:PORT [--json] CID",
		`Finds the holders of CID through the node at --api. Prints one holder per
line as a multiaddr ending in /p2p/PEERID. The node returns the holders its
supernode found, at most --limit (default 50, the protocol maximum), in one
answer (not streamed).

`+exitCodesHelp, stderr)
	api := fs.String("api", defaultAPI, "the node's API address")
	asJSON := fs.Bool("json", false, "print the full JSON reply")
	limit := fs.Int("limit", 0, "most holders to return (0: the protocol maximum, 50)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if code, done := parseFlags(fs, args, -1); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "supertracker lookup: give exactly one CID")
		return 2
	}
	if _, err := cid.Decode(fs.Arg(0)); err != nil {
		fmt.Fprintf(stderr, "supertracker lookup: %q is not a CID: %v\n", fs.Arg(0), err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := apiClient(*api).Lookup(ctx, fs.Arg(0), *limit)
	if err != nil {
		return clientFailed(stderr, "lookup", err)
	}
	if *asJSON {
		printJSON(stdout, res)
	} else {
		for _, h := range res.Holders {
			if len(h.Addrs) > 0 {
				fmt.Fprintln(stdout, h.Addrs[0])
			} else {
				fmt.Fprintf(stdout, "/p2p/%s\n", h.PeerID)
			}
		}
	}
	if len(res.Holders) == 0 {
		if !*asJSON {
			fmt.Fprintln(stderr, "no holders found")
		}
		return 1
	}
	return 0
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status --api HOST:PORT [--json]",
		`Shows the node's role, peer ID, addresses, attached supernodes (leaf) or
leaves and load (supernode), and its election state when it runs one.

`+exitCodesHelp, stderr)
	api := fs.String("api", defaultAPI, "the node's API address")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := parseFlags(fs, args, 0); done {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := apiClient(*api).Status(ctx)
	if err != nil {
		return clientFailed(stderr, "status", err)
	}
	if *asJSON {
		printJSON(stdout, s)
		return 0
	}
	node.WriteStatusText(stdout, s)
	return 0
}

// clientFailed prints why the API call of command cmd failed and returns
// the exit status for it (see clientExit).
func clientFailed(stderr io.Writer, cmd string, err error) int {
	code, msg := clientExit(err)
	fmt.Fprintf(stderr, "supertracker %s: %s\n", cmd, msg)
	return code
}

// printJSON writes v as indented JSON, the --json output of every command.
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
