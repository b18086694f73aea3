package layered

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// invalidValue matches the flag package's error for a value its parser
// refused.
var invalidValue = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-([^:]+): `)

// undefined matches its error for an unknown flag.
var undefined = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)

// Parse parses the command line (call Load next). It prints the usage only
// for -h/--help (and returns flag.ErrHelp); a bad value is one error that
// names the flag and what it must be — a duration given as a bare number
// gets the same number in seconds as the example — and a positional
// argument is an error, since the flag package stops at the first one and
// would ignore every flag after it.
func (c *FlagSet) Parse(args []string) error { return ParseArgs(c.FlagSet, args, 0) }

// ParseArgs is Parse for any flag set that takes at most maxArgs
// positional arguments (-1: any number).
func ParseArgs(c *flag.FlagSet, args []string, maxArgs int) error {
	out := c.Output()
	var usage bytes.Buffer
	c.SetOutput(&usage)
	err := c.Parse(args)
	c.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, _ = out.Write(usage.Bytes())
		return err
	case err != nil:
		if m := invalidValue.FindStringSubmatch(err.Error()); m != nil {
			if f := c.Lookup(m[2]); f != nil {
				return fmt.Errorf("--%s %q %s", f.Name, m[1], expected(f.Value, m[1]))
			}
		}
		if m := undefined.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("unknown flag --%s", m[1])
		}
		return err
	case maxArgs >= 0 && c.NArg() > maxArgs:
		return fmt.Errorf("unexpected argument %q: every setting is a --flag, and none after it was read", c.Arg(maxArgs))
	}
	return nil
}

// ParseCommand answers a command line of a program or command with
// subcommands that names none (usage on stderr, exit 2), asks for help
// (usage on stdout, exit 0) or names an unknown one (unknown and the name
// on stderr, then the usage; exit 2); done is false when args[0] is one of
// subs.
func ParseCommand(args, subs []string, usage func(io.Writer), stdout, stderr io.Writer, unknown string) (code int, done bool) {
	switch {
	case len(args) == 0:
		usage(stderr)
		return 2, true
	case slices.Contains([]string{"help", "-h", "-help", "--help"}, args[0]):
		usage(stdout)
		return 0, true
	case slices.Contains(subs, args[0]):
		return 0, false
	}
	fmt.Fprintf(stderr, "%s %q\n\n", unknown, args[0])
	usage(stderr)
	return 2, true
}

// expected says what a refused value must be instead.
func expected(v flag.Value, given string) string {
	if g, ok := v.(flag.Getter); ok {
		if _, isDur := g.Get().(time.Duration); isDur {
			if _, err := strconv.ParseFloat(given, 64); err == nil {
				return fmt.Sprintf("needs a unit: %q for seconds (or m, h)", given+"s")
			}
		}
	}
	return "is not " + typeName(v)
}
