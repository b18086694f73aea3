package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/launcher"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the supertracker binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: builds and runs the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "supertracker-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "supertracker")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building the binary: %v\n%s", buildErr, binPath)
	}
	return binPath
}

func cli(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// Acceptance 6: 3 supernode and 2 leaf processes on 127.0.0.x: `announce`
// on one leaf, `lookup` on the other prints the first leaf's /p2p/ address.
func TestEndToEndAnnounceLookup(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	ctx := t.Context()
	c := &launcher.Cluster{}
	defer c.StopAll(5 * time.Second)
	var boot []string
	var sns []string
	for i := 0; i < 3; i++ {
		p, err := launcher.StartSupernode(ctx, c, bin, dir, i, boot)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Addrs()[0], "/ip4/127.0.0.") || !strings.Contains(p.Addrs()[0], "/p2p/12D3") {
			t.Fatalf("supernode printed %q", p.Addrs())
		}
		if i == 0 {
			boot = p.Addrs()
		}
		sns = append(sns, p.Addrs()[0])
	}
	a, err := launcher.StartLeaf(ctx, c, bin, dir, 3, sns[:1])
	if err != nil {
		t.Fatal(err)
	}
	b, err := launcher.StartLeaf(ctx, c, bin, dir, 4, sns[2:])
	if err != nil {
		t.Fatal(err)
	}

	const obj = "bafkreidm3fa3tfiajovjbg2ec4t7lsnjw7tc42gi6g5q62rnxyczkyqz5q"
	out, errOut, code := cli(t, bin, "announce", "--api", a.API(), obj)
	if code != 0 {
		t.Fatalf("announce exit %d: %s %s", code, out, errOut)
	}
	out, errOut, code = cli(t, bin, "lookup", "--api", b.API(), obj)
	if code != 0 {
		t.Fatalf("lookup exit %d: %s %s", code, out, errOut)
	}
	if !strings.Contains(out, a.Addrs()[0]) {
		t.Fatalf("lookup printed %q, want leaf A's %s", out, a.Addrs()[0])
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, "/p2p/") {
			t.Fatalf("lookup line %q is not a /p2p/ multiaddr", line)
		}
	}

	// Not found: exit 1. Bad CID: exit 2.
	if _, _, code := cli(t, bin, "lookup", "--api", b.API(), "bafkreifducnhjm3oskj25qw7oqaf7ogz23ecbbip22fnjrjj5irl45ur7i"); code != 1 {
		t.Fatalf("lookup of an unannounced CID: exit %d, want 1", code)
	}
	if _, _, code := cli(t, bin, "lookup", "--api", b.API(), "not-a-cid"); code != 2 {
		t.Fatalf("lookup of a bad CID: exit %d, want 2", code)
	}

	// status --json of a leaf: role, peer id, addrs, supernodes (primary first).
	out, _, code = cli(t, bin, "status", "--api", a.API(), "--json")
	if code != 0 {
		t.Fatalf("status exit %d", code)
	}
	var st httpapi.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if st.Role != "leaf" || st.PeerID == "" || len(st.Addrs) == 0 || len(st.Supernodes) == 0 {
		t.Fatalf("leaf status: %+v", st)
	}
	if st.Supernodes[0] != sns[0] {
		t.Fatalf("primary %s, want the only configured supernode %s", st.Supernodes[0], sns[0])
	}
	out, _, _ = cli(t, bin, "status", "--api", sns0API(t, c), "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Role != "supernode" {
		t.Fatalf("supernode status: %v %s", err, out)
	}
}

func sns0API(t *testing.T, c *launcher.Cluster) string {
	t.Helper()
	return c.Procs()[0].API()
}
