package layered

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// orderedFlags: the configurable flags, first those named in first.
func orderedFlags(c *FlagSet, first []string) []*flag.Flag {
	var fl []*flag.Flag
	c.VisitAll(func(f *flag.Flag) {
		if Configurable(f) {
			fl = append(fl, f)
		}
	})
	rank := func(name string) int {
		for i, k := range first {
			if k == name {
				return i
			}
		}
		return len(first)
	}
	sort.SliceStable(fl, func(i, j int) bool { return rank(fl[i].Name) < rank(fl[j].Name) })
	return fl
}

// Render writes c's current values as a TOML file, the keys named in first
// first; with comments, every key gets its flag's help, flag and
// environment variable.
func (c *FlagSet) Render(comments bool, first ...string) []byte {
	var b bytes.Buffer
	if comments {
		fmt.Fprintf(&b, `# %[1]s %[2]s configuration (TOML).
#
# Use it with: %[1]s %[2]s --config PATH   (or %[3]s=PATH)
# Precedence: command-line flags > environment (%[4]s<KEY>) > this
# file > built-in defaults. Every key below is set to its default.
# Durations are strings: "90s", "45m", "2h". Lists are arrays of strings.
`, c.Program, c.Name, c.envConfig(), c.EnvPrefix)
	}
	for _, f := range orderedFlags(c, first) {
		if comments {
			b.WriteString("\n")
			for _, line := range wrap(f.Usage, 74) {
				fmt.Fprintf(&b, "# %s\n", line)
			}
			fmt.Fprintf(&b, "# (flag --%s, environment %s)\n", f.Name, c.EnvOf(f.Name))
		}
		fmt.Fprintf(&b, "%s = %s\n", KeyOf(f.Name), tomlValue(c, f))
	}
	return b.Bytes()
}

func tomlValue(c *FlagSet, f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return tomlString(f.Value.String())
	}
	switch x := g.Get().(type) {
	case string:
		if c.lists[f.Name] {
			parts := SplitList(x)
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

// WriteFile writes a rendered file to path: a new file, or with overwrite
// an existing one (else an error wrapping fs.ErrExist).
func WriteFile(path string, data []byte, overwrite bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if overwrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}
