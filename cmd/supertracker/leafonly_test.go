package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLeafOnlyBuild: the desktop agent's build (-tags leafonly,
// bin/supertracker-leaf) links no DHT, datastore, supernode or election
// code and no text/template (whose run-time method lookup keeps every
// exported method in the binary), runs the client commands, and refuses
// the roles that serve, naming the binary that runs them. Its leaf runs
// end to end in testnet/bench's TestSmoke (P4's leaf process).
func TestLeafOnlyBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the leaf-only binary")
	}
	out, err := exec.Command("go", "list", "-deps", "-tags", "leafonly", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps -tags leafonly: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, pkg := range []string{"github.com/libp2p/go-libp2p-kad-dht", "github.com/ipfs/go-ds-leveldb",
		"github.com/supertracker/supertracker/supernode", "github.com/supertracker/supertracker/election/runner", "text/template"} {
		if slices.Contains(deps, pkg) {
			t.Errorf("the leaf-only build links %s", pkg)
		}
	}
	bin := filepath.Join(t.TempDir(), "supertracker-leaf")
	if out, err := exec.Command("go", "build", "-tags", "leafonly", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags leafonly: %v\n%s", err, out)
	}
	for _, role := range []string{"supernode", "node"} {
		_, stderr, code := cli(t, bin, role, "--data", t.TempDir())
		if code != 2 || !strings.Contains(stderr, "runs leaves only") {
			t.Errorf("supertracker-leaf %s: exit %d, stderr %q; want 2 and a message naming the leaf-only build", role, code, stderr)
		}
	}
	if _, stderr, code := cli(t, bin, "leaf", "--help"); code != 0 || !strings.Contains(stderr, "-supernode") {
		t.Errorf("supertracker-leaf leaf --help: exit %d, no --supernode in %q", code, stderr)
	}
	if stdout, _, code := cli(t, bin, "version"); code != 0 || !strings.HasPrefix(stdout, "supertracker ") {
		t.Errorf("supertracker-leaf version: exit %d, %q", code, stdout)
	}
}
