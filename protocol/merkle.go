package protocol

import (
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// An announcement's signature covers the RFC 6962 (Certificate
// Transparency) Merkle tree hash of its CIDs, leaf i being the binary form
// of CID i. One signature then covers a whole batch, and a single CID is
// proven part of it by an inclusion proof of ⌈log2 n⌉ hashes: what replicas
// store per CID and what lookup answers carry to the asking leaf.

var hasher = rfc6962.DefaultHasher

// CIDTree is the Merkle tree over an announcement's CIDs, kept whole so
// that the inclusion proof of any CID can be read off it.
type CIDTree struct {
	size  uint64
	root  []byte
	nodes map[compact.NodeID][]byte
}

// NewCIDTree builds the tree over cids (in order).
func NewCIDTree(cids []cid.Cid) *CIDTree {
	t := &CIDTree{size: uint64(len(cids)), nodes: make(map[compact.NodeID][]byte, 2*len(cids))}
	visit := func(id compact.NodeID, h []byte) { t.nodes[id] = h }
	rf := compact.RangeFactory{Hash: hasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for i, c := range cids {
		h := hasher.HashLeaf(c.Bytes())
		t.nodes[compact.NewNodeID(0, uint64(i))] = h
		// Append cannot fail on a range that starts at 0 and grows by one.
		_ = r.Append(h, visit)
	}
	if len(cids) == 0 {
		t.root = hasher.EmptyRoot()
		return t
	}
	root, _ := r.GetRootHash(visit)
	t.root = root
	return t
}

// Root is the tree hash the announcement signs.
func (t *CIDTree) Root() []byte { return t.root }

// Size is the number of CIDs.
func (t *CIDTree) Size() int { return int(t.size) }

// Proof returns the inclusion proof of CID i.
func (t *CIDTree) Proof(i int) ([][]byte, error) {
	if i < 0 || uint64(i) >= t.size {
		return nil, fmt.Errorf("%w: proof index %d of %d", ErrMalformed, i, t.size)
	}
	ns, err := proof.Inclusion(uint64(i), t.size)
	if err != nil {
		return nil, fmt.Errorf("protocol: inclusion proof: %w", err)
	}
	hashes := make([][]byte, len(ns.IDs))
	for j, id := range ns.IDs {
		h, ok := t.nodes[id]
		if !ok {
			return nil, fmt.Errorf("protocol: inclusion proof: node %+v missing", id)
		}
		hashes[j] = h
	}
	return ns.Rehash(hashes, hasher.HashChildren)
}

// VerifyCIDProof checks that c is CID number index of size under root.
func VerifyCIDProof(root []byte, size, index int, c cid.Cid, p [][]byte) error {
	if size <= 0 || index < 0 || index >= size {
		return fmt.Errorf("%w: CID index %d of %d", ErrMalformed, index, size)
	}
	if err := proof.VerifyInclusion(hasher, uint64(index), uint64(size), hasher.HashLeaf(c.Bytes()), p, root); err != nil {
		return fmt.Errorf("%w: %s is not CID %d of the announcement: %v", ErrBadProof, c, index, err)
	}
	return nil
}

// MaxProofLen bounds an inclusion proof: ⌈log2 n⌉ hashes for n CIDs.
func (l Limits) MaxProofLen() int {
	n := 0
	for 1<<n < l.MaxCIDsPerAnnouncement {
		n++
	}
	return n
}
