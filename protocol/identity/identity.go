// Package identity keeps a node's libp2p private key in its data directory:
// the key behind its peer ID, and so behind every announcement it signs.
package identity

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// File is the key's file name in a data directory.
const File = "identity.key"

// Load reads the key from dir/File, creating dir and an Ed25519 key on
// first use (written to a temporary file, then renamed, so a crash never
// leaves half a key).
func Load(dir string) (crypto.PrivKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, File)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		raw, err := crypto.MarshalPrivateKey(k)
		if err != nil {
			return nil, err
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, raw, 0o600); err != nil {
			return nil, fmt.Errorf("writing identity: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, fmt.Errorf("writing identity: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading identity: %w", err)
	}
	k, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s is not a libp2p private key: %w", path, err)
	}
	return k, nil
}
