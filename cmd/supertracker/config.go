package main

// Configuration: every flag of supernode, leaf and node is also a key of a
// TOML config file and an environment variable (cmd/internal/layered).

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/cmd/internal/layered"
)

// cmdFlags is a daemon command's flag set, layered with the environment
// (SUPERTRACKER_<KEY>) and a config file (--config).
type cmdFlags = layered.FlagSet

// newCmdFlags makes the flag set of a command that reads configuration.
func newCmdFlags(name, usageLine, synopsis string, stderr io.Writer) *cmdFlags {
	return layered.New(newFlagSet(usageLine, synopsis+`

Every flag is also a config file key and an environment variable: --record-ttl
is record_ttl in the file and SUPERTRACKER_RECORD_TTL in the environment.
Flags win over the environment, which wins over the file. Write a commented
file with all defaults: supertracker config init --role `+name+` PATH

The data dir is the node's identity: a second process on the same --data
exits with status 5 naming the lock (DATA/lock), as does one whose --listen
address is in use. Exit status 2: bad flags or config, or another failure
to start.`, stderr), "supertracker", name, "SUPERTRACKER_")
}

// parseCmd parses args, then the environment and the config file; it
// returns (exit code, true) when the command must stop.
func parseCmd(c *cmdFlags, args []string, stderr io.Writer) (int, bool) {
	if code, done := parseFlags(c.FlagSet, args, 0); done {
		return code, true
	}
	if err := c.Load(os.LookupEnv); err != nil {
		fmt.Fprintf(stderr, "supertracker %s: %v\n", c.Name, err)
		return 2, true
	}
	return 0, false
}

var logLevels = layered.OneOf("debug", "info", "warn", "error")

// multiaddrs parses comma-separated multiaddrs.
func multiaddrs(s string) ([]ma.Multiaddr, error) {
	parts := layered.SplitList(s)
	out := make([]ma.Multiaddr, 0, len(parts))
	for _, p := range parts {
		a, err := ma.NewMultiaddr(p)
		if err != nil {
			msg := err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
			return nil, fmt.Errorf("%s not a multiaddr (%s)", listElem(parts, p), msg)
		}
		out = append(out, a)
	}
	return out, nil
}

// peers parses comma-separated multiaddrs ending in /p2p/PEERID (the
// addresses of one peer make one AddrInfo).
func peers(s string) ([]peer.AddrInfo, error) {
	parts := layered.SplitList(s)
	var addrs []ma.Multiaddr
	for _, p := range parts {
		a, err := ma.NewMultiaddr(p)
		if err == nil {
			_, err = peer.AddrInfoFromP2pAddr(a)
		}
		if err != nil {
			return nil, fmt.Errorf("%s not a multiaddr ending in /p2p/PEERID", listElem(parts, p))
		}
		addrs = append(addrs, a)
	}
	return peer.AddrInfosFromP2pAddrs(addrs...)
}

// listElem names the bad element of a list in an error message that
// follows the whole value: "is" for a single element.
func listElem(parts []string, p string) string {
	if len(parts) == 1 {
		return "is"
	}
	return fmt.Sprintf("has %q,", p)
}

// Checks of the daemons' values (layered.FlagSet.Check).

func multiaddrList(v any) error {
	if a, err := multiaddrs(v.(string)); err != nil || len(a) > 0 {
		return err
	}
	return errors.New("needs at least one multiaddr")
}

func peerList(v any) error { _, err := peers(v.(string)); return err }

func byteRate(v any) error {
	_, err := parseRate("", v.(string))
	if err != nil {
		return errors.New(`is not a rate in bytes/s (e.g. 65536, 64k, 2M)`)
	}
	return nil
}
