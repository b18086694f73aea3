package node

import (
	"runtime/debug"
	"strings"
	"sync"
)

// version and commit are set at link time by `make build`:
//
//	-ldflags "-X github.com/supertracker/supertracker/election/node.version=v1.2.3
//	          -X github.com/supertracker/supertracker/election/node.commit=abc123"
//
// Empty, they come from the build info (runtime/debug.ReadBuildInfo).
var version, commit string

// Version returns the version and VCS commit the binary was built from: the
// link-time values if set, else the module version and vcs.revision the Go
// toolchain recorded ("(devel)" and "unknown" for what it did not record).
// A commit built with uncommitted changes ends in "-dirty".
func Version() (version, commit string) { return buildVersion() }

var buildVersion = sync.OnceValues(func() (string, string) {
	v, c := version, commit
	bi, ok := debug.ReadBuildInfo()
	if v == "" {
		v = "unknown"
		if ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	if c == "" {
		c = "unknown"
		dirty := false
		if ok {
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					c = s.Value
				case "vcs.modified":
					dirty = s.Value == "true"
				}
			}
		}
		if dirty && c != "unknown" {
			c += "-dirty"
		}
	}
	return v, c
})

// AgentVersion is the libp2p agent string (identify) of every node:
// "supertracker/VERSION".
func AgentVersion() string {
	v, _ := Version()
	return "supertracker/" + v
}

// isProtocolID tells a libp2p protocol ID ("/supertracker/leaf/1.0.0")
// from one of the node's own request kinds ("leaf/lookup") in the traffic
// map of the status.
func isProtocolID(kind string) bool { return strings.HasPrefix(kind, "/") }
