package leaf

import (
	"context"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/supertracker/supertracker/protocol/pb"
)

// LocalOverlay is what a leaf agent uses instead of a remote primary while
// its process is itself a supernode (after a promotion): the local
// supernode verifies and replicates the agent's signed announcements and
// answers its lookups. supernode.Node implements it.
//
// Both routes answer in wire form, and the agent checks the answers the
// same way: replicas are counted from signed receipts, holders from signed
// announcements with inclusion proofs (verify.go).
type LocalOverlay interface {
	AnnounceSelf(ctx context.Context, envelope []byte, cids [][]byte) (*pb.AnnounceResponse, error)
	LookupHolders(ctx context.Context, key []byte, limit int) ([]*pb.Holder, error)
	// RecordTTL is how long records live there without a refresh.
	RecordTTL() time.Duration
}

// route is where requests go: a remote supernode (*session) or the local
// supernode.
type route interface {
	announce(ctx context.Context, envelope []byte, cids [][]byte) (*pb.AnnounceResponse, error)
	lookup(ctx context.Context, c cid.Cid, limit int) ([]*pb.Holder, error)
}

type localRoute struct{ o LocalOverlay }

func (l localRoute) announce(ctx context.Context, env []byte, cids [][]byte) (*pb.AnnounceResponse, error) {
	return l.o.AnnounceSelf(ctx, env, cids)
}

func (l localRoute) lookup(ctx context.Context, c cid.Cid, limit int) ([]*pb.Holder, error) {
	return l.o.LookupHolders(ctx, c.Hash(), limit)
}

// SetLocal makes the agent send its announcements and lookups to o, the
// supernode running in this process, and detach from remote supernodes;
// SetLocal(nil) makes it attach to remote supernodes again. The announced
// set is re-announced through the new route at once, so records stay
// findable across the role change.
func (a *Agent) SetLocal(o LocalOverlay) {
	a.mu.Lock()
	a.local = o
	if o != nil {
		a.ttl = o.RecordTTL()
	}
	var old []*session
	if o != nil {
		old = a.attachedLocked()
		a.primary, a.backups = nil, nil
	}
	a.newRouteLocked() // refresh through the new route now
	a.changedLocked()
	a.mu.Unlock()
	a.detachAll(old)
	a.poke()
}

// Local reports whether the agent routes through a local supernode.
func (a *Agent) Local() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.local != nil
}
