package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// roleFlags builds the flag set of a command that reads configuration.
func roleFlags(role string) (*cmdFlags, error) {
	switch role {
	case "supernode":
		fs, _ := supernodeFlags(io.Discard)
		return fs, nil
	case "leaf":
		fs, _ := leafFlags(io.Discard)
		return fs, nil
	case "node":
		fs, _ := nodeFlags(io.Discard)
		return fs, nil
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
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "init", "check":
	default:
		fmt.Fprintf(stderr, "supertracker config: unknown subcommand %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("config "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs.Output()) }
	role := fs.String("role", "supernode", "the command the file is for: supernode, leaf or node")
	force := fs.Bool("force", false, "init: overwrite PATH if it exists")
	if code, done := parseFlags(fs, args[1:]); done {
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
		*cf.config = fs.Arg(0)
		cf.source["config"] = "--config"
		cf.Set("config", fs.Arg(0)) // mark as given: $SUPERTRACKER_CONFIG does not apply
		if err := cf.load(os.LookupEnv); err != nil {
			fmt.Fprintln(stderr, "supertracker config:", err)
			return 2
		}
		fmt.Fprintf(stdout, "# %s: valid for `supertracker %s`; settings in force (file, then environment):\n", fs.Arg(0), *role)
		_, _ = stdout.Write(renderConfig(cf, false))
		return 0
	}
	out := renderConfig(cf, true)
	if fs.NArg() == 0 {
		_, _ = stdout.Write(out)
		return 0
	}
	path := fs.Arg(0)
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		fmt.Fprintf(stderr, "supertracker config: %s exists (use --force to overwrite)\n", path)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "supertracker config:", err)
		return 2
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		fmt.Fprintln(stderr, "supertracker config:", err)
		return 2
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(stderr, "supertracker config:", err)
		return 2
	}
	fmt.Fprintf(stderr, "wrote %s (use it with: supertracker %s --config %s)\n", path, *role, path)
	return 0
}

// keyOrder puts the keys an operator sets first; the rest follow by name.
var keyOrder = []string{"listen", "data", "api", "supernode", "bootstrap"}

func orderedFlags(c *cmdFlags) []*flag.Flag {
	var fl []*flag.Flag
	c.VisitAll(func(f *flag.Flag) {
		if configurable(f) {
			fl = append(fl, f)
		}
	})
	rank := func(name string) int {
		for i, k := range keyOrder {
			if k == name {
				return i
			}
		}
		return len(keyOrder)
	}
	sort.SliceStable(fl, func(i, j int) bool { return rank(fl[i].Name) < rank(fl[j].Name) })
	return fl
}

// renderConfig writes c's current values as a TOML file; with comments,
// every key gets its flag's help, flag and environment variable.
func renderConfig(c *cmdFlags, comments bool) []byte {
	var b bytes.Buffer
	if comments {
		fmt.Fprintf(&b, `# supertracker %s configuration (TOML).
#
# Use it with: supertracker %s --config PATH   (or SUPERTRACKER_CONFIG=PATH)
# Precedence: command-line flags > environment (SUPERTRACKER_<KEY>) > this
# file > built-in defaults. Every key below is set to its default.
# Durations are strings: "90s", "45m", "2h". Lists are arrays of strings.
`, c.name, c.name)
	}
	for _, f := range orderedFlags(c) {
		if comments {
			b.WriteString("\n")
			for _, line := range wrap(f.Usage, 74) {
				fmt.Fprintf(&b, "# %s\n", line)
			}
			fmt.Fprintf(&b, "# (flag --%s, environment %s)\n", f.Name, envOf(f.Name))
		}
		fmt.Fprintf(&b, "%s = %s\n", keyOf(f.Name), tomlValue(c, f))
	}
	return b.Bytes()
}

func tomlValue(c *cmdFlags, f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return tomlString(f.Value.String())
	}
	switch x := g.Get().(type) {
	case string:
		if c.lists[f.Name] {
			parts := splitList(x)
			quoted := make([]string, len(parts))
			for i, p := range parts {
				quoted[i] = tomlString(p)
			}
			return "[" + strings.Join(quoted, ", ") + "]"
		}
		return tomlString(x)
	case time.Duration:
		return tomlString(x.String())
	case int:
		return strconv.Itoa(x)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'f', -1, 64)
		if !strings.ContainsAny(s, ".eEnN") {
			s += ".0"
		}
		return s
	case bool:
		return strconv.FormatBool(x)
	}
	return tomlString(f.Value.String())
}

// tomlString quotes s as a TOML basic string (JSON's escapes are TOML's).
func tomlString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimRight(b.String(), "\n")
}

// wrap splits s into lines of at most width runes at spaces.
func wrap(s string, width int) []string {
	var lines []string
	var cur []string
	n := 0
	for _, w := range strings.Fields(s) {
		l := len([]rune(w))
		if n > 0 && n+1+l > width {
			lines = append(lines, strings.Join(cur, " "))
			cur, n = nil, 0
		}
		if n > 0 {
			n++
		}
		cur = append(cur, w)
		n += l
	}
	if len(cur) > 0 {
		lines = append(lines, strings.Join(cur, " "))
	}
	return lines
}
