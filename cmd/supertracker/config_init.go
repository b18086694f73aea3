package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/supertracker/supertracker/cmd/internal/layered"
	"github.com/supertracker/supertracker/election/node"
)

// roleFlags builds the flag set of a command that reads configuration.
// configFirst: the keys an operator sets first in a config file.
var configFirst = []string{"listen", "data", "api", "supernode", "bootstrap"}

func roleFlags(role string) (*cmdFlags, error) {
	for _, r := range []node.Role{node.RoleSupernode, node.RoleLeaf, node.RoleElected} {
		if string(r) == role && r != node.RoleLeaf && !servingBuild {
			return nil, fmt.Errorf("--role %s: %w", role, node.ErrLeafOnly)
		}
		if string(r) == role {
			fs, _ := daemonFlags(r, io.Discard)
			return fs, nil
		}
	}
	return nil, fmt.Errorf("--role %q: want supernode, leaf or node", role)
}

func runConfig(args []string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprint(w, `Usage:
  supertracker config init [--role supernode|leaf|node] [--force] [PATH]
      write a config file with every key, its default and a comment
      (to PATH, or to standard output)
  supertracker config check [--role supernode|leaf|node] PATH
      check a config file (and SUPERTRACKER_* variables) as the role would
      read it; print the settings in force

Every flag of supernode, leaf and node is a key: --record-ttl is record_ttl
in the file and SUPERTRACKER_RECORD_TTL in the environment. Precedence:
flags > environment > file > defaults. Use a file with --config PATH (or
SUPERTRACKER_CONFIG=PATH).
`)
	}
	if code, done := layered.ParseCommand(args, []string{"init", "check"}, usage, stdout, stderr, "supertracker config: unknown subcommand"); done {
		return code
	}
	sub := args[0]
	fs := flag.NewFlagSet("config "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs.Output()) }
	defRole := "supernode"
	if !servingBuild {
		defRole = "leaf"
	}
	role := fs.String("role", defRole, "the command the file is for: supernode, leaf or node")
	force := fs.Bool("force", false, "init: overwrite PATH if it exists")
	if code, done := parseFlags(fs, args[1:], 1); done {
		return code
	}
	if fs.NArg() > 1 || (sub == "check" && fs.NArg() != 1) {
		usage(stderr)
		return 2
	}
	cf, err := roleFlags(*role)
	if err != nil {
		fmt.Fprintln(stderr, "supertracker config:", err)
		return 2
	}
	if sub == "check" {
		cf.Set("config", fs.Arg(0)) // given: $SUPERTRACKER_CONFIG does not apply
		if err := cf.Load(os.LookupEnv); err != nil {
			fmt.Fprintln(stderr, "supertracker config:", err)
			return 2
		}
		fmt.Fprintf(stdout, "# %s: valid for `supertracker %s`; settings in force (file, then environment):\n", fs.Arg(0), *role)
		_, _ = stdout.Write(cf.Render(false, configFirst...))
		return 0
	}
	out := cf.Render(true, configFirst...)
	if fs.NArg() == 0 {
		_, _ = stdout.Write(out)
		return 0
	}
	path := fs.Arg(0)
	if err := layered.WriteFile(path, out, *force); errors.Is(err, os.ErrExist) {
		fmt.Fprintf(stderr, "supertracker config: %s exists (use --force to overwrite)\n", path)
		return 1
	} else if err != nil {
		fmt.Fprintln(stderr, "supertracker config:", err)
		return 2
	}
	fmt.Fprintf(stderr, "wrote %s (use it with: supertracker %s --config %s)\n", path, *role, path)
	return 0
}
