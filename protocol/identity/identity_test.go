package identity_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol/identity"
)

func TestLoadCreatesThenKeeps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := identity.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := identity.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	id1, _ := peer.IDFromPrivateKey(k1)
	id2, _ := peer.IDFromPrivateKey(k2)
	if id1 != id2 {
		t.Fatalf("second load gave %s, first %s", id2, id1)
	}
	if err := os.WriteFile(filepath.Join(dir, identity.File), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := identity.Load(dir); err == nil {
		t.Fatal("a garbage key file loaded")
	}
}
