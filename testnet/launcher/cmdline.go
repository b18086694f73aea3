package launcher

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/supertracker/supertracker/testnet/scenario"
)

// Mode is how the launcher starts node processes.
type Mode string

const (
	// ModeClassic: profiles with role hint "supernode" run `supertracker
	// supernode --local`, every other profile runs `supertracker leaf`
	// attached to the supernodes up at that moment. Nobody changes role.
	ModeClassic Mode = "classic"
	// ModeNode: every node runs `supertracker node --preset local`, which
	// elects its own role; the launcher observes role changes by polling.
	ModeNode Mode = "node"
)

// Capabilities says what the binary under test supports.
type Capabilities struct {
	Mode Mode
	// NodeFlags are the flags `supertracker node --help` lists (ModeNode).
	NodeFlags map[string]bool
}

var helpFlagRE = regexp.MustCompile(`(?m)^\s+--?([a-z][a-z0-9-]*)\b`)

// Detect runs `BINARY node --help`: if it exits 0 the binary has the
// self-electing node command and Detect returns ModeNode with the flags the
// help lists; otherwise ModeClassic.
func Detect(ctx context.Context, binary string) Capabilities {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, "node", "--help")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return Capabilities{Mode: ModeClassic}
	}
	flags := map[string]bool{}
	for _, m := range helpFlagRE.FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = true
	}
	return Capabilities{Mode: ModeNode, NodeFlags: flags}
}

// nodeArgs is the one place that turns a node's profile and the overlay's
// current state into a command line. supernodes are the full /p2p/
// multiaddrs of the supernodes up now (excluding the node itself). It
// returns the arguments and the role the process starts in.
//
// ModeClassic: role hint "supernode" → `supernode --local [--bootstrap …]`;
// anything else → `leaf --supernode …`. The scenario's election thresholds
// do not apply (nothing is elected), and --max-leaves is left at the
// supernode's default: with no election to add supernodes, a low cap would
// only refuse leaves.
//
// ModeNode: `node --preset local` with the scenario's election thresholds
// and the profile's bandwidth cap; `--role supernode` for role hint
// "supernode", `--role auto` otherwise. Flags the binary's `node --help`
// does not list are left out (and reported by the caller once).
func nodeArgs(caps Capabilities, sc *scenario.Scenario, spec scenario.NodeSpec, listen, dataDir, api, logLevel string, supernodes []string) (args []string, role string, dropped []string) {
	common := []string{"--listen", listen, "--data", dataDir, "--api", api, "--log-level", logLevel}
	sns := strings.Join(supernodes, ",")
	if caps.Mode != ModeNode {
		if spec.Role == scenario.RoleSupernode {
			args = append([]string{"supernode"}, common...)
			args = append(args, "--local")
			if sns != "" {
				args = append(args, "--bootstrap", sns)
			}
			return args, RoleSupernode, nil
		}
		args = append([]string{"leaf"}, common...)
		args = append(args, "--supernode", sns)
		return args, RoleLeaf, nil
	}
	role = RoleLeaf
	roleFlag := scenario.RoleAuto
	if spec.Role == scenario.RoleSupernode {
		role, roleFlag = RoleSupernode, scenario.RoleSupernode
	}
	args = append([]string{"node"}, common...)
	add := func(flag, value string) {
		if value == "" {
			return
		}
		if caps.NodeFlags != nil && !caps.NodeFlags[flag] {
			dropped = append(dropped, "--"+flag)
			return
		}
		args = append(args, "--"+flag, value)
	}
	add("preset", "local")
	add("role", roleFlag)
	add("bootstrap", sns)
	if caps.NodeFlags["supernode"] { // the leaf's flag, if node kept it
		add("supernode", sns)
	}
	add("bandwidth-limit", strconv.FormatInt(spec.UploadBps, 10))
	add("min-uptime", sc.Election.MinUptime)
	add("min-upload", sc.Election.MinUpload)
	add("max-leaves", sc.Election.MaxLeaves)
	return args, role, dropped
}

// Roles as the events log names them.
const (
	RoleLeaf      = "leaf"
	RoleSupernode = "supernode"
)

func describeMode(c Capabilities) string {
	if c.Mode == ModeNode {
		return "node: every peer runs `supertracker node` and elects its role"
	}
	return "classic: `supernode` for supernode-hinted profiles, `leaf` for the others"
}
