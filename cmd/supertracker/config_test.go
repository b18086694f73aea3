package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/cmd/internal/layered"
)

var configRoles = []string{"supernode", "leaf", "node"}

// envOf is the environment variable of a flag.
func envOf(name string) string { return "SUPERTRACKER_" + strings.ToUpper(layered.KeyOf(name)) }

func noEnv(string) (string, bool) { return "", false }

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// values returns every configurable flag's value as text.
func values(c *cmdFlags) map[string]string {
	out := map[string]string{}
	c.VisitAll(func(f *flag.Flag) {
		if layered.Configurable(f) {
			out[f.Name] = f.Value.String()
		}
	})
	return out
}

// loadFile parses a config file for role with no flags and no environment.
func loadFile(t *testing.T, role, path string, env func(string) (string, bool), args ...string) (*cmdFlags, error) {
	t.Helper()
	c, err := roleFlags(role)
	if err != nil {
		t.Fatal(err)
	}
	if path != "" {
		args = append([]string{"--config", path}, args...)
	}
	if err := c.Parse(args); err != nil {
		t.Fatal(err)
	}
	return c, c.Load(env)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "supertracker.toml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Acceptance 4: `config init` output parses back to the same values (the
// defaults), for every role, and every key carries a comment.
func TestConfigInitRoundTrip(t *testing.T) {
	for _, role := range configRoles {
		t.Run(role, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, role+".toml")
			var stdout, stderr bytes.Buffer
			if code := run([]string{"config", "init", "--role", role, path}, &stdout, &stderr); code != 0 {
				t.Fatalf("config init: exit %d: %s", code, stderr.String())
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// Every key is present, set, and preceded by a comment naming
			// its flag and variable.
			defaults, _ := roleFlags(role)
			defaults.VisitAll(func(f *flag.Flag) {
				if !layered.Configurable(f) {
					return
				}
				key := layered.KeyOf(f.Name)
				i := strings.Index(string(text), "\n"+key+" = ")
				if i < 0 {
					t.Errorf("key %s missing", key)
					return
				}
				before := string(text[:i])
				if !strings.HasSuffix(before, fmt.Sprintf("# (flag --%s, environment %s)", f.Name, envOf(f.Name))) {
					t.Errorf("key %s has no comment naming its flag and variable", key)
				}
			})
			got, err := loadFile(t, role, path, noEnv)
			if err != nil {
				t.Fatalf("parsing config init's output: %v\n%s", err, text)
			}
			want := values(defaults)
			for k, v := range values(got) {
				if want[k] != v {
					t.Errorf("%s: file gives %q, default %q", layered.KeyOf(k), v, want[k])
				}
			}
			// Writing over an existing file needs --force.
			if code := run([]string{"config", "init", "--role", role, path}, io.Discard, io.Discard); code != 1 {
				t.Errorf("config init over an existing file: exit %d, want 1", code)
			}
		})
	}
}

// Non-default values survive render → parse too (what `config check`
// prints is a valid file).
func TestConfigRoundTripNonDefault(t *testing.T) {
	for _, role := range configRoles {
		t.Run(role, func(t *testing.T) {
			c, _ := roleFlags(role)
			c.VisitAll(func(f *flag.Flag) {
				if !layered.Configurable(f) {
					return
				}
				var v string
				switch x := f.Value.(flag.Getter).Get().(type) {
				case string:
					switch {
					case f.Name == "listen":
						v = "/ip4/127.0.0.9/tcp/4001,/ip4/127.0.0.9/udp/4001/quic-v1"
					case f.Name == "supernode" || f.Name == "bootstrap":
						v = "/ip4/127.0.0.2/tcp/4001/p2p/12D3KooWBAgVRDKzuQA8LBouuoCZZ6qd41J2BnqVt2GAPJzzS8BR"
					case f.Name == "log-level":
						v = "debug"
					case f.Name == "preset":
						v = "local"
					case f.Name == "role":
						v = "supernode"
					case f.Name == "relay":
						v = "always"
					case f.Name == "bandwidth-limit" || f.Name == "min-upload":
						v = "64k"
					case f.Name == "bt-external-ip":
						v = "127.0.0.7"
					case strings.Contains(f.Name, "listen") || f.Name == "api":
						v = "127.0.0.9:6001"
					default:
						v = `dir with "quotes" \ and ü`
					}
				case time.Duration:
					v = (x + 90*time.Second).String()
				case int:
					v = fmt.Sprint(x + 3)
				case uint64:
					v = fmt.Sprint(x + 42)
				case float64:
					v = fmt.Sprint(x + 0.5)
				case bool:
					v = fmt.Sprint(!x)
				}
				if err := c.Set(f.Name, v); err != nil {
					t.Fatalf("setting %s=%q: %v", f.Name, v, err)
				}
			})
			path := writeFile(t, string(c.Render(true, configFirst...)))
			got, err := loadFile(t, role, path, noEnv)
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}
			want := values(c)
			for k, v := range values(got) {
				if want[k] != v {
					t.Errorf("%s: round trip gives %q, want %q", layered.KeyOf(k), v, want[k])
				}
			}
		})
	}
}

