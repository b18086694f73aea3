package main

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/supertracker/supertracker/election/node"
	"github.com/supertracker/supertracker/supernode"
)

// daemonConfig parses args for role as the command does and returns the
// node.Config it would run.
func daemonConfig(t *testing.T, role node.Role, args ...string) node.Config {
	t.Helper()
	fs, o := daemonFlags(role, io.Discard)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := fs.Load(noEnv); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config(io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// `node --min-upload 1M` starts: the upload at which the score saturates
// (derived from MinUpload) follows the flag, so the config validates.
func TestNodeMinUploadMovesTheDerivedScoreUpload(t *testing.T) {
	for _, preset := range []string{"default", "local"} {
		cfg := daemonConfig(t, node.RoleElected, "--data", t.TempDir(), "--preset", preset, "--min-upload", "1M")
		ec := cfg.Election.Election
		if ec.MinUpload != 1<<20 || ec.ScoreUpload <= ec.MinUpload {
			t.Fatalf("%s: MinUpload %d, ScoreUpload %d", preset, ec.MinUpload, ec.ScoreUpload)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", preset, err)
		}
	}
}

// supernode --local is --preset local: the same timings.
func TestSupernodeLocalIsPresetLocal(t *testing.T) {
	dir := t.TempDir()
	a := daemonConfig(t, node.RoleSupernode, "--data", dir, "--local").Supernode
	b := daemonConfig(t, node.RoleSupernode, "--data", dir, "--preset", "local").Supernode
	d := daemonConfig(t, node.RoleSupernode, "--data", dir).Supernode
	local := supernode.LocalConfig()
	for name, c := range map[string]supernode.Config{"--local": a, "--preset local": b} {
		if c.HeartbeatInterval != local.HeartbeatInterval || c.SessionTimeout != local.SessionTimeout || c.GossipInterval != local.GossipInterval {
			t.Errorf("%s: heartbeat %s, session %s, gossip %s; want the local preset's", name, c.HeartbeatInterval, c.SessionTimeout, c.GossipInterval)
		}
	}
	if d.SessionTimeout != supernode.DefaultConfig().SessionTimeout || d.SessionTimeout == local.SessionTimeout {
		t.Errorf("default preset: session timeout %s", d.SessionTimeout)
	}
}

// A bad flag value is one line naming the flag and what it must be (a
// duration without unit: the same number in seconds), then a pointer to
// --help; never the whole usage. A stray argument is refused the same way.
func TestBadFlagIsOneLineNotTheUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"supernode", "--record-ttl", "10"}, `--record-ttl "10" needs a unit: "10s"`},
		{[]string{"node", "--min-dwell", "1.5"}, `--min-dwell "1.5" needs a unit: "1.5s"`},
		{[]string{"leaf", "--backups", "two"}, `--backups "two" is not an integer`},
		{[]string{"supernode", "--replicas", "3"}, `unknown flag --replicas`},
		{[]string{"supernode", "--data", "d", "extra", "--api", "127.0.0.1:1"}, `unexpected argument "extra"`},
		{[]string{"status", "--api", "127.0.0.1:1", "extra"}, `unexpected argument "extra"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if code != exitUsage || len(lines) != 2 || !strings.Contains(lines[0], tc.want) || !strings.Contains(lines[1], "--help") {
			t.Errorf("%v: exit %d, stderr %q; want 2 lines, the first with %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// `supertracker version` prints the version and the commit.
func TestVersionNamesVersionAndCommit(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"version"}, &stdout, io.Discard); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if !regexp.MustCompile(`^supertracker \S+ \(commit \S+, go[0-9.]+\S*\)\n$`).MatchString(stdout.String()) {
		t.Fatalf("version printed %q", stdout.String())
	}
	if v, c := node.Version(); !strings.Contains(stdout.String(), v) || !strings.Contains(stdout.String(), c) {
		t.Fatalf("version printed %q, want %s and %s", stdout.String(), v, c)
	}
}
