package supernode_test

import (
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/supertracker/supertracker/testnet/inproc"
)

// BenchmarkAnnounce measures announcements through one leaf into 8
// supernodes (r = 8): per op, one signed batch of `size` CIDs stored on
// every CID's replicas and counted from receipts.
func BenchmarkAnnounce(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("cids=%d", size), func(b *testing.B) {
			cfg := inproc.SupernodeConfig()
			cfg.ReplicationFactor = 8
			cfg.MaxRecordsPerLeaf = 1 << 30
			sns := inproc.StartSupernodes(b, 8, cfg)
			l := inproc.StartLeaf(b, inproc.LeafConfig(inproc.Infos(sns)[:1]))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				batch := make([]cid.Cid, size)
				for j := range batch {
					batch[j] = inproc.CID(b, fmt.Sprint(size, "/", i, "/", j))
				}
				if _, err := l.Announce(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkLookup measures one leaf's lookups of a CID with one holder.
func BenchmarkLookup(b *testing.B) {
	cfg := inproc.SupernodeConfig()
	cfg.RequestsPerSecond, cfg.RequestBurst = 1e6, 1e6
	sns := inproc.StartSupernodes(b, 8, cfg)
	all := inproc.Infos(sns)
	a := inproc.StartLeaf(b, inproc.LeafConfig(all[:1]))
	l := inproc.StartLeaf(b, inproc.LeafConfig(all[4:5]))
	c := inproc.CID(b, "looked up")
	if _, err := a.Announce(b.Context(), []cid.Cid{c}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := l.Lookup(b.Context(), c, 0)
		if err != nil || len(got) != 1 {
			b.Fatal(got, err)
		}
	}
}