// Precedence: flags > environment > file > defaults.
func TestConfigPrecedence(t *testing.T) {
	path := writeFile(t, `
record_ttl = "10m"
max_leaves = 7
rate = 12.5
bootstrap = ["/ip4/127.0.0.2/tcp/4001/p2p/12D3KooWBAgVRDKzuQA8LBouuoCZZ6qd41J2BnqVt2GAPJzzS8BR"]
local = true
`)
	env := envMap(map[string]string{"SUPERTRACKER_MAX_LEAVES": "9", "SUPERTRACKER_RATE": "20"})
	c, err := loadFile(t, "supernode", path, env, "--rate", "30")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"record-ttl":  "10m0s", // file
		"max-leaves":  "9",     // env over file
		"rate":        "30",    // flag over env and file
		"replication": "8",     // default
		"local":       "true",  // file
		"bootstrap":   "/ip4/127.0.0.2/tcp/4001/p2p/12D3KooWBAgVRDKzuQA8LBouuoCZZ6qd41J2BnqVt2GAPJzzS8BR",
	} {
		if got := c.Lookup(name).Value.String(); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// $SUPERTRACKER_CONFIG names the file when --config is absent.
	c2, err := loadFile(t, "supernode", "", envMap(map[string]string{"SUPERTRACKER_CONFIG": path}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.Lookup("max-leaves").Value.String(); got != "7" {
		t.Errorf("max-leaves from $SUPERTRACKER_CONFIG's file = %s, want 7", got)
	}
}

// Acceptance 4: bad values and unknown keys give a clear error naming the
// key.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, role, file string
		env              map[string]string
		want             []string
	}{
		{"bad duration", "supernode", `record_ttl = "abc"`, nil,
			[]string{`config: record_ttl: "abc" is not a duration`}},
		{"duration as a number", "supernode", `record_ttl = 45`, nil,
			[]string{`config: record_ttl: 45 is not a duration`}},
		{"bad integer", "supernode", `replication = "eight"`, nil,
			[]string{`config: replication: "eight" is not an integer`}},
		{"bad bool", "supernode", `local = "yes"`, nil,
			[]string{`config: local: "yes" is not true or false`}},
		{"out of range", "supernode", `replication = 0`, nil,
			[]string{`config: replication: 0 must be ≥ 1`}},
		{"unknown key", "supernode", "record_ttl = \"1m\"\nreplicas = 3", nil,
			[]string{`config: `, `unknown key "replicas" for ` + "`supertracker supernode`"}},
		{"dash key", "leaf", `log-level = "debug"`, nil,
			[]string{`unknown key "log-level"`, "did you mean log_level?"}},
		{"key of another role", "leaf", `replication = 3`, nil,
			[]string{`unknown key "replication" for ` + "`supertracker leaf`"}},
		{"array where a value goes", "leaf", `api = ["a", "b"]`, nil,
			[]string{`config: api: an array is not allowed here`}},
		{"bad multiaddr", "node", `listen = ["/ip4/127.0.0.1/tcpx/1"]`, nil,
			[]string{`config: listen: "/ip4/127.0.0.1/tcpx/1" is not a multiaddr`}},
		{"bad enum", "node", `preset = "fast"`, nil,
			[]string{`config: preset: "fast" must be one of default, local`}},
		{"bad rate", "node", `bandwidth-limit = "1x"`, nil, []string{`did you mean bandwidth_limit?`}},
		{"syntax", "leaf", "api = \"127.0.0.1:5001\"\nbackups = = 2", nil, []string{`config: `, `line 2`}},
		{"bad env", "supernode", ``, map[string]string{"SUPERTRACKER_RECORD_TTL": "soon"},
			[]string{`config: record_ttl: "soon" is not a duration`, `$SUPERTRACKER_RECORD_TTL`}},
		{"bad env range", "leaf", ``, map[string]string{"SUPERTRACKER_BACKUPS": "-1"},
			[]string{`config: backups: -1 must be ≥ 0`, `$SUPERTRACKER_BACKUPS`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.file)
			_, err := loadFile(t, tc.role, path, envMap(tc.env))
			if err == nil {
				t.Fatalf("no error for %s", tc.file)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// The binary's own path: a bad value in the file stops `supertracker
// supernode` with exit 2 and the key in the message, before anything
// starts.
func TestConfigErrorFromCommand(t *testing.T) {
	path := writeFile(t, `record_ttl = "abc"`)
	var stderr bytes.Buffer
	code := run([]string{"supernode", "--config", path, "--data", t.TempDir()}, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), `config: record_ttl: "abc" is not a duration`) {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	// config check prints the settings in force.
	good := writeFile(t, "max_leaves = 33\n")
	var out bytes.Buffer
	if code := run([]string{"config", "check", "--role", "supernode", good}, &out, &stderr); code != 0 {
		t.Fatalf("config check: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(out.String(), "max_leaves = 33") {
		t.Fatalf("config check printed %s", out.String())
	}
}
