// Package layered layers a command's flag set with the environment and a
// TOML config file: every flag is also a key of the file (--config PATH, or
// $PREFIX_CONFIG) and an environment variable PREFIX_<KEY>. The key is the
// flag's name with '-' written '_' (--record-ttl: record_ttl,
// SUPERTRACKER_RECORD_TTL). Precedence: flags > environment > file >
// defaults (the flags' defaults). Values from the file and the environment
// go through the flag's own parser, so every source accepts the same
// syntax; errors name the key and where the value came from. Render writes
// a flag set back as a commented TOML file.
package layered

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("config")

// FlagSet is a command's flag set plus what the configuration layer needs
// to know about each flag: which ones are lists (TOML arrays), and how to
// check a value.
type FlagSet struct {
	*flag.FlagSet
	Program   string // "supertracker"
	Name      string // the command: supernode, leaf, node
	EnvPrefix string // "SUPERTRACKER_"
	config    *string
	lists     map[string]bool
	checks    map[string]func(v any) error
	// source: where each flag's value came from, for error messages.
	source map[string]string
}

// New wraps fs, the flag set of the command program+" "+name, and adds
// --config.
func New(fs *flag.FlagSet, program, name, envPrefix string) *FlagSet {
	c := &FlagSet{FlagSet: fs, Program: program, Name: name, EnvPrefix: envPrefix,
		lists: map[string]bool{}, checks: map[string]func(any) error{}, source: map[string]string{}}
	c.config = c.String("config", "", "read settings from this TOML file (default $"+c.envConfig()+"); flags and "+envPrefix+"* variables override it")
	return c
}

// envConfig names the config file when --config is not given.
func (c *FlagSet) envConfig() string { return c.EnvPrefix + "CONFIG" }

// List marks flags whose value is a comma-separated list: in the file they
// may be TOML arrays of strings.
func (c *FlagSet) List(names ...string) {
	for _, n := range names {
		c.lists[n] = true
	}
}

// Check registers a check of a flag's final value (after every source was
// applied); the error says what is wrong with the value.
func (c *FlagSet) Check(name string, f func(v any) error) {
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

// KeyOf is the config key (and env suffix) of a flag.
func KeyOf(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// EnvOf is the environment variable of a flag.
func (c *FlagSet) EnvOf(flagName string) string {
	return c.EnvPrefix + strings.ToUpper(KeyOf(flagName))
}

// Configurable reports whether a flag is a config key (--config is not).
func Configurable(f *flag.Flag) bool { return f.Name != "config" }

// Load applies the environment and the config file to the flags not set on
// the command line (call it after Parse), and runs the checks. lookupEnv is
// os.LookupEnv (tests pass their own).
func (c *FlagSet) Load(lookupEnv func(string) (string, bool)) error {
	explicit := map[string]bool{}
	c.Visit(func(f *flag.Flag) {
		explicit[f.Name] = true
		c.source[f.Name] = "--" + f.Name
	})
	path := *c.config
	if !explicit["config"] {
		if p, ok := lookupEnv(c.envConfig()); ok && p != "" {
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
		if !Configurable(f) || explicit[f.Name] {
			return
		}
		if v, ok := lookupEnv(c.EnvOf(f.Name)); ok {
			if err := c.set(f, v, fmt.Sprintf("%q", v)); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %v (from $%s)", ErrConfig, KeyOf(f.Name), err, c.EnvOf(f.Name)))
			}
			c.source[f.Name] = "$" + c.EnvOf(f.Name)
			return
		}
		if v, ok := file[KeyOf(f.Name)]; ok {
			s, shown, err := c.fromTOML(f, v)
			if err == nil {
				err = c.set(f, s, shown)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %v (in %s)", ErrConfig, KeyOf(f.Name), err, path))
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
func (c *FlagSet) runChecks() error {
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
			errs = append(errs, fmt.Errorf("%w: %s: %s %v (from %s)", ErrConfig, KeyOf(f.Name), showValue(g.Get()), err, src))
		}
	})
	return errors.Join(errs...)
}

// readFile decodes a TOML file into top-level keys and rejects keys that
// are not flags of this command.
func (c *FlagSet) readFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: %s: line %d: %s", ErrConfig, path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	known := map[string]bool{}
	c.VisitAll(func(f *flag.Flag) {
		if Configurable(f) {
			known[KeyOf(f.Name)] = true
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
		if known[KeyOf(k)] {
			hint = fmt.Sprintf(" (did you mean %s?)", KeyOf(k))
		} else if _, isTable := m[k].(map[string]any); isTable {
			hint = " (sections are not used: every key is at the top level)"
		}
		errs = append(errs, fmt.Errorf("%w: %s: unknown key %q for `%s %s`%s", ErrConfig, path, k, c.Program, c.Name, hint))
	}
	return m, errors.Join(errs...)
}

// fromTOML turns a decoded TOML value into the flag's string syntax; shown
// is the value as the file wrote it, for error messages.
func (c *FlagSet) fromTOML(f *flag.Flag, v any) (s, shown string, err error) {
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
func (c *FlagSet) set(f *flag.Flag, s, shown string) error {
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

// Checks of a flag's value (FlagSet.Check). Each returns what is wrong with v.

func AtLeast(n int) func(any) error {
	return func(v any) error {
		if v.(int) < n {
			return fmt.Errorf("must be ≥ %d", n)
		}
		return nil
	}
}

func PositiveFloat(v any) error {
	if f := v.(float64); !(f > 0) || math.IsInf(f, 0) {
		return errors.New("must be a positive number")
	}
	return nil
}

func PositiveDuration(v any) error {
	if v.(time.Duration) <= 0 {
		return errors.New("must be > 0")
	}
	return nil
}

func NonNegativeDuration(v any) error {
	if v.(time.Duration) < 0 {
		return errors.New("must be ≥ 0 (0: the default)")
	}
	return nil
}

func OneOf(choices ...string) func(any) error {
	return func(v any) error {
		for _, c := range choices {
			if v.(string) == c {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(choices, ", "))
	}
}

// HostPort: HOST:PORT (a bare :PORT is 127.0.0.1:PORT), or empty when
// optional.
func HostPort(optional bool) func(any) error {
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
		_, port, err := net.SplitHostPort(s)
		if err != nil {
			return errors.New("is not HOST:PORT")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return errors.New("has a bad port")
		}
		return nil
	}
}

// IPAddr: an IP address, or empty.
func IPAddr(v any) error {
	if s := v.(string); s != "" {
		if _, err := netip.ParseAddr(s); err != nil {
			return errors.New("is not an IP address")
		}
	}
	return nil
}

// SplitList splits a comma-separated list, dropping empty elements.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Str, Int, Dur and Float define a flag and register its checks in one
// call.
func (c *FlagSet) Str(name, def, usage string, checks ...func(any) error) *string {
	p := c.String(name, def, usage)
	c.checkAll(name, checks)
	return p
}

func (c *FlagSet) Int(name string, def int, usage string, checks ...func(any) error) *int {
	p := c.FlagSet.Int(name, def, usage)
	c.checkAll(name, checks)
	return p
}

func (c *FlagSet) Dur(name string, def time.Duration, usage string, checks ...func(any) error) *time.Duration {
	p := c.Duration(name, def, usage)
	c.checkAll(name, checks)
	return p
}

func (c *FlagSet) Float(name string, def float64, usage string, checks ...func(any) error) *float64 {
	p := c.Float64(name, def, usage)
	c.checkAll(name, checks)
	return p
}

func (c *FlagSet) checkAll(name string, checks []func(any) error) {
	for _, f := range checks {
		c.Check(name, f)
	}
}
