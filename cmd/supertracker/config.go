package main

// Configuration: every flag of supernode, leaf and node is also a key of a
// TOML config file (--config PATH, or $SUPERTRACKER_CONFIG) and an
// environment variable SUPERTRACKER_<KEY>. The key is the flag's name with
// '-' written '_' (--record-ttl: record_ttl, SUPERTRACKER_RECORD_TTL).
// Precedence: flags > environment > file > defaults (the flags' defaults).
// Values from the file and the environment go through the flag's own parser,
// so every source accepts the same syntax; errors name the key and where the
// value came from.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	ma "github.com/multiformats/go-multiaddr"
)

// envPrefix prefixes every configuration environment variable.
const envPrefix = "SUPERTRACKER_"

// envConfig names the config file when --config is not given.
const envConfig = envPrefix + "CONFIG"

// errConfig is wrapped by every configuration error.
var errConfig = errors.New("config")

// cmdFlags is a command's flag set plus what the configuration layer needs
// to know about each flag: which ones are lists (TOML arrays), and how to
// check a value.
type cmdFlags struct {
	*flag.FlagSet
	name   string // the command: supernode, leaf, node
	config *string
	lists  map[string]bool
	checks map[string]func(v any) error
	// source: where each flag's value came from, for error messages.
	source map[string]string
}

// newCmdFlags makes the flag set of a command that reads configuration; it
// adds --config.
func newCmdFlags(name, usageLine, synopsis string, stderr io.Writer) *cmdFlags {
	c := &cmdFlags{
		FlagSet: newFlagSet(usageLine, synopsis+`

Every flag is also a config file key and an environment variable: --record-ttl
is record_ttl in the file and SUPERTRACKER_RECORD_TTL in the environment.
Flags win over the environment, which wins over the file. Write a commented
file with all defaults: supertracker config init --role `+name+` PATH

The data dir is the node's identity: a second process on the same --data
exits with status 5 naming the lock (DATA/lock), as does one whose --listen
address is in use. Exit status 2: bad flags or config, or another failure
to start.`, stderr),
		name:   name,
		lists:  map[string]bool{},
		checks: map[string]func(any) error{},
		source: map[string]string{},
	}
	c.config = c.String("config", "", "read settings from this TOML file (default $"+envConfig+"); flags and SUPERTRACKER_* variables override it")
	return c
}

// list marks flags whose value is a comma-separated list: in the file they
// may be TOML arrays of strings.
func (c *cmdFlags) list(names ...string) {
	for _, n := range names {
		c.lists[n] = true
	}
}

// check registers a check of a flag's final value (after every source was
// applied); the error says what is wrong with the value.
func (c *cmdFlags) check(name string, f func(v any) error) {
	if prev := c.checks[name]; prev != nil {
		c.checks[name] = func(v any) error {
			if err := prev(v); err != nil {
				return err
			}
			return f(v)
		}
		return
	}
	c.checks[name] = f
}

