package node

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/supertracker/supertracker/protocol/httpapi"
)

// An API bound beyond loopback gets a token: the one given, or one
// generated once into DATA/api.token (0600) and reused; on loopback none
// is required.
func TestAPIGuardToken(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	guard := func(token, hostport, dir string) (httpapi.GuardConfig, error) {
		return GuardFor(hostport, dir, token, []string{"tracker.example.org"}, log)
	}
	dir := t.TempDir()
	for _, hp := range []string{"127.0.0.1:5001", "127.0.60.9:5001", "[::1]:5001", "localhost:5001"} {
		cfg, err := guard("", hp, dir)
		if err != nil || cfg.Token != "" {
			t.Errorf("%s: token %q, err %v; want none on loopback", hp, cfg.Token, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, TokenFile)); err == nil {
		t.Fatal("a token file was written for a loopback API")
	}
	var first string
	for _, hp := range []string{"0.0.0.0:5001", ":5001", "192.0.2.10:5001", "[::]:5001", "node.example.org:5001"} {
		cfg, err := guard("", hp, dir)
		if err != nil || len(cfg.Token) != 64 {
			t.Fatalf("%s: token %q, err %v; want a generated one", hp, cfg.Token, err)
		}
		if first == "" {
			first = cfg.Token
		} else if cfg.Token != first {
			t.Fatalf("%s: a new token %q, want the stored %q", hp, cfg.Token, first)
		}
		if len(cfg.AllowedHosts) != 1 || cfg.AllowedHosts[0] != "tracker.example.org" {
			t.Errorf("allowed hosts %v", cfg.AllowedHosts)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v", err, fi.Mode())
	}
	if cfg, err := guard("given", "0.0.0.0:5001", dir); err != nil || cfg.Token != "given" {
		t.Fatalf("--api-token: %q %v", cfg.Token, err)
	}
	if _, err := guard("", "0.0.0.0:5001", ""); err == nil {
		t.Fatal("no data dir and no token beyond loopback: no error")
	}
}
