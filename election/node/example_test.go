package node_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/election/node"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
)

// A supernode and a leaf in one program, each with its data dir (identity,
// the supernode's records and peerstore in a LevelDB datastore) and its API
// with /metrics: the leaf announces an object, the supernode restarts and
// still serves the record, and its /metrics counts it.
func Example() {
	ctx, dir := context.Background(), must(os.MkdirTemp("", "supertracker-example"))
	defer os.RemoveAll(dir)
	listen := []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}
	snCfg := node.Config{Role: node.RoleSupernode, DataDir: filepath.Join(dir, "sn"), Listen: listen,
		API: "127.0.0.1:0", Supernode: supernode.LocalConfig()}
	sn := must(node.Start(ctx, snCfg))
	lc := leaf.DefaultConfig()
	lc.Supernodes, lc.DataDir = []peer.AddrInfo{*host.InfoFromHost(sn.Host())}, filepath.Join(dir, "leaf")
	lf := must(node.Start(ctx, node.Config{Role: node.RoleLeaf, DataDir: lc.DataDir, Listen: listen, Leaf: lc}))
	obj := cid.NewCidV1(cid.Raw, must(mh.Sum([]byte("hello"), mh.SHA2_256, -1)))
	res := must(lf.Agent().Announce(ctx, []cid.Cid{obj}))
	lf.Close()
	sn.Close()

	sn = must(node.Start(ctx, snCfg)) // the same data dir: the same identity and records
	defer sn.Close()
	holders := must(sn.Supernode().Lookup(ctx, obj, 0))
	resp := must(http.Get("http://" + sn.APIAddr() + "/metrics"))
	metrics := string(must(io.ReadAll(resp.Body)))
	resp.Body.Close()
	fmt.Println(res.Replicas, len(holders), holders[0].ID == lf.Host().ID(), strings.Contains(metrics, "\nsupertracker_records 1\n"))
	// Output: 1 1 true true
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