// keyOf is the config key (and env suffix) of a flag.
func keyOf(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// envOf is the environment variable of a flag.
func envOf(flagName string) string { return envPrefix + strings.ToUpper(keyOf(flagName)) }

// configurable reports whether a flag is a config key (--config is not).
func configurable(f *flag.Flag) bool { return f.Name != "config" }

// parse parses args, then fills every flag not given on the command line
// from the environment, then from the config file; then it checks every
// value. It returns (exit code, true) when the command must stop.
func (c *cmdFlags) parse(args []string, stderr io.Writer) (int, bool) {
	if code, done := parseFlags(c.FlagSet, args); done {
		return code, true
	}
	if err := c.load(os.LookupEnv); err != nil {
		fmt.Fprintf(stderr, "supertracker %s: %v\n", c.name, err)
		return 2, true
	}
	return 0, false
}

// load applies the environment and the config file to the flags not set on
// the command line, and runs the checks. lookupEnv is os.LookupEnv (tests
// pass their own).
func (c *cmdFlags) load(lookupEnv func(string) (string, bool)) error {
	explicit := map[string]bool{}
	c.Visit(func(f *flag.Flag) {
		explicit[f.Name] = true
		c.source[f.Name] = "--" + f.Name
	})
	path := *c.config
	if !explicit["config"] {
		if p, ok := lookupEnv(envConfig); ok && p != "" {
			path = p
		}
	}
	var file map[string]any
	if path != "" {
		var err error
		if file, err = c.readFile(path); err != nil {
			return err
		}
	}
	var errs []error
	c.VisitAll(func(f *flag.Flag) {
		if !configurable(f) || explicit[f.Name] {
			return
		}
		if v, ok := lookupEnv(envOf(f.Name)); ok {
			if err := c.set(f, v, fmt.Sprintf("%q", v)); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %v (from $%s)", errConfig, keyOf(f.Name), err, envOf(f.Name)))
			}
			c.source[f.Name] = "$" + envOf(f.Name)
			return
		}
		if v, ok := file[keyOf(f.Name)]; ok {
			s, shown, err := c.fromTOML(f, v)
			if err == nil {
				err = c.set(f, s, shown)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %v (in %s)", errConfig, keyOf(f.Name), err, path))
			}
			c.source[f.Name] = path
		}
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return c.runChecks()
}

// runChecks runs every registered check in flag order.
func (c *cmdFlags) runChecks() error {
	var errs []error
	c.VisitAll(func(f *flag.Flag) {
		chk := c.checks[f.Name]
		if chk == nil {
			return
		}
		g, ok := f.Value.(flag.Getter)
		if !ok {
			return
		}
		if err := chk(g.Get()); err != nil {
			src := c.source[f.Name]
			if src == "" {
				src = "default"
			}
			errs = append(errs, fmt.Errorf("%w: %s: %s %v (from %s)", errConfig, keyOf(f.Name), showValue(g.Get()), err, src))
		}
	})
	return errors.Join(errs...)
}

// readFile decodes a TOML file into top-level keys and rejects keys that
// are not flags of this command.
func (c *cmdFlags) readFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errConfig, err)
	}
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %s: line %d: %s", errConfig, path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%w: %s: %v", errConfig, path, err)
	}
	known := map[string]bool{}
	c.VisitAll(func(f *flag.Flag) {
		if configurable(f) {
			known[keyOf(f.Name)] = true
		}
	})
	var unknown []string
	for k := range m {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	var errs []error
	for _, k := range unknown {
		hint := ""
		if known[keyOf(k)] {
			hint = fmt.Sprintf(" (did you mean %s?)", keyOf(k))
		} else if _, isTable := m[k].(map[string]any); isTable {
			hint = " (sections are not used: every key is at the top level)"
		}
		errs = append(errs, fmt.Errorf("%w: %s: unknown key %q for `supertracker %s`%s", errConfig, path, k, c.name, hint))
	}
	return m, errors.Join(errs...)
}

// fromTOML turns a decoded TOML value into the flag's string syntax; shown
// is the value as the file wrote it, for error messages.
func (c *cmdFlags) fromTOML(f *flag.Flag, v any) (s, shown string, err error) {
	switch x := v.(type) {
	case string:
		return x, fmt.Sprintf("%q", x), nil
	case int64:
		s := strconv.FormatInt(x, 10)
		return s, s, nil
	case float64:
		s := strconv.FormatFloat(x, 'f', -1, 64)
		return s, s, nil
	case bool:
		s := strconv.FormatBool(x)
		return s, s, nil
	case []any:
		if !c.lists[f.Name] {
			return "", "", errors.New("an array is not allowed here: write a single value")
		}
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return "", "", fmt.Errorf("array element %v is not a string", e)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), fmt.Sprintf("%q", parts), nil
	case map[string]any:
		return "", "", errors.New("a table is not allowed here: write a single value")
	}
	return "", "", fmt.Errorf("%v (%T) is not a string, number or boolean", v, v)
}

// set parses s with the flag's own parser; the error says what type was
// expected.
func (c *cmdFlags) set(f *flag.Flag, s, shown string) error {
	if err := f.Value.Set(s); err != nil {
		return fmt.Errorf("%s is not %s", shown, typeName(f.Value))
	}
	return nil
}

