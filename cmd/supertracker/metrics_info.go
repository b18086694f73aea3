package main

import (
	"runtime/debug"
	"strings"
	"sync"
)

// buildVersion is the module version and VCS commit the binary was built
// from (runtime/debug.ReadBuildInfo): "(devel)" and the commit for a build
// in a work tree, "unknown" for what the build did not record. A commit
// built with uncommitted changes ends in "-dirty".
var buildVersion = sync.OnceValues(func() (version, commit string) {
	version, commit = "unknown", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, commit
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && commit != "unknown" {
		commit += "-dirty"
	}
	return version, commit
})

// isProtocolID tells a libp2p protocol ID ("/supertracker/leaf/1.0.0")
// from one of the node's own request kinds ("leaf/lookup") in the traffic
// map of the status.
func isProtocolID(kind string) bool { return strings.HasPrefix(kind, "/") }
