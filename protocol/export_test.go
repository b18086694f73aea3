package protocol

import (
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/record"
)

// SealUncheckedForTest seals without SignAnnouncement's signer check.
func SealUncheckedForTest(a *Announcement, k crypto.PrivKey) ([]byte, error) {
	env, err := record.Seal(a, k)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}