// typeName says, with an article, what a flag's value must be.
func typeName(v flag.Value) string {
	g, ok := v.(flag.Getter)
	if !ok {
		return "valid"
	}
	switch g.Get().(type) {
	case time.Duration:
		return `a duration (e.g. "90s", "45m", "2h")`
	case int, int64:
		return "an integer"
	case uint, uint64:
		return "a non-negative integer"
	case float64:
		return "a number"
	case bool:
		return "true or false"
	}
	return "valid"
}

// showValue renders a typed flag value in an error message.
func showValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case time.Duration:
		return fmt.Sprintf("%q", x.String())
	}
	return fmt.Sprint(v)
}

// Checks shared by the commands. Each returns what is wrong with v.

func atLeast(n int) func(any) error {
	return func(v any) error {
		if v.(int) < n {
			return fmt.Errorf("must be ≥ %d", n)
		}
		return nil
	}
}

func positiveFloat(v any) error {
	if f := v.(float64); !(f > 0) || math.IsInf(f, 0) {
		return errors.New("must be a positive number")
	}
	return nil
}

func positiveDuration(v any) error {
	if v.(time.Duration) <= 0 {
		return errors.New("must be > 0")
	}
	return nil
}

func nonNegativeDuration(v any) error {
	if v.(time.Duration) < 0 {
		return errors.New("must be ≥ 0 (0: the default)")
	}
	return nil
}

func oneOf(choices ...string) func(any) error {
	return func(v any) error {
		for _, c := range choices {
			if v.(string) == c {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(choices, ", "))
	}
}

var logLevels = oneOf("debug", "info", "warn", "error")

// multiaddrList: comma-separated multiaddrs (at least one).
func multiaddrList(v any) error {
	parts := splitList(v.(string))
	if len(parts) == 0 {
		return errors.New("needs at least one multiaddr")
	}
	for _, p := range parts {
		if _, err := ma.NewMultiaddr(p); err != nil {
			msg := err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
			return fmt.Errorf("%s not a multiaddr (%s)", listElem(parts, p), msg)
		}
	}
	return nil
}

// listElem names the bad element of a list in an error message that
// follows the whole value: "is" for a single element.
func listElem(parts []string, p string) string {
	if len(parts) == 1 {
		return "is"
	}
	return fmt.Sprintf("has %q,", p)
}

// peerList: comma-separated multiaddrs ending in /p2p/PEERID (may be empty).
func peerList(v any) error {
	parts := splitList(v.(string))
	for _, p := range parts {
		if _, err := parsePeers("", p); err != nil {
			return fmt.Errorf("%s not a multiaddr ending in /p2p/PEERID", listElem(parts, p))
		}
	}
	return nil
}

// hostPort: HOST:PORT, or empty when optional.
func hostPort(optional bool) func(any) error {
	return func(v any) error {
		s := v.(string)
		if s == "" {
			if optional {
				return nil
			}
			return errors.New("is required: HOST:PORT")
		}
		if strings.HasPrefix(s, ":") {
			s = "127.0.0.1" + s
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return errors.New("is not HOST:PORT")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return errors.New("has a bad port")
		}
		_ = host
		return nil
	}
}

func ipAddr(v any) error {
	if s := v.(string); s != "" {
		if _, err := netip.ParseAddr(s); err != nil {
			return errors.New("is not an IP address")
		}
	}
	return nil
}

func byteRate(v any) error {
	_, err := parseRate("", v.(string))
	if err != nil {
		return errors.New(`is not a rate in bytes/s (e.g. 65536, 64k, 2M)`)
	}
	return nil
}

// runDaemon parses a long-running command's flags (config file and
// environment included) and runs it: exit 0 when it stops cleanly; when it
// fails, "supertracker NAME: error" and 5 if its data dir or listen address
// is in use, else 2; the parser's code for --help or a bad flag.
func runDaemon[O any](name string, args []string, stdout, stderr io.Writer,
	flags func(io.Writer) (*cmdFlags, O), run func(stdout, stderr io.Writer, o O) error) int {
	fs, o := flags(stderr)
	if code, done := fs.parse(args, stderr); done {
		return code
	}
	if err := run(stdout, stderr, o); err != nil {
		fmt.Fprintln(stderr, "supertracker "+name+":", err)
		return daemonExit(err)
	}
	return exitOK
}
